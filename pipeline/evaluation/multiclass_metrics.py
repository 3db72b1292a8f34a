"""`MulticlassAccuracy`: a multiclass task's accuracy and top-k accuracy in TFMA.

A multiclass task's label is a class id (the tf.Transform output `<task>_label`, a float such
as 2.0) and its prediction the model's [K] class probabilities; its example weight is the
observed-label mask. The metric is the weighted share of examples whose label is among the k
most probable classes:

    top_k_accuracy = sum_i w_i * [label_i in top_k(p_i)] / sum_i w_i

so accuracy is top_k = 1 and a missing label (weight 0) counts for nothing. Ties are broken
towards the lower class id, as `numpy.argsort` with a stable sort does. TFMA's own metrics
cover this only through binarization (one binary problem per class) and tf_keras metrics; this
is one exact number per slice, thresholdable like AUC (higher is better).
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

ACCURACY_NAME = "accuracy"


def top_k_hits(label: float, probabilities: np.ndarray, k: int) -> bool:
    """Whether class `label` is among the k most probable classes (lower id wins a tie)."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    label_id = int(round(float(np.asarray(label).reshape(-1)[0])))
    if not 0 <= label_id < probabilities.size:
        raise ValueError(f"label {label_id} is outside the {probabilities.size} classes")
    order = np.argsort(-probabilities, kind="stable")
    return bool(label_id in order[:k])


class MulticlassAccuracy(metric_types.Metric):
    """Weighted top-k accuracy of sparse class-id labels against class probabilities."""

    def __init__(self, top_k: int = 1, name: str = ACCURACY_NAME):
        if int(top_k) < 1:
            raise ValueError(f"MulticlassAccuracy top_k must be >= 1, got {top_k}")
        super().__init__(metric_util.merge_per_key_computations(_accuracy), top_k=int(top_k),
                         name=name)


def _accuracy(name: str = ACCURACY_NAME, top_k: int = 1, eval_config=None,
              model_name: str = "", output_name: str = "", sub_key=None,
              aggregation_type=None, class_weights=None, example_weighted: bool = False
              ) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                 sub_key=sub_key, example_weighted=example_weighted)
    return [metric_types.MetricComputation(
        keys=[key], preprocessors=None,
        combiner=_AccuracyCombiner(key, eval_config, top_k, example_weighted))]


class _AccuracyCombiner(beam.CombineFn):
    """Accumulates (weighted hits, total weight)."""

    def __init__(self, key: metric_types.MetricKey, eval_config, top_k: int,
                 example_weighted: bool):
        self._key = key
        self._eval_config = eval_config
        self._top_k = top_k
        self._example_weighted = example_weighted

    def create_accumulator(self) -> list[float]:
        return [0.0, 0.0]

    def add_input(self, accumulator: list[float],
                  element: metric_types.StandardMetricInputs) -> list[float]:
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
                element, eval_config=self._eval_config, model_name=self._key.model_name,
                output_name=self._key.output_name, example_weighted=self._example_weighted,
                flatten=False, squeeze=False):
            weight = float(metric_util.safe_to_scalar(weight))
            if weight == 0.0:
                continue  # a missing label: its (clipped) value says nothing
            accumulator[0] += weight * top_k_hits(label, prediction, self._top_k)
            accumulator[1] += weight
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[list[float]]) -> list[float]:
        hits = total = 0.0
        for accumulator in accumulators:
            hits += accumulator[0]
            total += accumulator[1]
        return [hits, total]

    def extract_output(self, accumulator: list[float]) -> dict:
        hits, total = accumulator
        return {self._key: hits / total if total > 0 else float("nan")}
