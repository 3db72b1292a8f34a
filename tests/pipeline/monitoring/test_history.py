"""Unit tests of pipeline.monitoring.history on hand-built rows: formats, Prometheus export, alerts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from models.features import task_by_name
from pipeline.monitoring import alerts as alerts_lib
from pipeline.monitoring import formats
from pipeline.monitoring import history as monitoring
from tests.support.monitoring_rows import make_row


def _history():
    return [
        make_row(1, "click", 0.70, observed=400.0, version="1700000001"),
        make_row(1, "watch_time", 40.0, version="1700000001"),
        make_row(2, "click", 0.71, observed=400.0, baseline=0.70, version="1700000002"),
        make_row(2, "watch_time", 41.0, baseline=40.0, version="1700000002"),
    ]


def test_flat_row_columns_and_coverage():
    flat = make_row(1, "watch_time", 40.0, examples=400.0, observed=100.0, baseline=38.0).flat()
    assert tuple(flat) == monitoring.COLUMNS
    assert flat["coverage"] == 0.25
    assert flat["rmse"] == 40.0 and flat["mae"] == 20.0 and flat["auc"] is None
    assert flat["gate_metric"] == "rmse" and flat["candidate"] == 40.0 and flat["baseline"] == 38.0
    assert flat["threshold"] == 60.0 and flat["spans"] == "1"
    assert flat["run_time"] == "2026-11-01T12:00:00+00:00"


def test_check_passes_when_within_bounds_and_drops():
    assert alerts_lib.check(_history()) == []


def test_check_names_a_task_below_its_threshold():
    # 0.69 is only 0.01 below the previous run, but under the bound this run gated with.
    rows = _history()[:2] + [make_row(2, "click", 0.69, threshold=0.695), make_row(2, "watch_time", 41.0)]
    alerts = alerts_lib.check(rows)
    assert [a.task for a in alerts] == ["click"]
    assert "auc 0.6900 below its threshold 0.695" in alerts[0].message
    assert "ALERT task 'click'" in str(alerts[0])


def test_check_rmse_above_threshold_and_override():
    rows = _history()[:2] + [make_row(2, "click", 0.70), make_row(2, "watch_time", 61.0)]
    alerts = alerts_lib.check(rows, max_drops={"watch_time": 100.0})
    assert [(a.task, "above its threshold 60" in a.message) for a in alerts] == [("watch_time", True)]
    # A bound given on the command line replaces the run's own.
    assert alerts_lib.check(rows, max_drops={"watch_time": 100.0},
                            thresholds={"watch_time": 62.0}) == []


def test_check_drop_against_previous_run():
    # click loses 0.03 (> its max_change 0.02); watch_time gains 4 s (<= its max_change 5).
    rows = _history()[:2] + [make_row(2, "click", 0.67), make_row(2, "watch_time", 44.0)]
    alerts = alerts_lib.check(rows)
    assert [a.task for a in alerts] == ["click"]
    assert "dropped from 0.7000" in alerts[0].message and "worse by 0.0300" in alerts[0].message
    assert alerts_lib.check(rows, max_drops={"click": 0.05}) == []
    # RMSE rising by 6 s is a drop in quality for watch_time.
    rows = _history()[:2] + [make_row(2, "click", 0.70), make_row(2, "watch_time", 46.0)]
    alerts = alerts_lib.check(rows)
    assert [a.task for a in alerts] == ["watch_time"] and "rose from 40.0000" in alerts[0].message


def test_check_latest_run_without_metrics_alerts():
    rows = _history()
    failed = make_row(3, "click", 0.7)
    failed.candidate = {}
    alerts = alerts_lib.check(rows + [failed])
    assert len(alerts) == 1 and alerts[0].task == "click" and "did not run" in alerts[0].message


def test_worse_by_signs():
    assert alerts_lib.worse_by(task_by_name("click"), 0.70, 0.65) == pytest.approx(0.05)
    assert alerts_lib.worse_by(task_by_name("watch_time"), 40.0, 45.0) == pytest.approx(5.0)
    assert alerts_lib.worse_by(task_by_name("watch_time"), 40.0, 35.0) == pytest.approx(-5.0)


def test_table_json_csv():
    rows = _history()
    table = formats.format_table(rows).splitlines()
    assert table[0].split() == ["run_id", "run_time", "spans", "task", "auc", "rmse", "mae",
                                "accuracy", "examples", "observed", "coverage", "baseline",
                                "threshold", "blessed", "pushed"]
    assert len(table) == 5
    assert table[3].split()[3:] == ["click", "0.7100", "-", "-", "-", "400", "400", "1.0000",
                                    "0.7000", "0.6500", "yes", "1700000002"]
    data = json.loads(formats.format_json(rows))
    assert [(d["task"], d["spans"], d["candidate"]) for d in data] == [
        ("click", [1], 0.70), ("watch_time", [1], 40.0), ("click", [2], 0.71),
        ("watch_time", [2], 41.0)]
    parsed = list(csv.DictReader(io.StringIO(formats.format_csv(rows))))
    assert parsed[3]["rmse"] == "41.0" and parsed[3]["auc"] == "" and parsed[3]["coverage"] == "0.25"
    assert formats.format_csv([]) == ",".join(monitoring.COLUMNS) + "\n"
    assert json.loads(formats.format_json([])) == []


def test_prometheus_exposition_parses_with_expected_samples():
    from prometheus_client.parser import text_string_to_metric_families

    rows = _history()
    rows[0].by_slice = {"device=ios": {"auc": 0.8}}
    rows[2].run_id = rows[3].run_id = 'weird "run"\\id'
    text = formats.format_prometheus(rows)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == set(formats.PROM_METRICS)
    assert all(f.type == "gauge" for f in families.values())
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}

    def get(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    run2 = 'weird "run"\\id'
    assert get("mtl_task_metric", run=run2, task="click", metric="auc", model="candidate") == 0.71
    assert get("mtl_task_metric", run=run2, task="click", metric="auc", model="baseline") == 0.70
    assert get("mtl_task_metric", run=run2, task="watch_time", metric="coverage",
               model="candidate") == 0.25
    assert get("mtl_task_metric", run=run2, task="watch_time", metric="mae",
               model="candidate") == 20.5
    assert get("mtl_task_slice_metric", run=rows[0].run_id, task="click", slice="device=ios",
               metric="auc") == 0.8
    assert get("mtl_task_threshold", run=run2, task="watch_time", metric="rmse") == 60.0
    assert get("mtl_latest_task_metric", task="click", metric="auc") == 0.71
    assert get("mtl_latest_task_metric", task="watch_time", metric="rmse") == 41.0
    assert get("mtl_run_blessed", run=run2) == 1.0
    assert get("mtl_run_pushed_version", run=run2) == 1700000002.0
    assert get("mtl_run_start_time_seconds", run=rows[0].run_id) == dt.datetime(
        2026, 11, 1, 12, tzinfo=dt.timezone.utc).timestamp()
    # 2 runs x (click: 3 metrics + coverage; watch_time: 4 + coverage) candidates + 2 baselines.
    assert len(families["mtl_task_metric"].samples) == 2 * (4 + 5) + 2
    assert formats.format_prometheus([]) == ""


def test_prometheus_exact_text_for_one_row():
    # Written by prometheus_client: labels sorted by name, floats in Go's shortest form.
    row = make_row(1, "click", 0.75, examples=10.0, observed=10.0, blessed=False)
    assert formats.format_prometheus([row]).splitlines() == [
        "# HELP mtl_task_metric " + formats.PROM_METRICS["mtl_task_metric"][0],
        "# TYPE mtl_task_metric gauge",
        'mtl_task_metric{metric="auc",model="candidate",run="2026-11-01T00:00:00",task="click"} 0.75',
        'mtl_task_metric{metric="examples",model="candidate",run="2026-11-01T00:00:00",task="click"} 10.0',
        'mtl_task_metric{metric="observed",model="candidate",run="2026-11-01T00:00:00",task="click"} 10.0',
        'mtl_task_metric{metric="coverage",model="candidate",run="2026-11-01T00:00:00",task="click"} 1.0',
        "# HELP mtl_task_threshold " + formats.PROM_METRICS["mtl_task_threshold"][0],
        "# TYPE mtl_task_threshold gauge",
        'mtl_task_threshold{metric="auc",run="2026-11-01T00:00:00",task="click"} 0.65',
        "# HELP mtl_run_blessed " + formats.PROM_METRICS["mtl_run_blessed"][0],
        "# TYPE mtl_run_blessed gauge",
        'mtl_run_blessed{run="2026-11-01T00:00:00"} 0.0',
        "# HELP mtl_run_start_time_seconds " + formats.PROM_METRICS["mtl_run_start_time_seconds"][0],
        "# TYPE mtl_run_start_time_seconds gauge",
        'mtl_run_start_time_seconds{run="2026-11-01T00:00:00"} 1.7935344e+09',
        "# HELP mtl_latest_task_metric " + formats.PROM_METRICS["mtl_latest_task_metric"][0],
        "# TYPE mtl_latest_task_metric gauge",
        'mtl_latest_task_metric{metric="auc",task="click"} 0.75',
        'mtl_latest_task_metric{metric="examples",task="click"} 10.0',
        'mtl_latest_task_metric{metric="observed",task="click"} 10.0',
        'mtl_latest_task_metric{metric="coverage",task="click"} 1.0',
    ]


def test_cli_on_a_home_without_runs(tmp_path, capsys):
    from pipeline.cli.main import main

    assert main(["metrics", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no ML Metadata" in captured.err and str(tmp_path) in captured.err
    assert main(["metrics", "--root", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["metrics", "--root", str(tmp_path), "--check"]) == 1
    assert "no run to check" in capsys.readouterr().err
    out = tmp_path / "r.html"
    assert main(["report", "--root", str(tmp_path), "--out", str(out)]) == 1
    assert "nothing to report" in capsys.readouterr().err and not out.exists()
    assert main(["metrics", "--root", str(tmp_path / "missing")]) == 2
    assert "no home folder" in capsys.readouterr().err
    assert main(["metrics", "--root", str(tmp_path), "--max-drop", "nope=1"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
