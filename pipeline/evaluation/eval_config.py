"""The TFMA EvalConfig, derived from the run's tasks and the problem spec's slices.

Per task: labels and example weights come from the tf.Transform outputs (`<task>_label`, the
clipped label, and `<task>_weight`, the observed-label mask: a -1 label is never read as a
label), AUC for binary tasks, RMSE / MAE for regression (both computed in one pass per
example, `pipeline.evaluation.task_metrics`), accuracy and top-k accuracy for multiclass tasks
(`pipeline.evaluation.multiclass_metrics`), example counts (all rows) and weighted example
counts (observed labels). Each task's gating metric has an absolute bound and
a change threshold against the baseline (absolute or relative, see `pipeline.evaluation.gates`) on the
overall slice, its margin over the naive predictor a bound (`pipeline.evaluation.naive_metrics`),
and its observed-label count a lower bound; blessing needs every task to pass.
"""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from models.signatures import SERVING_DEFAULT
from models.spec import Task, label_name, weight_name
from pipeline.evaluation import gates as gates_lib
from pipeline.evaluation import task_metrics, text_metrics
from pipeline.evaluation.gates import TaskGate

MULTICLASS_MODULE = "pipeline.evaluation.multiclass_metrics"
NAIVE_MODULE = "pipeline.evaluation.naive_metrics"
TASK_METRICS_MODULE = "pipeline.evaluation.task_metrics"
# Per task kind, the class of `pipeline.evaluation.naive_metrics` gating the task against its
# naive predictor.
NAIVE_CLASSES = {"regression": "NaiveRmseRatio", "binary": "AucOverChance",
                 "multiclass": "AccuracyOverMajority"}
CANDIDATE = "candidate"
BASELINE = "baseline"


def _thresholds(gate: TaskGate) -> tfma.MetricThreshold:
    """The bound and the direction-aware change threshold (absolute or relative)."""
    if gate.higher_is_better:
        direction, sign = tfma.MetricDirection.HIGHER_IS_BETTER, -1.0
        value = tfma.GenericValueThreshold(lower_bound={"value": gate.bound})
    else:
        direction, sign = tfma.MetricDirection.LOWER_IS_BETTER, 1.0
        value = tfma.GenericValueThreshold(upper_bound={"value": gate.bound})
    # TFMA's relative change is (candidate - baseline) / baseline.
    change = tfma.GenericChangeThreshold(direction=direction,
                                         **{gate.change_mode: {"value": sign * gate.max_change}})
    return tfma.MetricThreshold(value_threshold=value, change_threshold=change)


def _overall(class_name: str, threshold: tfma.MetricThreshold) -> tfma.MetricConfig:
    """A metric whose threshold applies to the overall slice only (slices are reported)."""
    return tfma.MetricConfig(
        class_name=class_name,
        per_slice_thresholds=[
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        ],
    )


def _gated(class_name: str, task: Task | TaskGate) -> tfma.MetricConfig:
    gate = task if isinstance(task, TaskGate) else gates_lib.resolve((task,))[task.name]
    return _overall(class_name, _thresholds(gate))


def naive_gate(gate: TaskGate) -> tfma.MetricConfig:
    """The naive-baseline gate on the overall slice (computed and reported on every slice):
    RMSE ratio <= `naive_ratio`, or AUC / accuracy margin >= `naive_margin`."""
    if gate.task.kind == "regression":
        value = tfma.GenericValueThreshold(upper_bound={"value": gate.naive_threshold})
    else:
        value = tfma.GenericValueThreshold(lower_bound={"value": gate.naive_threshold})
    config = _overall(NAIVE_CLASSES[gate.task.kind], tfma.MetricThreshold(value_threshold=value))
    config.module = NAIVE_MODULE
    return config


def slice_gate(gate: TaskGate, slice_features: tuple[str, ...]) -> tfma.MetricConfig:
    """The per-slice bound as a `pipeline.evaluation.slice_gate.SliceGate` metric: its margin over the
    bound must be >= 0 on every slice of `slice_features` (+inf on slices too small to judge)."""
    config = {"metric": "auc" if gate.higher_is_better else "rmse",
              "bound": gate.slice_bound, "min_examples": gate.min_slice_examples}
    return tfma.MetricConfig(
        class_name="SliceGate",
        module="pipeline.evaluation.slice_gate",
        config=json.dumps(config, sort_keys=True),
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec(feature_keys=[key]) for key in slice_features],
            threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": 0.0})))],
    )


def _one_pass(class_name: str, task: Task, threshold: tfma.MetricThreshold | None = None,
              kind: bool = False) -> tfma.MetricConfig:
    """A `pipeline.evaluation.task_metrics` metric (thresholded on the overall slice)."""
    config = (_overall(class_name, threshold) if threshold is not None
              else tfma.MetricConfig(class_name=class_name))
    config.module = TASK_METRICS_MODULE
    if kind:
        config.config = json.dumps({"kind": task.kind})
    return config


def _min_labels(gate: TaskGate) -> tfma.MetricThreshold:
    return tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        lower_bound={"value": float(gate.min_labels)}))


def metrics_specs(task: Task, gate: TaskGate | None = None,
                  slice_features: tuple[str, ...] = ()) -> list[tfma.MetricsSpec]:
    """A task's metrics: rows (all examples), observed labels and quality (weighted by the
    observed-label mask, so `weighted_example_count` is the number of observed labels). The
    observed-label count is gated by `gate.min_labels`, so a task with too few labels in the
    evaluation split fails instead of blessing on nothing.

    Binary and regression tasks compute all of it in one pass per example
    (`pipeline.evaluation.task_metrics`); the other kinds use TFMA's counts, with the row count
    in an unweighted spec of its own.
    """
    gate = gate or gates_lib.resolve((task,))[task.name]
    if task.kind in task_metrics.KINDS:
        if task.kind == "binary":
            quality = [_one_pass("TaskAUC", task, _thresholds(gate))]
        else:
            quality = [_one_pass("TaskRootMeanSquaredError", task, _thresholds(gate)),
                       _one_pass("TaskMeanAbsoluteError", task)]
        if gate.has_naive_gate:
            quality.append(naive_gate(gate))
        if gate.slice_bound is not None and slice_features:
            quality.append(slice_gate(gate, slice_features))
        return [tfma.MetricsSpec(
            output_names=[task.name],
            metrics=[_one_pass("TaskExampleCount", task, kind=True),
                     _one_pass("TaskWeightedExampleCount", task, _min_labels(gate), kind=True),
                     *quality])]
    rows = tfma.MetricsSpec(
        output_names=[task.name],
        metrics=[tfma.MetricConfig(class_name="ExampleCount")],
        example_weights=tfma.ExampleWeightOptions(unweighted=True, weighted=False),
    )
    if task.kind == "multiclass":
        if gate.slice_bound is not None:
            raise ValueError(f"gates[{task.name!r}]: slice_bound is not supported for a "
                             f"multiclass task (it gates AUC or RMSE per slice)")
        accuracy = _gated("MulticlassAccuracy", gate)
        accuracy.module = MULTICLASS_MODULE
        accuracy.config = json.dumps({"name": "accuracy", "top_k": 1}, sort_keys=True)
        top_k = tfma.MetricConfig(
            class_name="MulticlassAccuracy", module=MULTICLASS_MODULE,
            config=json.dumps({"name": task.top_k_metric, "top_k": task.top_k}, sort_keys=True))
        quality = [accuracy, top_k]
        if gate.has_naive_gate:
            quality.append(naive_gate(gate))
    elif task.kind in ("sequence_labeling", "span"):
        if gate.slice_bound is not None:
            raise ValueError(f"gates[{task.name!r}]: slice_bound is not supported for a "
                             f"{task.kind} task")
        quality = text_metrics.text_metric_configs(
            task.kind, task.name, gate.bound, tags=task.tags,
            tokens_feature=f"{task.text}_tokens" if task.kind == "span" else None,
            max_answer_tokens=task.max_answer_tokens)
        # The gated metric (the first): its bound and the change against the baseline.
        gated = quality[0]
        del gated.per_slice_thresholds[:]
        gated.per_slice_thresholds.append(tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()], threshold=_thresholds(gate)))
    else:
        raise ValueError(f"task {task.name!r}: no metrics for kind {task.kind!r}")
    observed = tfma.MetricsSpec(
        output_names=[task.name],
        metrics=[_overall("WeightedExampleCount", _min_labels(gate))] + quality,
    )
    return [rows, observed]


def make_eval_config(tasks: tuple[Task, ...], slice_features: tuple[str, ...],
                     gate_overrides: dict[str, dict] | None = None) -> tfma.EvalConfig:
    """The EvalConfig of a problem's `tasks` and `slice_features`; `gate_overrides` is
    `PipelineConfig.gates` (see `pipeline.evaluation.gates`)."""
    gates = gates_lib.resolve(tasks, gate_overrides)
    # One unnamed spec: TFX's Evaluator names it "candidate" and adds the "baseline" copy when
    # a blessed baseline exists (and drops the change thresholds on the first run).
    model_spec = tfma.ModelSpec(
        signature_name=SERVING_DEFAULT,
        preprocessing_function_names=["transform_features"],
        model_type=tfma.TF_GENERIC,
        label_keys={t.name: label_name(t) for t in tasks},
        example_weight_keys={t.name: weight_name(t) for t in tasks},
    )
    return tfma.EvalConfig(
        model_specs=[model_spec],
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=[key]) for key in slice_features],
        metrics_specs=[spec for t in tasks for spec in metrics_specs(t, gates[t.name], slice_features)],
    )
