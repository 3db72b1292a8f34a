"""Every task's metrics across runs: one row per pipeline run and task.

`collect(config)` walks every `pipeline_run` context of the home's ML Metadata (oldest first),
reads each run back with `summary.summarize_run` (the Evaluator's TFMA output, the blessing,
the push) and adds what a trend needs: the run's start time, the data spans its `Examples`
artifact carries, the pushed model version, the gate bound the Evaluator actually used (from
the run's EvalConfig, so a run gated with a lowered bound is drawn with that bound), the naive
predictor's figure and the bound the naive-baseline gate set from it, and the
Trainer's `ModelRun` folder (TensorBoard logs and `history.json`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os

from models.spec import Task
from pipeline.core import metadata
from pipeline.core.config import PipelineConfig
from pipeline.core.metadata import NoRunsError
from pipeline.evaluation import gates as gates_lib
from pipeline.monitoring import summary as summary_lib

__all__ = ["COLUMNS", "METRIC_NAMES", "NoRunsError", "TaskRow", "collect", "read_history"]

# TFMA metric names as read by `summary.read_metrics`, and the short names used in the exports.
METRIC_NAMES: dict[str, str] = {
    "auc": "auc",
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
    "example_count": "examples",
    "weighted_example_count": "observed",
    "accuracy": "accuracy",
    # The naive-baseline gate (pipeline.evaluation.naive_metrics).
    "naive_rmse": "naive_rmse",
    "naive_rmse_ratio": "naive_rmse_ratio",
    "auc_over_chance": "auc_over_chance",
    "majority_share": "majority_share",
    "accuracy_over_majority": "accuracy_over_majority",
    "entity_f1": "entity_f1",
    "entity_precision": "entity_precision",
    "entity_recall": "entity_recall",
    "token_accuracy": "token_accuracy",
    "span_f1": "span_f1",
    "exact_match": "exact_match",
}


class _MetricNames(dict):
    """`METRIC_NAMES`, which also knows every multiclass task's top-k accuracy
    (`models.spec.Task.top_k_metric`, "top_<k>_accuracy"), under its own name."""

    @staticmethod
    def _top_k(name) -> bool:
        parts = str(name).split("_")
        return len(parts) == 3 and parts[0] == "top" and parts[1].isdigit() \
            and parts[2] == "accuracy"

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or self._top_k(name)

    def __missing__(self, name):
        if self._top_k(name):
            return name
        raise KeyError(name)

    def get(self, name, default=None):
        return self[name] if name in self else default


METRIC_NAMES = _MetricNames(METRIC_NAMES)
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
    # The naive-baseline gate's TFMA bound the run used (RMSE ratio or AUC / accuracy margin,
    # see pipeline.evaluation.gates); None: the default of the task's kind.
    naive_threshold: float | None = None

    @property
    def gate(self) -> gates_lib.TaskGate:
        """The task's default gate with the naive bound this run used."""
        gate = gates_lib.resolve((self.task,))[self.task.name]
        if self.naive_threshold is None:
            return gate
        field = "naive_ratio" if self.task.kind == "regression" else "naive_margin"
        return dataclasses.replace(gate, **{field: self.naive_threshold})

    @property
    def naive(self) -> float | None:
        """The naive predictor's gating-metric value on the same observed labels (naive RMSE,
        0.5 for AUC, the majority share for accuracy); None when not evaluated."""
        if self.value is None:
            return None
        return self.gate.naive_figure(self.candidate)

    @property
    def naive_bound(self) -> float | None:
        """The worst candidate value the naive-baseline gate allowed, in the metric's units."""
        return self.gate.naive_limit(self.naive)

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
            "gate_metric": METRIC_NAMES.get(self.metric, self.metric),
            "candidate": self.value,
            "baseline": self.baseline_value,
            "threshold": self.threshold,
            "naive": self.naive,
            "naive_bound": self.naive_bound,
            "blessed": self.blessed,
            "pushed_version": self.pushed_version,
        }


# The columns of `mtl metrics` (CSV and JSON; the table shows a subset): `TaskRow.flat` keys.
COLUMNS: tuple[str, ...] = (
    "run_id", "run_time", "spans", "task", "auc", "rmse", "mae", "accuracy", "examples", "observed",
    "coverage", "gate_metric", "candidate", "baseline", "threshold", "naive", "naive_bound",
    "blessed", "pushed_version",
)
_NAIVE_METRICS = set(gates_lib.NAIVE_METRICS.values())
# Thresholded metrics that are not the task's gating metric.
_NOT_GATING = {"weighted_example_count", "slice_gate"}


def _gate_bounds(store, run_context) -> tuple[dict[str, float], dict[str, float]]:
    """({task: bound}, {task: naive bound}) of the overall-slice value thresholds the run's
    Evaluator gated the task's metric and its naive-baseline metric with."""
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2

    types = {t.id: t.name for t in store.get_execution_types()}
    bounds: dict[str, float] = {}
    naive: dict[str, float] = {}
    for execution in store.get_executions_by_context(run_context.id):
        if types.get(execution.type_id, "").split(".")[-1] != "Evaluator":
            continue
        prop = metadata.node_property(execution, "eval_config")
        if prop is None or not prop.string_value:
            continue
        eval_config = json_format.Parse(prop.string_value, config_pb2.EvalConfig(),
                                        ignore_unknown_fields=True)
        for spec in eval_config.metrics_specs:
            for metric in spec.metrics:
                name = _metric_name(metric)
                if name in _NOT_GATING:
                    continue
                target = naive if name in _NAIVE_METRICS else bounds
                for per_slice in metric.per_slice_thresholds:
                    value = per_slice.threshold.value_threshold
                    for output in spec.output_names:
                        if value.HasField("lower_bound"):
                            target[output] = value.lower_bound.value
                        elif value.HasField("upper_bound"):
                            target[output] = value.upper_bound.value
    return bounds, naive


def _metric_name(metric) -> str:
    """A MetricConfig's metric name: the config's "name" or the class's default name."""
    if metric.config:
        try:
            name = json.loads(metric.config).get("name")
        except ValueError:
            name = None
        if name:
            return name
    known = {"WeightedExampleCount": "weighted_example_count", "SliceGate": "slice_gate",
             "TaskWeightedExampleCount": "weighted_example_count", "TaskAUC": "auc",
             "TaskRootMeanSquaredError": "root_mean_squared_error",
             "NaiveRmseRatio": "naive_rmse_ratio", "AucOverChance": "auc_over_chance",
             "AccuracyOverMajority": "accuracy_over_majority"}
    return known.get(metric.class_name, metric.class_name)


def collect(config: PipelineConfig) -> list[TaskRow]:
    """One row per pipeline run and task, oldest run first.

    Raises NoRunsError when the home has no metadata or no run. A run whose Evaluator did not
    run (a failed run) still gives one row per task, with empty metrics.
    """
    store = metadata.open_home_store(config.metadata_path, config.home)
    runs = metadata.runs_oldest_first(store)
    if not runs:
        raise NoRunsError(f"no pipeline run recorded in {config.metadata_path}")
    rows: list[TaskRow] = []
    types = metadata.artifact_type_names(store)
    for run in runs:
        summary = summary_lib.summarize_run(config, store, run)
        spans: set[int] = set()
        model_run_uri = None
        executions = [e.id for e in store.get_executions_by_context(run.id)]
        for artifact in metadata.output_artifacts(store, executions):
            type_name = types[artifact.type_id]
            span = metadata.node_property(artifact, "span")
            if type_name == "Examples" and span is not None:
                spans.add(int(span.int_value))
            elif type_name == "ModelRun":
                model_run_uri = artifact.uri
        bounds, naive_bounds = _gate_bounds(store, run)
        version = os.path.basename(summary.pushed_path.rstrip("/")) if summary.pushed_path else None
        run_time = dt.datetime.fromtimestamp(run.create_time_since_epoch / 1e3, tz=dt.timezone.utc)
        by_task = {tm.task.name: tm for tm in summary.tasks}
        # The tasks of the spec the run recorded (a task appears from the first run that
        # trained it).
        for task in summary_lib.run_tasks(config, store, run):
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
                naive_threshold=naive_bounds.get(task.name),
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
    # Beside the per-epoch lists, "training" says how training went (epochs run, best, why
    # it stopped).
    return {k: v for k, v in history.items() if isinstance(v, list)}


