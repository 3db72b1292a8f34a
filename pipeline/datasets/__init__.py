"""Datasets: the embedded funnel and text generators, the text example format, public-format loaders."""
