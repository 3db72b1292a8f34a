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


def test_naive_columns_in_the_gating_metric_units():
    # A binary task: a constant score's AUC 0.5, and 0.5 + the default margin 0.01.
    click = make_row(1, "click", 0.7).flat()
    assert (click["naive"], click["naive_bound"]) == (0.5, 0.51)
    # A regression task: the mean predictor's RMSE, and the ratio the run gated with.
    row = make_row(1, "watch_time", 40.0)
    assert row.flat()["naive"] is None and row.flat()["naive_bound"] is None  # not computed
    row.candidate["naive_rmse"] = 32.0
    assert row.flat()["naive"] == 32.0 and row.flat()["naive_bound"] == 0.95 * 32.0
    row.naive_threshold = 1.5
    assert row.flat()["naive_bound"] == 48.0
