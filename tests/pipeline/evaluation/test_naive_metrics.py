"""The naive-baseline TFMA metrics, their gate config and the failure messages, by hand."""

from __future__ import annotations

import json
import math

import pytest

from pipeline.core.config import PipelineConfig
from pipeline.evaluation import gates
from pipeline.evaluation.eval_config import NAIVE_MODULE, make_eval_config
from pipeline.evaluation.naive_metrics import (
    AccuracyOverMajority,
    AucOverChance,
    NaiveRmseRatio,
    majority_share,
    rmse_ratio,
)
from pipeline.evaluation.task_metrics import TaskStats, naive_rmse, rmse
from tests.support import default_problem as features
from tests.support.tfma_metrics import combine_in_two_workers


def test_rmse_ratio_against_the_mean_of_the_observed_labels():
    rows = [
        (10.0, [12.0], 1.0),
        (20.0, [18.0], 1.0),
        (0.0, [50.0], 0.0),   # a missing label (clipped to 0, weight 0): counts for nothing
        (30.0, [30.0], 2.0),  # weighted twice
    ]
    # Observed: weights 1, 1, 2; mean = (10 + 20 + 60) / 4 = 22.5;
    # naive MSE = (100 + 400 + 2 * 900) / 4 - 22.5^2 = 575 - 506.25 = 68.75;
    # MSE = (2^2 + 2^2 + 0) / 4 = 2.
    out = combine_in_two_workers(NaiveRmseRatio(), rows)
    assert out["naive_rmse"] == pytest.approx(math.sqrt(68.75))
    assert out["naive_rmse_ratio"] == pytest.approx(math.sqrt(2.0 / 68.75))


def test_rmse_ratio_edge_cases():
    assert math.isnan(rmse(TaskStats())) and math.isnan(naive_rmse(TaskStats()))
    assert rmse_ratio(0.0, 0.0) == 0.0  # constant labels predicted exactly
    assert rmse_ratio(1.0, 0.0) == math.inf
    # A constant prediction at the mean scores exactly 1.
    assert combine_in_two_workers(NaiveRmseRatio(), [(1.0, [2.0], 1.0), (3.0, [2.0], 1.0),
                                       (0.0, [9.0], 0.0)])["naive_rmse_ratio"] == 1.0


def test_accuracy_over_the_majority_class_share():
    rows = [
        (0.0, [0.7, 0.2, 0.1], 1.0),   # hit
        (1.0, [0.1, 0.3, 0.6], 1.0),   # miss
        (0.0, [0.1, 0.1, 0.8], 0.0),   # missing label: counts for nothing
        (2.0, [0.5, 0.4, 0.1], 2.0),   # miss, weighted twice
        (0.0, [0.2, 0.5, 0.3], 1.0),   # miss
    ]
    # Observed weights per class: 0 -> 2, 1 -> 1, 2 -> 2 (total 5): majority share 2/5;
    # accuracy 1/5.
    out = combine_in_two_workers(AccuracyOverMajority(), rows)
    assert out["majority_share"] == pytest.approx(0.4)
    assert out["accuracy_over_majority"] == pytest.approx(0.2 - 0.4)
    assert majority_share({0: 3.0, 1: 1.0}) == 0.75 and math.isnan(majority_share({}))


def test_auc_over_chance_is_the_auc_minus_a_half():
    rows = [(1.0, [0.9], 1.0), (0.0, [0.8], 1.0), (1.0, [0.7], 1.0), (0.0, [0.1], 1.0),
            (1.0, [0.05], 0.0)]  # a missing label: not ranked
    # Positives 0.9 and 0.7 against negatives 0.8 and 0.1: 3 of 4 pairs ordered.
    out = combine_in_two_workers(AucOverChance(), rows)
    assert out == {"auc_over_chance": pytest.approx(0.75 - 0.5)}


def test_every_task_kind_is_gated_against_its_naive_predictor_by_default():
    tasks = PipelineConfig(extra_tasks=("engagement_level",)).tasks()
    config = make_eval_config(tasks, features.SLICE_FEATURES)
    expected = {"binary": ("AucOverChance", "lower_bound", 0.01),
                "regression": ("NaiveRmseRatio", "upper_bound", 0.95),
                "multiclass": ("AccuracyOverMajority", "lower_bound", 0.01)}
    for task in tasks:
        (observed,) = [s for s in config.metrics_specs if s.output_names == [task.name]
                       and any(m.class_name.endswith("WeightedExampleCount") for m in s.metrics)]
        class_name, side, bound = expected[task.kind]
        (metric,) = [m for m in observed.metrics if m.class_name == class_name]
        assert metric.module == NAIVE_MODULE
        (per_slice,) = metric.per_slice_thresholds
        assert [s.feature_keys for s in per_slice.slicing_specs] == [[]]  # overall slice
        threshold = per_slice.threshold.value_threshold
        assert threshold.HasField(side) and getattr(threshold, side).value == bound, task.name


def test_naive_bounds_are_set_per_task_and_refused_on_the_wrong_kind():
    resolved = gates.resolve(features.TASKS, {"watch_time": {"naive_ratio": 0.9},
                                              "click": {"naive_margin": 0.05}})
    assert resolved["watch_time"].naive_threshold == 0.9
    assert resolved["click"].naive_threshold == 0.05
    assert resolved["like"].naive_threshold == gates.DEFAULT_NAIVE_MARGIN
    config = make_eval_config(features.TASKS, features.SLICE_FEATURES,
                              gate_overrides={"watch_time": {"naive_ratio": 0.9}})
    metric = next(m for s in config.metrics_specs for m in s.metrics
                  if m.class_name == "NaiveRmseRatio")
    assert metric.per_slice_thresholds[0].threshold.value_threshold.upper_bound.value == 0.9
    with pytest.raises(ValueError, match=r"gates\['watch_time'\]: naive_margin does not apply "
                                         r"to a regression task.*naive_ratio"):
        gates.resolve(features.TASKS, {"watch_time": {"naive_margin": 0.1}})
    with pytest.raises(ValueError, match=r"gates\['click'\]: naive_ratio does not apply"):
        gates.resolve(features.TASKS, {"click": {"naive_ratio": 0.9}})
    with pytest.raises(ValueError, match="naive_ratio must be > 0"):
        gates.resolve(features.TASKS, {"watch_time": {"naive_ratio": 0}})


def test_a_model_a_constant_beats_fails_with_the_naive_predictor_named():
    resolved = gates.resolve(PipelineConfig(extra_tasks=("engagement_level",)).tasks())
    watch, click = resolved["watch_time"], resolved["click"]
    # RMSE 37.3 against a mean predictor's 32.7 on 4,900 labels: bound 0.95 x 32.7 = 31.065.
    assert watch.naive_limit(32.7) == pytest.approx(31.065)
    assert watch.describe_naive_bound(32.7) == "≤ 31.0650"
    reasons = watch.check(37.3, None, 4900.0, naive=32.7)
    assert reasons == ["task 'watch_time' RMSE 37.30 is not below 0.95 x the mean predictor's "
                       "32.70 (= 31.07) on the same 4,900 observed labels"]
    assert watch.check(31.0, None, 4900.0, naive=32.7) == []
    # The absolute bound (60) passes it; the naive gate does not.
    assert watch.check(37.3, None, 4900.0) == []
    assert click.naive_figure({}) == 0.5
    assert click.check(0.7, None, 800.0, naive=0.5) == []
    (reason,) = click.check(0.505, None, 800.0, naive=0.5)[1:]
    assert reason == ("task 'click' AUC 0.5050 does not exceed a constant score's 0.5 by 0.01 "
                      "on the same 800 observed labels")
    level = resolved["engagement_level"]
    assert level.naive_figure({"majority_share": 0.45}) == 0.45
    (reason,) = [r for r in level.check(0.44, None, 300.0, naive=0.45) if "majority" in r]
    assert reason == ("task 'engagement_level' accuracy 0.4400 does not exceed the "
                      "majority-class predictor's 0.4500 (the most frequent class's share) by "
                      "0.01 on the same 300 observed labels")


def test_naive_metric_config_is_plain_json():
    for spec in make_eval_config(features.TASKS, features.SLICE_FEATURES).metrics_specs:
        for metric in spec.metrics:
            if metric.module == NAIVE_MODULE:
                assert json.loads(metric.config or "{}") == {}
