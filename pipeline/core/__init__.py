"""The foundation every sub-package may use: run configuration, home layout, ML Metadata reads."""
