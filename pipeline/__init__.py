"""The TFX pipeline: configuration, wiring, runners and the CLI."""
