"""The one-pass task metrics against brute force, with missing labels and two models."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from tensorflow_model_analysis.metrics import metric_types

from pipeline.evaluation import task_metrics
from pipeline.evaluation.task_metrics import (
    TaskAUC,
    TaskExampleCount,
    TaskMeanAbsoluteError,
    TaskRootMeanSquaredError,
    TaskWeightedExampleCount,
    weighted_auc,
)
from tests.support.tfma_metrics import combine_in_two_workers


def brute_force_auc(scores, labels, weights) -> float:
    """Every (positive, negative) pair, weighted by both weights; ties count one half."""
    ordered = total = 0.0
    for (s1, y1, w1), (s2, y2, w2) in itertools.product(zip(scores, labels, weights), repeat=2):
        pair = w1 * y1 * w2 * (1 - y2)  # 1 positive, 2 negative
        total += pair
        ordered += pair * (1.0 if s1 > s2 else 0.5 if s1 == s2 else 0.0)
    return ordered / total


def test_auc_is_the_weighted_pairwise_ranking_with_ties_and_fractional_labels():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(200), 2)  # many ties
    labels = (rng.random(200) < 0.3).astype(float)
    labels[:10] = 0.25  # fractional labels: part positive, part negative
    weights = rng.integers(1, 4, 200).astype(float)
    assert weighted_auc(scores, labels, weights) == pytest.approx(
        brute_force_auc(scores, labels, weights), abs=1e-12)


def test_auc_without_both_classes_is_nan():
    assert math.isnan(weighted_auc([0.2, 0.4], [1.0, 1.0], [1.0, 1.0]))
    assert math.isnan(weighted_auc([], [], []))


def test_binary_task_counts_rows_and_observed_labels_and_ranks_observed_ones_only():
    rows = [(1.0, [0.9], 1.0), (0.0, [0.8], 1.0), (1.0, [0.7], 1.0),
            (0.0, [0.99], 0.0),  # a missing label (clipped to 0): a row, nothing else
            (0.0, [0.1], 1.0)]
    assert combine_in_two_workers(TaskExampleCount("binary"), rows) == {"example_count": 5.0}
    assert combine_in_two_workers(TaskWeightedExampleCount("binary"), rows) == {
        "weighted_example_count": 4.0}
    # With the missing row ranked as a negative the AUC would be 3/6; unranked it is 3/4.
    assert combine_in_two_workers(TaskAUC(), rows) == {"auc": pytest.approx(0.75)}


def test_regression_errors_over_observed_labels():
    rows = [(10.0, [12.0], 1.0), (20.0, [17.0], 1.0), (0.0, [50.0], 0.0), (30.0, [30.0], 2.0)]
    # Observed weights 1, 1, 2: squared errors 4, 9, 0; absolute errors 2, 3, 0.
    assert combine_in_two_workers(TaskRootMeanSquaredError(), rows) == {
        "root_mean_squared_error": pytest.approx(math.sqrt(13.0 / 4.0))}
    assert combine_in_two_workers(TaskMeanAbsoluteError(), rows) == {
        "mean_absolute_error": pytest.approx(5.0 / 4.0)}


def test_candidate_and_baseline_predictions_are_read_per_model_and_output():
    computations = TaskAUC().computations(model_names=["candidate", "baseline"],
                                          output_names=["click"], example_weighted=True)
    combiners = {c.keys[0].model_name: c.combiner for c in computations
                 if isinstance(c, metric_types.MetricComputation)}
    inputs = [({"candidate": 0.9, "baseline": 0.1}, 1.0), ({"candidate": 0.2, "baseline": 0.8}, 0.0)]
    results = {}
    for model, combiner in combiners.items():
        acc = combiner.create_accumulator()
        for predictions, label in inputs:
            element = metric_types.StandardMetricInputs(
                labels={"click": np.array([label])},
                predictions={m: {"click": np.array([p])} for m, p in predictions.items()},
                example_weights={"click": np.array([1.0])})
            acc = combiner.add_input(acc, element)
        (stats,) = combiner.extract_output(acc).values()
        results[model] = task_metrics.auc(stats)
    assert results == {"candidate": 1.0, "baseline": 0.0}


def test_a_vector_prediction_is_refused_with_the_task_named():
    (computation, *_) = TaskAUC().computations(output_names=["click"], example_weighted=True)
    element = metric_types.StandardMetricInputs(
        labels={"click": np.array([1.0])}, predictions={"click": np.array([0.2, 0.8])},
        example_weights={"click": np.array([1.0])})
    combiner = computation.combiner
    with pytest.raises(ValueError, match="task 'click': expected one prediction per example"):
        combiner.add_input(combiner.create_accumulator(), element)


def test_a_kind_without_one_pass_metrics_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        TaskExampleCount("multiclass")
