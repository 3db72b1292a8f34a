"""Data: the span layout and rolling window, the pre-flight check, the schema, statistics, spec drafts."""
