"""pipeline.monitoring.formats on hand-built rows: table, JSON, CSV, Prometheus."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from pipeline.monitoring import formats
from pipeline.monitoring import history as monitoring
from tests.support.monitoring_rows import make_row, two_runs


def test_table_json_csv():
    rows = two_runs()
    table = formats.format_table(rows).splitlines()
    assert table[0].split() == ["run_id", "run_time", "spans", "task", "auc", "rmse", "mae",
                                "accuracy", "examples", "observed", "coverage", "baseline",
                                "threshold", "naive", "naive_bound", "blessed", "pushed"]
    assert len(table) == 5
    assert table[3].split()[3:] == ["click", "0.7100", "-", "-", "-", "400", "400", "1.0000",
                                    "0.7000", "0.6500", "0.5000", "0.5100", "yes", "1700000002"]
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

    rows = two_runs()
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
        "# HELP mtl_task_naive " + formats.PROM_METRICS["mtl_task_naive"][0],
        "# TYPE mtl_task_naive gauge",
        'mtl_task_naive{metric="auc",run="2026-11-01T00:00:00",task="click"} 0.5',
        "# HELP mtl_task_naive_bound " + formats.PROM_METRICS["mtl_task_naive_bound"][0],
        "# TYPE mtl_task_naive_bound gauge",
        'mtl_task_naive_bound{metric="auc",run="2026-11-01T00:00:00",task="click"} 0.51',
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
