"""Evaluation: the TFMA EvalConfig, per-task and per-slice gates, custom TFMA metrics."""
