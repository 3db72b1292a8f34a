"""Custom TFX components (spec, component, executor)."""
