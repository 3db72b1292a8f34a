"""The TFMA config is derived from the task list: keys, metrics and thresholds per task."""

import dataclasses

import tensorflow_model_analysis as tfma

from pipeline.core.config import PipelineConfig
from pipeline.evaluation.eval_config import make_eval_config
from tests.support import default_problem as features


def test_label_and_weight_keys_follow_the_task_list():
    config = make_eval_config(features.TASKS, features.SLICE_FEATURES)
    (spec,) = config.model_specs
    names = [t.name for t in features.TASKS]
    assert dict(spec.label_keys) == {n: f"{n}_label" for n in names}
    assert dict(spec.example_weight_keys) == {n: f"{n}_weight" for n in names}
    assert list(spec.preprocessing_function_names) == ["transform_features"]
    assert spec.signature_name == "serving_default"
    assert [list(m.output_names) for m in config.metrics_specs] == [[n] for n in names]


def test_each_task_gates_its_metric_on_the_overall_slice_with_bound_and_change():
    tasks = PipelineConfig(thresholds={"click": 0.7}, max_changes={"watch_time": 3.0}).tasks()
    config = make_eval_config(tasks, features.SLICE_FEATURES)
    for task, spec in zip(tasks, config.metrics_specs):
        # One spec per task, weighted by the label mask; every metric is computed in one
        # pass per example (the row count counts unlabelled rows too).
        by_name = {m.class_name: m for m in spec.metrics}
        assert {"TaskExampleCount", "TaskWeightedExampleCount"} <= set(by_name)
        assert by_name["TaskExampleCount"].module == "pipeline.evaluation.task_metrics"
        gated = by_name["TaskAUC" if task.kind == "binary" else "TaskRootMeanSquaredError"]
        assert gated.module == "pipeline.evaluation.task_metrics"
        (per_slice,) = gated.per_slice_thresholds
        assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
        threshold = per_slice.threshold
        if task.kind == "binary":
            assert threshold.value_threshold.lower_bound.value == task.threshold
            assert threshold.change_threshold.absolute.value == -task.max_change
            assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
        else:
            assert "TaskMeanAbsoluteError" in by_name
            assert threshold.value_threshold.upper_bound.value == task.threshold
            assert threshold.change_threshold.absolute.value == task.max_change
            assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert tasks[0].threshold == 0.7
    assert tasks[2].max_change == 3.0


def test_slices_are_overall_and_device():
    config = make_eval_config(features.TASKS, features.SLICE_FEATURES)
    assert [list(s.feature_keys) for s in config.slicing_specs] == [[], ["device"]]


def test_unknown_task_in_overrides_is_an_error():
    try:
        PipelineConfig(thresholds={"clik": 0.7})
    except ValueError as e:
        assert "clik" in str(e) and "click" in str(e)
    else:
        raise AssertionError("expected ValueError")


def test_adding_a_task_adds_its_metrics():
    extra = dataclasses.replace(features.TASKS[0], name="share", label_key="share")
    config = make_eval_config(features.TASKS + (extra,), features.SLICE_FEATURES)
    assert config.model_specs[0].label_keys["share"] == "share_label"
    assert list(config.metrics_specs[-1].output_names) == ["share"]
