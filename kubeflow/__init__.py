"""Kubeflow Pipelines: compile the pipeline to a KFP v2 spec (runner.py), image and manifests."""
