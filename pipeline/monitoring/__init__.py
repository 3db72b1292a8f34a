"""Monitoring: a run read back, the metrics history, alerts, export formats, the HTML report."""
