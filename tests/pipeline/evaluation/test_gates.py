"""Per-task gates: resolution from the config, the TFMA thresholds and hand-computed verdicts."""

from __future__ import annotations

import json

import pytest
import tensorflow_model_analysis as tfma

from pipeline.core.config import PipelineConfig
from pipeline.evaluation import gates
from pipeline.evaluation.eval_config import make_eval_config
from tests.support import default_problem as features


def _by_task(config):
    """Per task, the metrics of its weighted spec (the one counting observed labels)."""
    by_task = {}
    for spec in config.metrics_specs:
        metrics = {m.class_name: m for m in spec.metrics}
        if "WeightedExampleCount" in metrics or "TaskWeightedExampleCount" in metrics:
            by_task[spec.output_names[0]] = metrics
    return by_task


def test_overrides_apply_after_the_task_defaults():
    config = PipelineConfig(thresholds={"click": 0.7},
                            gates={"click": {"change_mode": "relative", "max_change": 0.05},
                                   "watch_time": {"bound": 55.0, "min_labels": 500}})
    resolved = gates.resolve(config.tasks(), config.gates)
    assert resolved["click"].bound == 0.7
    assert (resolved["click"].change_mode, resolved["click"].max_change) == ("relative", 0.05)
    assert resolved["watch_time"].bound == 55.0 and resolved["watch_time"].min_labels == 500
    assert resolved["like"].max_change == 0.03 and resolved["like"].change_mode == "absolute"


def test_bad_gate_config_names_the_task_and_field():
    with pytest.raises(ValueError, match="clik"):
        PipelineConfig(gates={"clik": {"bound": 0.7}})
    with pytest.raises(ValueError, match=r"gates\['click'\].*'bond'"):
        gates.resolve(features.TASKS, {"click": {"bond": 0.7}})
    with pytest.raises(ValueError, match="'like'.*change_mode"):
        gates.resolve(features.TASKS, {"like": {"change_mode": "percent"}})


def test_relative_change_becomes_a_tfma_relative_threshold_in_the_right_direction():
    config = make_eval_config(features.TASKS, features.SLICE_FEATURES, gate_overrides={
        "click": {"change_mode": "relative", "max_change": 0.05},
        "watch_time": {"change_mode": "relative", "max_change": 0.1},
    })
    by_task = _by_task(config)
    click = by_task["click"]["TaskAUC"].per_slice_thresholds[0].threshold.change_threshold
    assert click.relative.value == pytest.approx(-0.05) and not click.HasField("absolute")
    assert click.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    rmse = by_task["watch_time"]["TaskRootMeanSquaredError"].per_slice_thresholds[0]
    assert rmse.threshold.change_threshold.relative.value == pytest.approx(0.1)
    assert rmse.threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER


def test_observed_label_count_is_gated_on_the_overall_slice():
    config = make_eval_config(features.TASKS, features.SLICE_FEATURES,
                              gate_overrides={"like": {"min_labels": 300}})
    count = _by_task(config)["like"]["TaskWeightedExampleCount"].per_slice_thresholds[0]
    assert list(count.slicing_specs) == [tfma.SlicingSpec()]
    assert count.threshold.value_threshold.lower_bound.value == 300.0
    default = _by_task(config)["click"]["TaskWeightedExampleCount"].per_slice_thresholds[0]
    assert default.threshold.value_threshold.lower_bound.value == gates.DEFAULT_MIN_LABELS


def test_verdicts_are_direction_aware():
    click = gates.resolve(features.TASKS, {"click": {"bound": 0.6, "max_change": 0.02}})["click"]
    assert click.check(0.70, 0.71, 1000) == []               # lost 0.01 <= 0.02
    (reason,) = click.check(0.68, 0.71, 1000)                 # lost 0.03
    assert "vs baseline 0.7100" in reason and "limit 0.6900" in reason
    assert "is not ≥ 0.6" in click.check(0.59, None, 1000)[0]  # no baseline: bound only
    rel = gates.resolve(features.TASKS, {"watch_time": {"bound": 60, "max_change": 0.1,
                                                        "change_mode": "relative"}})["watch_time"]
    assert rel.change_limit(40.0) == pytest.approx(44.0)      # RMSE may rise by 10%
    assert rel.check(43.9, 40.0, 500) == []
    assert "allowed rise ≤ 10%" in rel.check(44.5, 40.0, 500)[0]
    (few,) = rel.check(30.0, None, 12)
    assert few == ("task 'watch_time' has 12 observed labels in the evaluation split, "
                   "fewer than the 50 required")


def test_slice_margin_is_hand_computed_and_small_slices_pass():
    import math

    from pipeline.evaluation.slice_gate import margin

    assert margin(0.62, 0.6, True, count=300, min_examples=200) == pytest.approx(0.02)
    assert margin(0.55, 0.6, True, count=300, min_examples=200) == pytest.approx(-0.05)
    assert margin(40.0, 45.0, False, count=300, min_examples=200) == pytest.approx(5.0)
    assert margin(0.10, 0.6, True, count=199, min_examples=200) == math.inf  # too small


def test_slice_gate_metric_derives_from_rmse_and_observed_labels():
    from pipeline.evaluation.slice_gate import SliceGate
    from tests.support.tfma_metrics import combine_in_two_workers

    # Errors 40, -40, 40 on observed labels: RMSE 40, bound 50: 10 to spare.
    rows = [(100.0, [60.0], 1.0), (20.0, [60.0], 1.0), (0.0, [999.0], 0.0), (90.0, [50.0], 1.0)]
    gate = SliceGate("rmse", bound=50.0, min_examples=3)
    assert combine_in_two_workers(gate, rows) == {"slice_gate": pytest.approx(10.0)}
    # 3 observed labels against a minimum of 4: too small to judge.
    small = SliceGate("rmse", bound=10.0, min_examples=4)
    assert combine_in_two_workers(small, rows) == {"slice_gate": float("inf")}
    # AUC: 3 of 4 positive/negative pairs ordered, bound 0.6.
    rows = [(1.0, [0.9], 1.0), (0.0, [0.8], 1.0), (1.0, [0.7], 1.0), (0.0, [0.1], 1.0)]
    auc_gate = SliceGate("auc", bound=0.6, min_examples=4)
    assert combine_in_two_workers(auc_gate, rows) == {"slice_gate": pytest.approx(0.15)}


def test_slice_bounds_are_configured_per_slice_feature_only_when_asked():
    config = make_eval_config(features.TASKS, features.SLICE_FEATURES, gate_overrides={
        "click": {"slice_bound": 0.6, "min_slice_examples": 300}})
    by_task = _by_task(config)
    assert "SliceGate" not in by_task["conversion"]
    gate = by_task["click"]["SliceGate"]
    assert gate.module == "pipeline.evaluation.slice_gate"
    assert json.loads(gate.config) == {"bound": 0.6, "metric": "auc", "min_examples": 300}
    (per_slice,) = gate.per_slice_thresholds
    assert [list(s.feature_keys) for s in per_slice.slicing_specs] == [["device"]]
    assert per_slice.threshold.value_threshold.lower_bound.value == 0.0
