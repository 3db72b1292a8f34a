"""The DAG: `create_pipeline(config)`, the one wiring point, and the code fingerprints."""
