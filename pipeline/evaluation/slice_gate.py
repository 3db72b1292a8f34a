"""`SliceGate`: a TFMA metric that gates a slice only when it has enough observed labels.

TFMA's per-slice thresholds judge every slice, so a slice of 30 tablets can veto a release by
noise; its `min_slice_size` option instead drops small slices' metrics, which the validator then
reports as "Metric not found" (a veto again). This derived metric computes, per slice,

    margin = metric - bound   (AUC, higher is better)      or   bound - RMSE   (lower is better)

when the slice has at least `min_examples` observed labels (the weighted example count, the
label mask being the example weight), and +inf when it has fewer ("too small to judge"), so a
lower-bound-0 threshold on `slice_gate` passes small slices and fails large ones under their
bound. `pipeline.evaluation.eval_config` configures it from `TaskGate.slice_bound` / `min_slice_examples`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tensorflow_model_analysis.metrics import (
    confusion_matrix_metrics,
    mean_regression_error,
    metric_types,
    metric_util,
    weighted_example_count,
)

SLICE_GATE_NAME = "slice_gate"


def margin(value: float, bound: float, higher_is_better: bool, count: float,
           min_examples: int) -> float:
    """How far the slice's metric is on the good side of its bound (+inf: slice too small)."""
    if count < min_examples:
        return math.inf
    if value is None or np.isnan(value):
        return math.nan
    return value - bound if higher_is_better else bound - value


class SliceGate(metric_types.Metric):
    """Margin of a slice's AUC ("auc") or RMSE ("rmse") over its bound, if the slice is big."""

    def __init__(self, metric: str = "auc", bound: float = 0.5, min_examples: int = 200,
                 name: str = SLICE_GATE_NAME):
        if metric not in ("auc", "rmse"):
            raise ValueError(f"SliceGate metric must be 'auc' or 'rmse', got {metric!r}")
        super().__init__(metric_util.merge_per_key_computations(_slice_gate), metric=metric,
                         bound=float(bound), min_examples=int(min_examples), name=name)


def _slice_gate(name: str = SLICE_GATE_NAME, metric: str = "auc", bound: float = 0.5,
                min_examples: int = 200, eval_config=None, model_name: str = "",
                output_name: str = "", sub_key=None, aggregation_type=None,
                class_weights=None, example_weighted: bool = False
                ) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 sub_key=sub_key, example_weighted=example_weighted)
    common: dict[str, Any] = dict(eval_config=eval_config, model_names=[model_name],
                                  output_names=[output_name], sub_keys=[sub_key],
                                  aggregation_type=aggregation_type,
                                  class_weights=class_weights,
                                  example_weighted=example_weighted)
    if metric == "auc":
        inner = confusion_matrix_metrics.AUC()
    else:
        inner = mean_regression_error.MeanSquaredError()
    inner_computations = inner.computations(**common)
    inner_key = metric_types.MetricKey(name=inner.name, model_name=model_name,
                                       output_name=output_name, sub_key=sub_key,
                                       example_weighted=example_weighted)
    count = weighted_example_count.WeightedExampleCount()
    count_computations = count.computations(**common)
    count_key = metric_types.MetricKey(name=count.name, model_name=model_name,
                                       output_name=output_name, sub_key=sub_key,
                                       example_weighted=example_weighted)

    def result(metrics: dict) -> dict:
        value = float(metrics[inner_key])
        if metric == "rmse":
            value = math.sqrt(value)
        return {key: margin(value, bound, metric == "auc", float(metrics[count_key]),
                            min_examples)}

    return [*inner_computations, *count_computations,
            metric_types.DerivedMetricComputation(keys=[key], result=result)]
