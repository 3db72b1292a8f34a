"""`mtl metrics` formats: an aligned text table, JSON, CSV and the Prometheus text exposition
format (gauges labelled by run, task and metric, written by `prometheus_client`)."""

from __future__ import annotations

import csv
import io
import json

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from pipeline.monitoring.history import COLUMNS, METRIC_NAMES, TaskRow

# The table shows every column but the gate's metric name and value (the per-metric columns
# carry them); the last column is headed "pushed".
TABLE_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in ("gate_metric", "candidate"))
_TABLE_HEADERS = {"pushed_version": "pushed"}


def _cell(value: object, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 10:
            return f"{value:.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def format_table(rows: list[TaskRow]) -> str:
    """An aligned text table, one line per run and task ("" without rows)."""
    if not rows:
        return ""
    lines = [tuple(_TABLE_HEADERS.get(c, c) for c in TABLE_COLUMNS)]
    for row in rows:
        flat = row.flat()
        flat["spans"] = flat["spans"] or "-"
        lines.append(tuple(_cell(flat[c]) for c in TABLE_COLUMNS))
    widths = [max(len(line[i]) for line in lines) for i in range(len(TABLE_COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
                     for line in lines)


def format_json(rows: list[TaskRow]) -> str:
    """A JSON list of flat rows plus each row's per-slice metrics."""
    out = []
    for row in rows:
        flat = row.flat()
        flat["spans"] = list(row.spans)
        flat["by_slice"] = row.by_slice
        out.append(flat)
    return json.dumps(out, indent=2, sort_keys=False)


def format_csv(rows: list[TaskRow]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.flat().items()})
    return buf.getvalue()


# name -> (help text, label names)
PROM_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "mtl_task_metric": ("A task's evaluation metric on the overall eval slice, per run "
                        "(model=candidate|baseline).", ("run", "task", "metric", "model")),
    "mtl_task_slice_metric": ("A task's candidate metric on one slice of the eval split, per run.",
                              ("run", "task", "slice", "metric")),
    "mtl_task_threshold": ("The bound the run's Evaluator gated the task's metric with.",
                           ("run", "task", "metric")),
    "mtl_task_naive": ("The naive predictor's value of the task's gating metric on the same "
                       "observed labels (mean predictor's RMSE, 0.5 AUC, majority share).",
                       ("run", "task", "metric")),
    "mtl_task_naive_bound": ("The worst value of the task's gating metric the naive-baseline "
                             "gate allowed (e.g. 0.95 x the mean predictor's RMSE).",
                             ("run", "task", "metric")),
    "mtl_run_blessed": ("1 when the run's model was blessed by the Evaluator, else 0.", ("run",)),
    "mtl_run_start_time_seconds": ("Start time of the pipeline run (Unix seconds).", ("run",)),
    "mtl_run_pushed_version": ("Version (folder name) of the model the run pushed.", ("run",)),
    "mtl_latest_task_metric": ("A task's candidate metric in the latest run that evaluated it.",
                               ("task", "metric")),
}


class _RowsCollector:
    """A `prometheus_client` collector over `mtl metrics` rows (families without samples are
    left out, so a home without runs exports nothing)."""

    def __init__(self, rows: list[TaskRow]):
        self.rows = rows

    def collect(self):
        families = {name: GaugeMetricFamily(name, help_text, labels=labels)
                    for name, (help_text, labels) in PROM_METRICS.items()}
        counts = dict.fromkeys(families, 0)

        def add(name: str, value: float, *labels: str) -> None:
            families[name].add_metric(list(labels), float(value))
            counts[name] += 1

        seen_runs: set[str] = set()
        latest: dict[tuple[str, str], float] = {}
        for row in self.rows:
            run, task = row.run_id, row.task.name
            for model, values in (("candidate", row.candidate), ("baseline", row.baseline)):
                for name, value in values.items():
                    if name in METRIC_NAMES:
                        add("mtl_task_metric", value, run, task, METRIC_NAMES[name], model)
            if row.coverage is not None:
                add("mtl_task_metric", row.coverage, run, task, "coverage", "candidate")
            for slice_name, values in sorted(row.by_slice.items()):
                for name, value in values.items():
                    if name in METRIC_NAMES:
                        add("mtl_task_slice_metric", value, run, task, slice_name,
                            METRIC_NAMES[name])
            add("mtl_task_threshold", row.threshold, run, task, METRIC_NAMES[row.metric])
            if row.naive is not None:
                add("mtl_task_naive", row.naive, run, task, METRIC_NAMES[row.metric])
            if row.naive_bound is not None:
                add("mtl_task_naive_bound", row.naive_bound, run, task, METRIC_NAMES[row.metric])
            for name, value in row.candidate.items():
                if name in METRIC_NAMES:
                    latest[(task, METRIC_NAMES[name])] = value
            if row.coverage is not None:
                latest[(task, "coverage")] = row.coverage
            if run not in seen_runs:
                seen_runs.add(run)
                add("mtl_run_start_time_seconds", row.run_time.timestamp(), run)
                if row.blessed is not None:
                    add("mtl_run_blessed", 1.0 if row.blessed else 0.0, run)
                if row.pushed_version is not None and row.pushed_version.isdigit():
                    add("mtl_run_pushed_version", float(row.pushed_version), run)
        for (task, metric), value in latest.items():
            add("mtl_latest_task_metric", value, task, metric)
        for name, family in families.items():
            if counts[name]:
                yield family


def format_prometheus(rows: list[TaskRow]) -> str:
    """Gauges in the Prometheus text exposition format (version 0.0.4).

    Every run is exported with a `run` label (history for a one-shot collection such as the
    node exporter's textfile collector); `mtl_latest_task_metric` keeps stable series labelled
    only by task and metric, which is what alerting rules want.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RowsCollector(rows))
    return generate_latest(registry).decode("utf-8")


FORMATS = {"table": format_table, "json": format_json, "csv": format_csv,
           "prometheus": format_prometheus}


def render(rows: list[TaskRow], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(FORMATS)}")
    return FORMATS[fmt](rows)
