"""Data: the embedded generator, the span layout and window, the pre-flight check, the schema."""
