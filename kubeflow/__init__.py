"""Kubeflow Pipelines: compile the pipeline to a KFP v2 package, the KFP API client, image and
manifests."""
