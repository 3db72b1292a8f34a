"""`SliceGate`: a TFMA metric that gates a slice only when it has enough observed labels.

TFMA's per-slice thresholds judge every slice, so a slice of 30 tablets can veto a release by
noise; its `min_slice_size` option instead drops small slices' metrics, which the validator then
reports as "Metric not found" (a veto again). This derived metric computes, per slice,

    margin = metric - bound   (AUC, higher is better)      or   bound - RMSE   (lower is better)

when the slice has at least `min_examples` observed labels (the weighted example count, the
label mask being the example weight; all from the task's one-pass statistics,
`pipeline.evaluation.task_metrics`), and +inf when it has fewer ("too small to judge"), so a
lower-bound-0 threshold on `slice_gate` passes small slices and fails large ones under their
bound. `pipeline.evaluation.eval_config` configures it from `TaskGate.slice_bound` / `min_slice_examples`.
"""

from __future__ import annotations

import math

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from pipeline.evaluation import task_metrics

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
                min_examples: int = 200, model_name: str = "", output_name: str = "",
                sub_key=None, example_weighted: bool = False
                ) -> metric_types.MetricComputations:
    higher_is_better = metric == "auc"
    value = task_metrics.auc if higher_is_better else task_metrics.rmse

    def slice_margin(stats: task_metrics.TaskStats) -> float:
        return margin(value(stats), bound, higher_is_better, stats.weight, min_examples)

    return task_metrics.derived(name, "binary" if higher_is_better else "regression",
                                model_name, output_name, sub_key, example_weighted,
                                slice_margin)
