"""Naive-baseline TFMA metrics: each task's margin over the predictor that ignores the features.

A model a constant would beat must never ship, whatever its absolute bound says. Each task
kind gets one TFMA metric whose value is the candidate's margin over the naive predictor,
computed on the same evaluation rows (the same slice) and on observed labels only (the example
weight is the observed-label mask, so a missing label weighs 0):

- regression, `NaiveRmseRatio`: `naive_rmse_ratio` = RMSE / naive RMSE, where the naive
  predictor predicts the observed labels' (weighted) mean, so naive RMSE is their standard
  deviation:

      RMSE       = sqrt(sum_i w_i (y_i - p_i)^2 / sum_i w_i)
      naive RMSE = sqrt(sum_i w_i (y_i - m)^2 / sum_i w_i),   m = sum_i w_i y_i / sum_i w_i

  It also reports `naive_rmse` itself. Gated with an upper bound (default 0.95).
- binary, `AucOverChance`: `auc_over_chance` = AUC - 0.5 (a constant score ranks at chance),
  the task's AUC on the same rows. Gated with a lower bound (default 0.01).
- multiclass, `AccuracyOverMajority`: `accuracy_over_majority` = accuracy - majority share,
  the majority share being the weighted share of the most frequent observed class (the accuracy
  of always predicting it). It also reports `majority_share`. Gated with a lower bound
  (default 0.01).

The bounds come from `pipeline.evaluation.gates.TaskGate` (`naive_ratio`, `naive_margin`);
`pipeline.evaluation.eval_config` puts them on the overall slice, like every other gate.
"""

from __future__ import annotations

import math

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from pipeline.evaluation import task_metrics
from pipeline.evaluation.multiclass_metrics import top_k_hits

NAIVE_RMSE_RATIO_NAME = "naive_rmse_ratio"
NAIVE_RMSE_NAME = "naive_rmse"
AUC_OVER_CHANCE_NAME = "auc_over_chance"
ACCURACY_OVER_MAJORITY_NAME = "accuracy_over_majority"
MAJORITY_SHARE_NAME = "majority_share"
CHANCE_AUC = 0.5


def rmse_ratio(rmse: float, naive_rmse: float) -> float:
    """RMSE / naive RMSE; on constant labels (naive RMSE 0): 0 for a perfect model, else inf."""
    if math.isnan(rmse) or math.isnan(naive_rmse):
        return math.nan
    if naive_rmse == 0.0:
        return 0.0 if rmse == 0.0 else math.inf
    return rmse / naive_rmse


def _key(name: str, model_name: str, output_name: str, sub_key,
         example_weighted: bool) -> metric_types.MetricKey:
    return metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                  sub_key=sub_key, example_weighted=example_weighted)


# --- regression and binary: derived from the task's one-pass statistics ------------------------

def _naive_rmse_ratio(stats: task_metrics.TaskStats) -> float:
    return rmse_ratio(task_metrics.rmse(stats), task_metrics.naive_rmse(stats))


class NaiveRmseRatio(metric_types.Metric):
    """RMSE over the RMSE of predicting the observed labels' mean (and that naive RMSE)."""

    def __init__(self, name: str = NAIVE_RMSE_RATIO_NAME):
        super().__init__(metric_util.merge_per_key_computations(_naive_rmse_computations),
                         name=name)


def _naive_rmse_computations(name: str = NAIVE_RMSE_RATIO_NAME, model_name: str = "",
                             output_name: str = "", sub_key=None,
                             example_weighted: bool = False
                             ) -> metric_types.MetricComputations:
    ratio = task_metrics.derived(name, "regression", model_name, output_name, sub_key,
                                 example_weighted, _naive_rmse_ratio)
    naive = task_metrics.derived(NAIVE_RMSE_NAME, "regression", model_name, output_name,
                                 sub_key, example_weighted, task_metrics.naive_rmse)
    return [*ratio, *naive]  # TFMA runs their shared statistics computation once


class AucOverChance(metric_types.Metric):
    """AUC - 0.5: how far the candidate ranks above a constant score."""

    def __init__(self, name: str = AUC_OVER_CHANCE_NAME):
        super().__init__(metric_util.merge_per_key_computations(_auc_over_chance), name=name)


def _auc_over_chance(name: str = AUC_OVER_CHANCE_NAME, model_name: str = "",
                     output_name: str = "", sub_key=None, example_weighted: bool = False
                     ) -> metric_types.MetricComputations:
    return task_metrics.derived(name, "binary", model_name, output_name, sub_key,
                                example_weighted,
                                lambda stats: task_metrics.auc(stats) - CHANCE_AUC)


# --- multiclass ---------------------------------------------------------------------------------

class AccuracyOverMajority(metric_types.Metric):
    """Accuracy minus the majority-class share (and that share) over observed labels."""

    def __init__(self, name: str = ACCURACY_OVER_MAJORITY_NAME):
        super().__init__(metric_util.merge_per_key_computations(_accuracy_over_majority),
                         name=name)


def _accuracy_over_majority(name: str = ACCURACY_OVER_MAJORITY_NAME, eval_config=None,
                            model_name: str = "", output_name: str = "", sub_key=None,
                            aggregation_type=None, class_weights=None,
                            example_weighted: bool = False) -> metric_types.MetricComputations:
    margin = _key(name, model_name, output_name, sub_key, example_weighted)
    share = _key(MAJORITY_SHARE_NAME, model_name, output_name, sub_key, example_weighted)
    return [metric_types.MetricComputation(
        keys=[margin, share], preprocessors=None,
        combiner=_MajorityCombiner(margin, share, eval_config, example_weighted))]


def majority_share(class_weights: dict[int, float]) -> float:
    """The weighted share of the most frequent class (NaN without observed labels)."""
    total = sum(class_weights.values())
    return max(class_weights.values()) / total if total > 0 else math.nan


class _MajorityCombiner(beam.CombineFn):
    """Accumulates (weighted top-1 hits, {class id: weight})."""

    def __init__(self, margin_key, share_key, eval_config, example_weighted: bool):
        self._margin_key = margin_key
        self._share_key = share_key
        self._eval_config = eval_config
        self._example_weighted = example_weighted

    def create_accumulator(self) -> tuple[float, dict[int, float]]:
        return 0.0, {}

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        hits, counts = accumulator
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
                element, eval_config=self._eval_config, model_name=self._margin_key.model_name,
                output_name=self._margin_key.output_name,
                example_weighted=self._example_weighted, flatten=False, squeeze=False):
            w = float(metric_util.safe_to_scalar(weight))
            if w == 0.0:
                continue  # a missing label
            label_id = int(round(float(np.asarray(label).reshape(-1)[0])))
            hits += w * top_k_hits(label, prediction, 1)
            counts[label_id] = counts.get(label_id, 0.0) + w
        return hits, counts

    def merge_accumulators(self, accumulators):
        hits, counts = 0.0, {}
        for part_hits, part_counts in accumulators:
            hits += part_hits
            for label_id, w in part_counts.items():
                counts[label_id] = counts.get(label_id, 0.0) + w
        return hits, counts

    def extract_output(self, accumulator) -> dict:
        hits, counts = accumulator
        total = sum(counts.values())
        share = majority_share(counts)
        accuracy = hits / total if total > 0 else math.nan
        return {self._margin_key: accuracy - share, self._share_key: share}
