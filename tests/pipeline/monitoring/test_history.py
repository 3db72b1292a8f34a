"""pipeline.monitoring.history: a row's flat columns and coverage."""

from __future__ import annotations

from pipeline.monitoring import history
from tests.support.monitoring_rows import make_row


def test_flat_row_columns_and_coverage():
    flat = make_row(1, "watch_time", 40.0, examples=400.0, observed=100.0, baseline=38.0).flat()
    assert tuple(flat) == history.COLUMNS
    assert flat["coverage"] == 0.25
    assert flat["rmse"] == 40.0 and flat["mae"] == 20.0 and flat["auc"] is None
    assert flat["gate_metric"] == "rmse" and flat["candidate"] == 40.0 and flat["baseline"] == 38.0
    assert flat["threshold"] == 60.0 and flat["spans"] == "1"
    assert flat["run_time"] == "2026-11-01T12:00:00+00:00"
