"""The multiclass TFMA metric, the eval config of a multiclass task, the optional task's config
validation and its generated label."""

import json

import numpy as np
import pytest

from pipeline.core.config import PipelineConfig
from pipeline.datasets import generator as data
from pipeline.evaluation.eval_config import MULTICLASS_MODULE, make_eval_config
from pipeline.evaluation.multiclass_metrics import MulticlassAccuracy, top_k_hits
from tests.support import default_problem as features
from tests.support.tfma_metrics import combine_in_two_workers


def test_top_k_hits_by_hand():
    p = [0.2, 0.5, 0.3]
    assert top_k_hits(1.0, p, 1) and not top_k_hits(2.0, p, 1)
    assert top_k_hits(2.0, p, 2) and not top_k_hits(0.0, p, 2)
    assert top_k_hits(0.0, [0.4, 0.4, 0.2], 1)  # a tie goes to the lower class id
    with pytest.raises(ValueError, match="label 3 is outside the 3 classes"):
        top_k_hits(3.0, p, 1)


def _combine(metric, rows):
    """The metric's one output over rows fed to two workers."""
    (value,) = combine_in_two_workers(metric, rows).values()
    return value


def test_tfma_accuracy_weights_examples_and_ignores_missing_labels():
    rows = [
        (0.0, [0.7, 0.2, 0.1], 1.0),   # top-1 hit
        (1.0, [0.1, 0.3, 0.6], 1.0),   # top-2 hit only
        (0.0, [0.1, 0.1, 0.8], 0.0),   # missing label (weight 0): counts for nothing
        (2.0, [0.5, 0.4, 0.1], 2.0),   # miss, weighted twice
    ]
    assert _combine(MulticlassAccuracy(top_k=1), rows) == pytest.approx(1 / 4)
    assert _combine(MulticlassAccuracy(top_k=2, name="top_2_accuracy"), rows) == (
        pytest.approx(2 / 4))


def test_multiclass_task_gates_accuracy_and_reports_top_k():
    tasks = PipelineConfig(extra_tasks=("engagement_level",),
                           thresholds={"engagement_level": 0.4}).tasks()
    config = make_eval_config(tasks)
    assert config.model_specs[0].label_keys["engagement_level"] == "engagement_level_label"
    rows, observed = [s for s in config.metrics_specs
                      if list(s.output_names) == ["engagement_level"]]
    assert [m.class_name for m in rows.metrics] == ["ExampleCount"]
    by_name = {json.loads(m.config or "{}").get("name", m.class_name): m
               for m in observed.metrics}
    assert set(by_name) == {"WeightedExampleCount", "accuracy", "top_2_accuracy",
                            "AccuracyOverMajority"}  # the naive-baseline gate
    accuracy = by_name["accuracy"]
    assert accuracy.module == MULTICLASS_MODULE
    threshold = accuracy.per_slice_thresholds[0].threshold
    assert threshold.value_threshold.lower_bound.value == 0.4
    assert not by_name["top_2_accuracy"].per_slice_thresholds  # reported, not gated
    assert json.loads(by_name["top_2_accuracy"].config)["top_k"] == 2


def test_slice_bound_on_a_multiclass_task_is_refused():
    config = PipelineConfig(extra_tasks=("engagement_level",),
                            gates={"engagement_level": {"slice_bound": 0.4}})
    with pytest.raises(ValueError, match="slice_bound is not supported for a multiclass"):
        make_eval_config(config.tasks(), gate_overrides=config.gates)


def test_settings_for_an_optional_task_need_it_enabled():
    with pytest.raises(ValueError, match="\\['engagement_level'\\] are optional and not enabled"):
        PipelineConfig(thresholds={"engagement_level": 0.5})
    default = PipelineConfig()
    assert [t.name for t in default.tasks()] == [t.name for t in features.TASKS]
    assert "engagement_level" not in default.active_fusion_weights()
    enabled = PipelineConfig(extra_tasks=["engagement_level"])
    assert enabled.extra_tasks == ("engagement_level",)
    assert enabled.tasks()[-1].name == "engagement_level"
    assert enabled.active_fusion_weights()["engagement_level"] == 0.25


def test_engagement_label_is_missing_when_not_clicked_and_leaves_other_columns_alone():
    world = data.World(7)
    plain = data.generate_span(world, 3000, seed=7, span=1)
    columns = data.generate_span(world, 3000, seed=7, span=1, engagement_level=True)
    assert "engagement_level" not in plain
    for key, values in plain.items():
        assert np.array_equal(np.asarray(columns[key], dtype=object),
                              np.asarray(values, dtype=object)), key
    level = np.asarray(columns["engagement_level"])
    click = np.asarray(columns["click"])
    assert (level[click == 0] == -1).all()
    observed = level[click == 1]
    assert 0.7 < np.mean(observed >= 0) < 0.9  # 20% of clicks unobserved, at random
    shares = np.bincount(observed[observed >= 0], minlength=3) / np.sum(observed >= 0)
    assert (shares > 0.2).all(), shares  # three real classes, none degenerate
    # Related to the funnel: deeper engagement, longer watch time.
    watch = np.asarray(columns["watch_time"])[click == 1]
    assert watch[observed == 2].mean() > watch[observed == 0].mean()
