"""Runs: the local runner, the retraining schedule and the one-run-per-home lock."""
