"""Serving: model versions and labels, prediction clients, a local TF Serving stand-in."""
