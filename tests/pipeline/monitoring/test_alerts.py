"""pipeline.monitoring.alerts on hand-built rows: bounds, drops, a run without metrics."""

from __future__ import annotations

import pytest

from pipeline.monitoring import alerts as alerts_lib
from tests.support.default_problem import task_by_name
from tests.support.monitoring_rows import make_row, two_runs


def test_check_passes_when_within_bounds_and_drops():
    assert alerts_lib.check(two_runs()) == []


def test_check_names_a_task_below_its_threshold():
    # 0.69 is only 0.01 below the previous run, but under the bound this run gated with.
    rows = two_runs()[:2] + [make_row(2, "click", 0.69, threshold=0.695), make_row(2, "watch_time", 41.0)]
    alerts = alerts_lib.check(rows)
    assert [a.task for a in alerts] == ["click"]
    assert "auc 0.6900 below its threshold 0.695" in alerts[0].message
    assert "ALERT task 'click'" in str(alerts[0])


def test_check_rmse_above_threshold_and_override():
    rows = two_runs()[:2] + [make_row(2, "click", 0.70), make_row(2, "watch_time", 61.0)]
    alerts = alerts_lib.check(rows, max_drops={"watch_time": 100.0})
    assert [(a.task, "above its threshold 60" in a.message) for a in alerts] == [("watch_time", True)]
    # A bound given on the command line replaces the run's own.
    assert alerts_lib.check(rows, max_drops={"watch_time": 100.0},
                            thresholds={"watch_time": 62.0}) == []


def test_check_drop_against_previous_run():
    # click loses 0.03 (> its max_change 0.02); watch_time gains 4 s (<= its max_change 5).
    rows = two_runs()[:2] + [make_row(2, "click", 0.67), make_row(2, "watch_time", 44.0)]
    alerts = alerts_lib.check(rows)
    assert [a.task for a in alerts] == ["click"]
    assert "dropped from 0.7000" in alerts[0].message and "worse by 0.0300" in alerts[0].message
    assert alerts_lib.check(rows, max_drops={"click": 0.05}) == []
    # RMSE rising by 6 s is a drop in quality for watch_time.
    rows = two_runs()[:2] + [make_row(2, "click", 0.70), make_row(2, "watch_time", 46.0)]
    alerts = alerts_lib.check(rows)
    assert [a.task for a in alerts] == ["watch_time"] and "rose from 40.0000" in alerts[0].message


def test_check_latest_run_without_metrics_alerts():
    rows = two_runs()
    failed = make_row(3, "click", 0.7)
    failed.candidate = {}
    alerts = alerts_lib.check(rows + [failed])
    assert len(alerts) == 1 and alerts[0].task == "click" and "did not run" in alerts[0].message


def test_worse_by_signs():
    assert alerts_lib.worse_by(task_by_name("click"), 0.70, 0.65) == pytest.approx(0.05)
    assert alerts_lib.worse_by(task_by_name("watch_time"), 40.0, 45.0) == pytest.approx(5.0)
    assert alerts_lib.worse_by(task_by_name("watch_time"), 40.0, 35.0) == pytest.approx(-5.0)
