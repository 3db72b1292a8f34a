"""Speed benchmarks; each script prints one JSON line of figures (see README, "Benchmarks")."""
