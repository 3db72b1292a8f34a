"""Every task's metrics across runs: one row per pipeline run and task, alerts, exports.

`collect(config)` walks every `pipeline_run` context of the home's ML Metadata (oldest first),
reads each run back with `summary.summarize_run` (the Evaluator's TFMA output, the blessing,
the push) and adds what a trend needs: the run's start time, the data spans its `Examples`
artifact carries, the pushed model version, the gate bound the Evaluator actually used (from
the run's EvalConfig, so a run gated with a lowered bound is drawn with that bound) and the
Trainer's `ModelRun` folder (TensorBoard logs and `history.json`).

`check(rows, ...)` turns the latest run into alerts: a task whose gating metric is on the wrong
side of its bound (AUC below, RMSE above), or that got worse than the previous run by more than
an allowed drop (by default the task's `max_change`, the gate's own tolerance).

Formats: an aligned text table, JSON, CSV and the Prometheus text exposition format (gauges
labelled by run, task and metric; https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import os

from models.features import ALL_TASKS, Task
from pipeline.config import PipelineConfig

# TFMA metric names as read by `summary.read_metrics`, and the short names used in the exports.
METRIC_NAMES: dict[str, str] = {
    "auc": "auc",
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
    "example_count": "examples",
    "weighted_example_count": "observed",
    "accuracy": "accuracy",
}
# A multiclass task's top-k accuracy (models.features.Task.top_k_metric) keeps its name.
METRIC_NAMES.update({t.top_k_metric: t.top_k_metric for t in ALL_TASKS if t.kind == "multiclass"})
QUALITY_METRICS = ("auc", "root_mean_squared_error", "mean_absolute_error", "accuracy")


@dataclasses.dataclass
class TaskRow:
    """One task's evaluation in one pipeline run."""

    run_id: str
    run_time: dt.datetime
    spans: tuple[int, ...]
    task: Task
    candidate: dict[str, float]
    baseline: dict[str, float]
    by_slice: dict[str, dict[str, float]]
    threshold: float
    blessed: bool | None
    pushed_version: str | None
    model_run_uri: str | None

    @property
    def metric(self) -> str:
        """The gating metric's TFMA name (auc or root_mean_squared_error)."""
        return self.task.metric

    @property
    def value(self) -> float | None:
        """The candidate's gating metric (None when the Evaluator did not run)."""
        return self.candidate.get(self.metric)

    @property
    def baseline_value(self) -> float | None:
        return self.baseline.get(self.metric)

    @property
    def examples(self) -> float | None:
        return self.candidate.get("example_count")

    @property
    def observed(self) -> float | None:
        return self.candidate.get("weighted_example_count")

    @property
    def coverage(self) -> float | None:
        """Fraction of evaluated rows whose label was observed."""
        if not self.examples or self.observed is None:
            return None
        return self.observed / self.examples

    def flat(self) -> dict[str, object]:
        """The row as flat columns (table, CSV and JSON use these)."""
        def pick(name: str) -> float | None:
            return self.candidate.get(name)

        return {
            "run_id": self.run_id,
            "run_time": self.run_time.isoformat(timespec="seconds"),
            "spans": ",".join(str(s) for s in self.spans),
            "task": self.task.name,
            "auc": pick("auc"),
            "rmse": pick("root_mean_squared_error"),
            "mae": pick("mean_absolute_error"),
            "accuracy": pick("accuracy"),
            "examples": pick("example_count"),
            "observed": pick("weighted_example_count"),
            "coverage": self.coverage,
            "gate_metric": METRIC_NAMES[self.metric],
            "candidate": self.value,
            "baseline": self.baseline_value,
            "threshold": self.threshold,
            "blessed": self.blessed,
            "pushed_version": self.pushed_version,
        }


COLUMNS: tuple[str, ...] = (
    "run_id", "run_time", "spans", "task", "auc", "rmse", "mae", "accuracy", "examples", "observed",
    "coverage", "gate_metric", "candidate", "baseline", "threshold", "blessed", "pushed_version",
)


@dataclasses.dataclass
class Alert:
    task: str
    run_id: str
    message: str

    def __str__(self) -> str:
        return f"ALERT task {self.task!r} (run {self.run_id}): {self.message}"


class NoRunsError(LookupError):
    """The home has no ML Metadata or no pipeline run recorded in it."""


# --- reading ML Metadata --------------------------------------------------------------------

def _open_store(config: PipelineConfig):
    from pipeline import summary

    if not config.metadata_path.exists():
        raise NoRunsError(f"no ML Metadata at {config.metadata_path}: no pipeline has run in "
                          f"{config.home} yet (run `mtl run --root {config.root}`)")
    return summary._store(config)


def _property(node, name: str):
    """An MLMD artifact's or execution's property `name` (TFX stores most as custom ones)."""
    if name in node.properties:
        return node.properties[name]
    if name in node.custom_properties:
        return node.custom_properties[name]
    return None


def _run_artifacts(store, run_context) -> list[tuple[str, object]]:
    """(artifact type name, artifact) for every output of every execution of a run."""
    types = {t.id: t.name for t in store.get_artifact_types()}
    executions = store.get_executions_by_context(run_context.id)
    if not executions:
        return []
    events = store.get_events_by_execution_ids([e.id for e in executions])
    ids = sorted({e.artifact_id for e in events if e.type == e.OUTPUT})
    return [(types[a.type_id], a) for a in store.get_artifacts_by_id(ids)] if ids else []


def _gate_bounds(store, run_context) -> dict[str, float]:
    """{task: bound} of the overall-slice value thresholds the run's Evaluator gated with."""
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2

    types = {t.id: t.name for t in store.get_execution_types()}
    bounds: dict[str, float] = {}
    for execution in store.get_executions_by_context(run_context.id):
        if types.get(execution.type_id, "").split(".")[-1] != "Evaluator":
            continue
        prop = _property(execution, "eval_config")
        if prop is None or not prop.string_value:
            continue
        eval_config = json_format.Parse(prop.string_value, config_pb2.EvalConfig(),
                                        ignore_unknown_fields=True)
        for spec in eval_config.metrics_specs:
            for metric in spec.metrics:
                for per_slice in metric.per_slice_thresholds:
                    value = per_slice.threshold.value_threshold
                    for output in spec.output_names:
                        if value.HasField("lower_bound"):
                            bounds[output] = value.lower_bound.value
                        elif value.HasField("upper_bound"):
                            bounds[output] = value.upper_bound.value
    return bounds


def collect(config: PipelineConfig) -> list[TaskRow]:
    """One row per pipeline run and task, oldest run first.

    Raises NoRunsError when the home has no metadata or no run. A run whose Evaluator did not
    run (a failed run) still gives one row per task, with empty metrics.
    """
    from pipeline import summary as summary_lib

    store = _open_store(config)
    runs = sorted(store.get_contexts_by_type("pipeline_run"),
                  key=lambda c: (c.create_time_since_epoch, c.id))
    if not runs:
        raise NoRunsError(f"no pipeline run recorded in {config.metadata_path}")
    tasks = config.tasks()
    names = {t.name for t in tasks}
    rows: list[TaskRow] = []
    for run in runs:
        summary = summary_lib.summarize_run(config, store, run)
        spans: set[int] = set()
        model_run_uri = None
        for type_name, artifact in _run_artifacts(store, run):
            span = _property(artifact, "span")
            if type_name == "Examples" and span is not None:
                spans.add(int(span.int_value))
            elif type_name == "ModelRun":
                model_run_uri = artifact.uri
        bounds = _gate_bounds(store, run)
        version = os.path.basename(summary.pushed_path.rstrip("/")) if summary.pushed_path else None
        run_time = dt.datetime.fromtimestamp(run.create_time_since_epoch / 1e3, tz=dt.timezone.utc)
        by_task = {tm.task.name: tm for tm in summary.tasks}
        # Optional tasks appear from the first run that trained them.
        run_tasks = tasks + tuple(tm.task for tm in summary.tasks if tm.task.name not in names)
        for task in run_tasks:
            tm = by_task.get(task.name)
            rows.append(TaskRow(
                run_id=run.name,
                run_time=run_time,
                spans=tuple(sorted(spans)),
                task=task,
                candidate=dict(tm.candidate) if tm else {},
                baseline=dict(tm.baseline) if tm else {},
                by_slice=dict(tm.by_slice) if tm else {},
                threshold=bounds.get(task.name, task.threshold),
                blessed=summary.blessed,
                pushed_version=version,
                model_run_uri=model_run_uri,
            ))
    return rows


def read_history(model_run_uri: str | None) -> dict[str, list[float]]:
    """The Trainer's per-epoch Keras history (`history.json` in its ModelRun folder), or {}."""
    if not model_run_uri:
        return {}
    path = os.path.join(model_run_uri, "history.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        history = json.load(f)
    if not isinstance(history, dict):
        raise ValueError(f"{path}: expected a JSON object of metric name -> list of values")
    return history


# --- alerts ---------------------------------------------------------------------------------

def worse_by(task: Task, previous: float, current: float) -> float:
    """How much worse `current` is than `previous` in the metric's units (negative: better)."""
    return previous - current if task.higher_is_better else current - previous


def check(rows: list[TaskRow], max_drops: dict[str, float] | None = None,
          thresholds: dict[str, float] | None = None) -> list[Alert]:
    """Alerts for the latest run: a gate metric past its bound or worse than the previous run.

    `thresholds` overrides the bound recorded for the run ({task: value}); `max_drops` the
    largest tolerated degradation against the previous run that evaluated the task (default:
    the task's `max_change`). A latest run without metrics (its Evaluator did not run) alerts
    too: nothing vouches for the model's quality.
    """
    max_drops = max_drops or {}
    thresholds = thresholds or {}
    if not rows:
        return []
    latest_run = rows[-1].run_id
    alerts: list[Alert] = []
    for row in (r for r in rows if r.run_id == latest_run):
        task = row.task
        if row.value is None:
            alerts.append(Alert(task.name, latest_run,
                                f"no {task.metric} in the latest run (its Evaluator did not run)"))
            continue
        bound = thresholds.get(task.name, row.threshold)
        if task.higher_is_better and row.value < bound:
            alerts.append(Alert(task.name, latest_run,
                                f"{task.metric} {row.value:.4f} below its threshold {bound:g}"))
        elif not task.higher_is_better and row.value > bound:
            alerts.append(Alert(task.name, latest_run,
                                f"{task.metric} {row.value:.4f} above its threshold {bound:g}"))
        previous = [r for r in rows if r.task.name == task.name and r.run_id != latest_run
                    and r.value is not None]
        if previous:
            prev = previous[-1]
            allowed = max_drops.get(task.name, task.max_change)
            drop = worse_by(task, prev.value, row.value)
            if drop > allowed:
                direction = "dropped" if task.higher_is_better else "rose"
                alerts.append(Alert(
                    task.name, latest_run,
                    f"{task.metric} {direction} from {prev.value:.4f} (run {prev.run_id}) to "
                    f"{row.value:.4f}: worse by {drop:.4f}, more than the allowed {allowed:g}"))
    return alerts


# --- formats --------------------------------------------------------------------------------

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
    header = ("run_id", "run_time", "spans", "task", "auc", "rmse", "mae", "accuracy",
              "examples", "observed", "coverage", "baseline", "threshold", "blessed", "pushed")
    lines = [header]
    for row in rows:
        flat = row.flat()
        lines.append(tuple(_cell(v) for v in (
            flat["run_id"], flat["run_time"], flat["spans"] or "-", flat["task"], flat["auc"],
            flat["rmse"], flat["mae"], flat["accuracy"], flat["examples"], flat["observed"],
            flat["coverage"],
            flat["baseline"], flat["threshold"], flat["blessed"], flat["pushed_version"])))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
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
        flat = row.flat()
        writer.writerow({k: "" if v is None else v for k, v in flat.items()})
    return buf.getvalue()


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


PROM_METRICS = {
    "mtl_task_metric": "A task's evaluation metric on the overall eval slice, per run "
                       "(model=candidate|baseline).",
    "mtl_task_slice_metric": "A task's candidate metric on one slice of the eval split, per run.",
    "mtl_task_threshold": "The bound the run's Evaluator gated the task's metric with.",
    "mtl_run_blessed": "1 when the run's model was blessed by the Evaluator, else 0.",
    "mtl_run_start_time_seconds": "Start time of the pipeline run (Unix seconds).",
    "mtl_run_pushed_version": "Version (folder name) of the model the run pushed.",
    "mtl_latest_task_metric": "A task's candidate metric in the latest run that evaluated it.",
}


def format_prometheus(rows: list[TaskRow]) -> str:
    """Gauges in the Prometheus text exposition format (version 0.0.4).

    Every run is exported with a `run` label (history for a one-shot collection such as the
    node exporter's textfile collector); `mtl_latest_task_metric` keeps stable series labelled
    only by task and metric, which is what alerting rules want.
    """
    samples: dict[str, list[str]] = {name: [] for name in PROM_METRICS}

    def add(name: str, value: float, **labels: str) -> None:
        samples[name].append(f"{name}{_labels(**labels)} {_number(value)}")

    seen_runs: set[str] = set()
    latest: dict[tuple[str, str], float] = {}
    for row in rows:
        run, task = row.run_id, row.task.name
        for model, values in (("candidate", row.candidate), ("baseline", row.baseline)):
            for name, value in values.items():
                if name in METRIC_NAMES:
                    add("mtl_task_metric", value, run=run, task=task,
                        metric=METRIC_NAMES[name], model=model)
        if row.coverage is not None:
            add("mtl_task_metric", row.coverage, run=run, task=task, metric="coverage",
                model="candidate")
        for slice_name, values in sorted(row.by_slice.items()):
            for name, value in values.items():
                if name in METRIC_NAMES:
                    add("mtl_task_slice_metric", value, run=run, task=task, slice=slice_name,
                        metric=METRIC_NAMES[name])
        add("mtl_task_threshold", row.threshold, run=run, task=task,
            metric=METRIC_NAMES[row.metric])
        for name, value in row.candidate.items():
            if name in METRIC_NAMES:
                latest[(task, METRIC_NAMES[name])] = value
        if row.coverage is not None:
            latest[(task, "coverage")] = row.coverage
        if run not in seen_runs:
            seen_runs.add(run)
            add("mtl_run_start_time_seconds", row.run_time.timestamp(), run=run)
            if row.blessed is not None:
                add("mtl_run_blessed", 1.0 if row.blessed else 0.0, run=run)
            if row.pushed_version is not None and row.pushed_version.isdigit():
                add("mtl_run_pushed_version", float(row.pushed_version), run=run)
    for (task, metric), value in latest.items():
        add("mtl_latest_task_metric", value, task=task, metric=metric)
    lines = []
    for name, help_text in PROM_METRICS.items():
        if not samples[name]:
            continue
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(samples[name])
    return "\n".join(lines) + "\n" if lines else ""


FORMATS = {"table": format_table, "json": format_json, "csv": format_csv,
           "prometheus": format_prometheus}


def render(rows: list[TaskRow], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(FORMATS)}")
    return FORMATS[fmt](rows)


# --- the `mtl metrics` / `mtl report` commands ----------------------------------------------

def main(command: str, root: str, fmt: str = "table", check_alerts: bool = False,
         out: str | None = None, thresholds: dict[str, float] | None = None,
         max_drops: dict[str, float] | None = None) -> int:
    """What `mtl metrics` and `mtl report` do; returns the exit code.

    Exit codes: 0 fine; 1 `--check` raised an alert, or there is nothing to check or report
    (no run yet); 2 bad usage (no such home folder, unknown task). Listing a home without runs
    is not an error: the message goes to stderr and stdout carries an empty table (JSON `[]`,
    a CSV header, no Prometheus samples), so a scraper sees "no data" rather than a failure.
    """
    import logging
    import sys

    from models.features import task_by_name

    # Reading metadata imports TFMA and Beam, whose INFO chatter would bury the answer.
    logging.getLogger().setLevel(logging.WARNING)
    prog = f"mtl {command}"
    for flag, overrides in (("--threshold", thresholds), ("--max-drop", max_drops)):
        for name in overrides or {}:
            try:
                task_by_name(name, ALL_TASKS)
            except KeyError as e:
                print(f"{prog}: {flag}: {e.args[0]}", file=sys.stderr)
                return 2
    config = PipelineConfig(root=root)
    if not config.home.is_dir():
        print(f"{prog}: no home folder at {config.home}", file=sys.stderr)
        return 2
    try:
        rows = collect(config)
    except NoRunsError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        rows = []
    if command == "report":
        if not rows:
            print(f"{prog}: nothing to report; no file written", file=sys.stderr)
            return 1
        from pipeline import report

        alerts = check(rows, max_drops, thresholds)
        path = report.write_report(rows, alerts, str(config.home), out or "report.html")
        runs = len({r.run_id for r in rows})
        print(f"wrote {path} ({runs} runs, {len(alerts)} alerts)")
        return 0
    if command != "metrics":
        raise ValueError(f"unknown command {command!r}")
    text = render(rows, fmt)
    if text:
        print(text, end="" if text.endswith("\n") else "\n")
    if not check_alerts:
        return 0
    if not rows:
        print(f"{prog} --check: no run to check", file=sys.stderr)
        return 1
    alerts = check(rows, max_drops, thresholds)
    for alert in alerts:
        print(alert, file=sys.stderr)
    if not alerts:
        print(f"{prog} --check: ok: every task of run {rows[-1].run_id} is within its threshold "
              "and its allowed drop", file=sys.stderr)
    return 1 if alerts else 0
