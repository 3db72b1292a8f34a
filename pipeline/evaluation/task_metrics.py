"""Per-task TFMA metrics computed in one pass: rows, observed labels, AUC, RMSE and MAE.

TFMA's own metrics each convert every example again (`metric_util.to_label_prediction_
example_weight`: model and output lookups, class weights, flattening) and feed it to their own
combiner: for a binary task the row count, the observed-label count and the AUC's 10,000-bucket
calibration histogram; for a regression task also RMSE (a wrapped Keras metric, TFMA has no
class of that name) and MAE. That per-example work is most of the Evaluator's time. Here one
combiner per task (per model, output and slice) reads the label, prediction and example weight
once and keeps what every metric of the task needs:

- binary tasks (`kind` "binary"): the row count, and each observed example's score, label and
  weight, from which `auc` is the exact weighted ROC AUC (ties count one half: the
  Mann-Whitney statistic, which TFMA's histogram approximates);
- regression tasks ("regression"): the row count and the weighted sums of y, y^2, (y - p)^2
  and |y - p| over observed labels, from which `root_mean_squared_error`,
  `mean_absolute_error` and the naive RMSE (`pipeline.evaluation.naive_metrics`).

The metric classes below are ordinary TFMA metrics whose metric names and keys are TFMA's own
(`auc`, `example_count`, ...: the gate, summary and history read them unchanged; the class
names differ because TFMA resolves its own class names before a config's module); each one's
computation is the shared combiner plus a derived result, and TFMA runs identical combiners
once. The example weight is the task's
observed-label mask: a missing label counts as a row and nothing else.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

KINDS = ("binary", "regression")
EXAMPLE_COUNT_NAME = "example_count"
WEIGHTED_EXAMPLE_COUNT_NAME = "weighted_example_count"
AUC_NAME = "auc"
RMSE_NAME = "root_mean_squared_error"
MAE_NAME = "mean_absolute_error"
# The shared combiners' private keys (TFMA drops metrics whose name starts with "_").
_STATS_NAMES = {"binary": "_binary_task_stats", "regression": "_regression_task_stats"}


@dataclass
class TaskStats:
    """One slice's accumulated view of one task (one model's predictions)."""

    rows: float = 0.0
    weight: float = 0.0  # sum of weights: the observed labels
    label_sum: float = 0.0
    label_square_sum: float = 0.0
    error_square_sum: float = 0.0
    error_abs_sum: float = 0.0
    # binary tasks: every observed example's score, label and weight
    scores: array = field(default_factory=lambda: array("d"))
    labels: array = field(default_factory=lambda: array("d"))
    weights: array = field(default_factory=lambda: array("d"))


def weighted_auc(scores, labels, weights) -> float:
    """The weighted ROC AUC: the probability that a positive scores above a negative (ties
    count one half), each pair weighted by both weights. Fractional labels count as a
    positive of weight w*y and a negative of weight w*(1-y). NaN without both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if scores.size == 0:
        return math.nan
    distinct, index = np.unique(scores, return_inverse=True)
    positive = np.bincount(index, weights=weights * labels, minlength=distinct.size)
    negative = np.bincount(index, weights=weights * (1.0 - labels), minlength=distinct.size)
    total_positive, total_negative = positive.sum(), negative.sum()
    if total_positive <= 0 or total_negative <= 0:
        return math.nan
    negative_below = np.cumsum(negative) - negative
    return float((positive * (negative_below + 0.5 * negative)).sum()
                 / (total_positive * total_negative))


def _select(value, model_name: str, output_name: str):
    """`value[model_name][output_name]`, each level only where the value is keyed by it."""
    if model_name and isinstance(value, Mapping) and model_name in value:
        value = value[model_name]
    if output_name and isinstance(value, Mapping) and output_name in value:
        value = value[output_name]
    return value


def _scalar(value, what: str, output_name: str) -> float:
    values = np.asarray(value).reshape(-1)
    if values.size != 1:
        raise ValueError(f"task {output_name!r}: expected one {what} per example, got "
                         f"{values.size} ({value!r})")
    return float(values[0])


class _TaskStatsCombiner(beam.CombineFn):
    """Accumulates a `TaskStats` per slice for one model's output."""

    def __init__(self, key: metric_types.MetricKey, kind: str, example_weighted: bool):
        self._key = key
        self._kind = kind
        self._example_weighted = example_weighted

    def create_accumulator(self) -> TaskStats:
        return TaskStats()

    def add_input(self, stats: TaskStats,
                  element: metric_types.StandardMetricInputs) -> TaskStats:
        model, output = self._key.model_name, self._key.output_name
        stats.rows += 1.0
        weight = 1.0
        if self._example_weighted and element.example_weight is not None:
            weight = _scalar(_select(element.example_weight, model, output), "weight", output)
        if weight == 0.0:
            return stats  # a missing label: a row, nothing else
        label = _scalar(_select(element.label, model, output), "label", output)
        prediction = _scalar(_select(element.prediction, model, output), "prediction", output)
        stats.weight += weight
        if self._kind == "binary":
            stats.scores.append(prediction)
            stats.labels.append(label)
            stats.weights.append(weight)
        else:
            error = label - prediction
            stats.label_sum += weight * label
            stats.label_square_sum += weight * label * label
            stats.error_square_sum += weight * error * error
            stats.error_abs_sum += weight * abs(error)
        return stats

    def merge_accumulators(self, accumulators: Iterable[TaskStats]) -> TaskStats:
        out = TaskStats()
        for part in accumulators:
            out.rows += part.rows
            out.weight += part.weight
            out.label_sum += part.label_sum
            out.label_square_sum += part.label_square_sum
            out.error_square_sum += part.error_square_sum
            out.error_abs_sum += part.error_abs_sum
            out.scores.extend(part.scores)
            out.labels.extend(part.labels)
            out.weights.extend(part.weights)
        return out

    def extract_output(self, stats: TaskStats) -> dict:
        return {self._key: stats}


def stats_computation(kind: str, model_name: str, output_name: str, sub_key,
                      example_weighted: bool) -> tuple[metric_types.MetricComputation,
                                                       metric_types.MetricKey]:
    """The shared combiner's computation for a task of `kind`, and the key of its TaskStats
    (identical for every metric of the task, so TFMA runs it once)."""
    if kind not in KINDS:
        raise ValueError(f"task {output_name!r}: one-pass task metrics cover {KINDS}, "
                         f"not {kind!r}")
    key = metric_types.MetricKey(name=_STATS_NAMES[kind], model_name=model_name,
                                 output_name=output_name, sub_key=sub_key,
                                 example_weighted=example_weighted)
    return (metric_types.MetricComputation(
        keys=[key], preprocessors=None,
        combiner=_TaskStatsCombiner(key, kind, example_weighted)), key)


def derived(name: str, kind: str, model_name: str, output_name: str, sub_key,
            example_weighted: bool, value, key_weighted: bool | None = None
            ) -> metric_types.MetricComputations:
    """The shared computation plus `name` = value(TaskStats) on its key."""
    base, stats_key = stats_computation(kind, model_name, output_name, sub_key,
                                        example_weighted)
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, sub_key=sub_key,
        example_weighted=example_weighted if key_weighted is None else key_weighted)

    def result(metrics: dict) -> dict:
        return {key: value(metrics[stats_key])}

    return [base, metric_types.DerivedMetricComputation(keys=[key], result=result)]


def auc(stats: TaskStats) -> float:
    return weighted_auc(stats.scores, stats.labels, stats.weights)


def rmse(stats: TaskStats) -> float:
    if stats.weight <= 0:
        return math.nan
    return math.sqrt(max(stats.error_square_sum, 0.0) / stats.weight)


def mae(stats: TaskStats) -> float:
    return stats.error_abs_sum / stats.weight if stats.weight > 0 else math.nan


def naive_rmse(stats: TaskStats) -> float:
    """The RMSE of predicting the observed labels' weighted mean: their standard deviation."""
    if stats.weight <= 0:
        return math.nan
    mean = stats.label_sum / stats.weight
    return math.sqrt(max(stats.label_square_sum / stats.weight - mean * mean, 0.0))


def _metric(value, default_name: str, fixed_kind: str | None = None,
            key_weighted: bool | None = None):
    """A TFMA Metric class computing `value(TaskStats)` from the shared combiner."""

    def computations(name: str = default_name, kind: str | None = fixed_kind,
                     model_name: str = "", output_name: str = "", sub_key=None,
                     example_weighted: bool = False) -> metric_types.MetricComputations:
        return derived(name, kind or "", model_name, output_name, sub_key, example_weighted,
                       value, key_weighted)

    class _Metric(metric_types.Metric):
        def __init__(self, kind: str | None = fixed_kind, name: str = default_name):
            if kind not in KINDS:
                raise ValueError(f"{type(self).__name__}: kind must be one of {KINDS}, "
                                 f"got {kind!r}")
            super().__init__(metric_util.merge_per_key_computations(computations),
                             kind=kind, name=name)

    return _Metric


class TaskExampleCount(_metric(lambda s: s.rows, EXAMPLE_COUNT_NAME, key_weighted=False)):
    """Rows of the slice, labelled or not (`kind`: the task's kind)."""


class TaskWeightedExampleCount(_metric(lambda s: s.weight, WEIGHTED_EXAMPLE_COUNT_NAME)):
    """The slice's observed labels (the sum of the observed-label mask)."""


class TaskAUC(_metric(auc, AUC_NAME, "binary")):
    """The exact weighted ROC AUC over observed labels."""


class TaskRootMeanSquaredError(_metric(rmse, RMSE_NAME, "regression")):
    """RMSE over observed labels."""


class TaskMeanAbsoluteError(_metric(mae, MAE_NAME, "regression")):
    """MAE over observed labels."""
