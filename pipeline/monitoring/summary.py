"""What a run did, read back from ML Metadata and the Evaluator's outputs.

`summarize_latest_run(config)` finds the newest pipeline run in the home's metadata.db and
collects per-component wall times (cached or executed), each task's candidate and baseline
metrics on the overall slice and per slice, the blessing with the reasons for a failure, each
task's gate (candidate vs baseline, bound, allowed change, the naive predictor and the bound
it sets, verdict), the Pusher's latency figure
and decision, and the pushed path; for a text problem, how many texts of each text feature
Transform truncated, from its post-transform statistics.
"""

from __future__ import annotations

import dataclasses
import os

from models.spec import ProblemSpec, Task, truncated_name
from pipeline.core import metadata
from pipeline.core.config import PipelineConfig
from pipeline.evaluation import gates as gates_lib
from pipeline.evaluation.gates import TaskGate
from pipeline.monitoring import tuning as tuning_lib

_STATES = {0: "UNKNOWN", 1: "NEW", 2: "RUNNING", 3: "COMPLETE", 4: "FAILED", 5: "CACHED",
           6: "CANCELED"}


@dataclasses.dataclass
class ComponentRun:
    node_id: str
    state: str
    seconds: float


@dataclasses.dataclass
class TaskMetrics:
    task: Task
    candidate: dict[str, float]
    baseline: dict[str, float]
    by_slice: dict[str, dict[str, float]]

    @property
    def gate_value(self) -> float | None:
        return self.candidate.get(self.task.metric)


@dataclasses.dataclass(frozen=True)
class Truncation:
    """How many of the examples Transform read had more tokens in a text feature than its
    `max_length` (they were truncated), from Transform's post-transform statistics."""

    feature: str
    max_length: int
    truncated: int
    examples: int

    def line(self) -> str:
        share = self.truncated / self.examples if self.examples else 0.0
        return (f"Truncated: {self.feature} {self.truncated:,} of {self.examples:,} transformed "
                f"examples ({share:.1%}) longer than {self.max_length} tokens")


@dataclasses.dataclass
class RunSummary:
    run_id: str
    components: list[ComponentRun]
    tasks: list[TaskMetrics]
    blessed: bool | None
    failures: list[str]
    pushed: bool
    pushed_path: str | None
    evaluation_uri: str | None
    # The gates each task was judged by (pipeline.evaluation.gates) and the Pusher's record.
    gates: dict[str, TaskGate] = dataclasses.field(default_factory=dict)
    push_decision: str | None = None
    push_reason: str | None = None
    latency_p99_ms: float | None = None
    latency_budget_ms: float | None = None
    served_version: str | None = None
    # One per text feature of a text problem (none for another problem, or when the run's
    # Transform wrote no statistics).
    truncation: list[Truncation] = dataclasses.field(default_factory=list)
    # What the run did about tuning (pipeline.monitoring.tuning.run_tuning), None when neither
    # a search nor a stored one.
    tuning: str | None = None

    def gate_lines(self) -> list[str]:
        """Per task: candidate vs baseline, bound, allowed change, the naive predictor's figure
        on the same observed labels with the bound it sets, and the verdict with why."""
        if not self.gates or not self.tasks:
            return []
        lines = ["", "Gate per task (overall slice; naive: the mean / constant / majority-class "
                 "predictor on the same observed labels):",
                 f"  {'task':<16} {'metric':<24} {'candidate':>10} {'baseline':>10} "
                 f"{'bound':>9} {'change allowed':>16} {'naive':>8} {'naive bound':>12} "
                 f"{'labels':>7}  verdict"]
        for tm in self.tasks:
            gate = self.gates.get(tm.task.name)
            if gate is None:
                continue
            cand, base = tm.candidate.get(gate.metric), tm.baseline.get(gate.metric)
            observed = tm.candidate.get("weighted_example_count")
            naive = gate.naive_figure(tm.candidate)
            reasons = gate.check(cand, base, observed, naive)
            change = gate.describe_change() if base is not None else "(no baseline)"
            lines.append(
                f"  {tm.task.name:<16} {gate.metric:<24} "
                f"{(f'{cand:.4f}' if cand is not None else '-'):>10} "
                f"{(f'{base:.4f}' if base is not None else '-'):>10} "
                f"{gate.describe_bound():>9} {change:>16} "
                f"{(f'{naive:.4f}' if naive is not None else '-'):>8} "
                f"{gate.describe_naive_bound(naive):>12} "
                f"{(f'{observed:.0f}' if observed is not None else '-'):>7}  "
                f"{'pass' if not reasons else 'FAIL'}")
            for reason in reasons:
                lines.append(f"      {reason}")
        return lines

    def push_lines(self) -> list[str]:
        lines = []
        if self.latency_p99_ms is not None:
            budget = (f" (budget {self.latency_budget_ms:g} ms)"
                      if self.latency_budget_ms is not None else "")
            lines.append(f"Latency: serving_default p99 at batch 1 = "
                         f"{self.latency_p99_ms:.2f} ms{budget}")
        if self.push_decision:
            lines.append(f"Push decision: {self.push_decision} ({self.push_reason})")
        return lines

    def component(self, node_id: str) -> ComponentRun | None:
        return next((c for c in self.components if c.node_id == node_id), None)

    def format(self) -> str:
        lines = [f"Run {self.run_id}", "", "Components (wall seconds):"]
        for comp in self.components:
            lines.append(f"  {comp.node_id:<32} {comp.state:<9} {comp.seconds:8.1f}")
        lines.append(f"  {'total':<32} {'':<9} {sum(c.seconds for c in self.components):8.1f}")
        if self.tuning:
            lines += ["", self.tuning]
        lines += ["", "Evaluation (overall slice, eval split):"]
        header = f"  {'task':<16} {'metric':<24} {'candidate':>10} {'baseline':>10} {'bound':>10}"
        lines.append(header + f" {'examples':>9} {'observed':>9}")
        for tm in self.tasks:
            bound = ("≥ " if tm.task.higher_is_better else "≤ ") + f"{tm.task.threshold:g}"
            for name, value in sorted(tm.candidate.items()):
                if name in ("example_count", "weighted_example_count"):
                    continue
                base = tm.baseline.get(name)
                lines.append(
                    f"  {tm.task.name:<16} {name:<24} {value:>10.4f} "
                    f"{(f'{base:.4f}' if base is not None else '-'):>10} "
                    f"{(bound if name == tm.task.metric else ''):>10} "
                    f"{tm.candidate.get('example_count', 0):>9.0f} "
                    f"{tm.candidate.get('weighted_example_count', 0):>9.0f}"
                )
        if any(tm.by_slice for tm in self.tasks):
            lines += ["", "By slice:"]
            for tm in self.tasks:
                for slice_name, values in sorted(tm.by_slice.items()):
                    value = values.get(tm.task.metric)
                    if value is not None:
                        lines.append(f"  {tm.task.name:<16} {slice_name:<24} "
                                     f"{tm.task.metric} {value:.4f}")
        lines += self.gate_lines()
        if self.truncation:
            lines += ["", *(t.line() for t in self.truncation)]
        lines.append("")
        if self.blessed is None:
            lines.append("Blessed: unknown (the Evaluator did not run)")
        else:
            lines.append(f"Blessed: {'yes' if self.blessed else 'no'}")
        for failure in self.failures:
            lines.append(f"  - {failure}")
        lines += self.push_lines()
        if self.pushed:
            lines.append(f"Pushed: {self.pushed_path}")
        else:
            lines.append("Pushed: no")
        return "\n".join(lines)


def _slice_name(slice_key) -> str:
    if not slice_key.single_slice_keys:
        return ""
    parts = []
    for key in slice_key.single_slice_keys:
        value = key.bytes_value.decode() if key.HasField("bytes_value") else (
            key.int64_value if key.HasField("int64_value") else key.float_value)
        parts.append(f"{key.column}={value}")
    return ",".join(parts)


def read_metrics(evaluation_uri: str, tasks: tuple[Task, ...]) -> list[TaskMetrics]:
    """Per-task metrics from a TFMA output folder, overall and by slice."""
    import tensorflow_model_analysis as tfma

    per_task = {t.name: TaskMetrics(t, {}, {}, {}) for t in tasks}
    for metrics_for_slice in tfma.load_metrics(evaluation_uri):
        slice_name = _slice_name(metrics_for_slice.slice_key)
        for item in metrics_for_slice.metric_keys_and_values:
            key = item.key
            if key.output_name not in per_task or key.is_diff:
                continue
            if not item.value.HasField("double_value"):
                continue
            if key.name == "example_count" and key.example_weighted.value:
                continue  # the weighted row count duplicates weighted_example_count
            value = item.value.double_value.value
            tm = per_task[key.output_name]
            baseline = key.model_name == "baseline"
            if slice_name == "":
                (tm.baseline if baseline else tm.candidate)[key.name] = value
            elif not baseline:
                tm.by_slice.setdefault(slice_name, {})[key.name] = value
    return [per_task[t.name] for t in tasks]


def read_failures(evaluation_uri: str, tasks: tuple[Task, ...] = (),
                  gates: dict[str, TaskGate] | None = None) -> list[str]:
    """Human-readable reasons the TFMA validation failed (empty when it passed).

    A naive-baseline failure of a task in `tasks` names the naive predictor, its figure and the
    number of observed labels, read from the same evaluation (`gates` gives the bound used)."""
    import tensorflow_model_analysis as tfma

    try:
        result = tfma.load_validation_result(evaluation_uri)
    except Exception:  # noqa: BLE001 - no validation file: the Evaluator ran no validation
        return []
    gates = gates if gates is not None else gates_lib.resolve(tasks)
    naive_names = set(gates_lib.NAIVE_METRICS.values())
    metrics: dict[str, TaskMetrics] | None = None
    failures = []
    for per_slice in result.metric_validations_per_slice:
        slice_name = _slice_name(per_slice.slice_key) or "overall"
        for failure in per_slice.failures:
            key = failure.metric_key
            kind = "change vs baseline" if key.is_diff else "value"
            reason = failure.message.strip() or "threshold"
            if key.name == "slice_gate" and not key.is_diff:
                failures.append(
                    f"task {key.output_name!r} on slice {slice_name} misses its per-slice "
                    f"bound by {abs(failure.metric_value.double_value.value):.4f} (the slice "
                    f"has enough observed labels to be judged)")
                continue
            if key.name in naive_names and not key.is_diff and key.output_name in gates:
                if metrics is None:
                    metrics = {tm.task.name: tm for tm in read_metrics(
                        evaluation_uri, tuple(g.task for g in gates.values()))}
                failures.append(_naive_failure(
                    gates[key.output_name], metrics[key.output_name],
                    failure.metric_value.double_value.value,
                    failure.metric_threshold.value_threshold, slice_name))
                continue
            if key.name == "weighted_example_count" and not key.is_diff:
                bound = failure.metric_threshold.value_threshold.lower_bound.value
                failures.append(
                    f"task {key.output_name!r} has "
                    f"{failure.metric_value.double_value.value:.0f} observed labels in the "
                    f"evaluation split ({slice_name}), fewer than the {bound:.0f} required")
                continue
            failures.append(
                f"task {key.output_name!r} {key.name} {kind} on {slice_name}: "
                f"{failure.metric_value.double_value.value:.4f} fails {reason}"
            )
    for missing in result.missing_slices:
        failures.append(f"missing slice {_slice_name(missing)}")
    return failures


def _naive_failure(gate: TaskGate, tm: TaskMetrics, value: float, threshold,
                   slice_name: str) -> str:
    """A naive-baseline failure in words, with the bound the Evaluator actually used."""
    bound = (threshold.upper_bound.value if threshold.HasField("upper_bound")
             else threshold.lower_bound.value)
    field = "naive_ratio" if gate.task.kind == "regression" else "naive_margin"
    used = dataclasses.replace(gate, **{field: bound})
    reason = used.naive_reason(tm.candidate.get(gate.metric), gate.naive_figure(tm.candidate),
                               tm.candidate.get("weighted_example_count"))
    return reason or (f"task {gate.task.name!r} {gate.naive_metric} on {slice_name}: "
                      f"{value:.4f} fails its bound {bound:g} against {gate.naive_predictor}")


# The statistics file TFX's Transform writes in its post_transform_stats artifact (one
# dataset: every split it transformed), tfx.components.transform.executor.STATS_FILE.
TRANSFORM_STATS_FILE = "FeatureStats.pb"


def read_truncation(stats_uri: str, spec: ProblemSpec) -> list[Truncation]:
    """Each text feature's truncated texts, counted by Transform's post-transform statistics
    of its `<feature>_truncated` (1 for a truncated text, else 0: the examples minus the
    zeros). A feature the statistics lack (a run before the flag existed) is left out."""
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(os.path.join(stats_uri, TRANSFORM_STATS_FILE))
    if not stats.datasets:
        return []
    dataset = stats.datasets[0]
    out = []
    for feature in spec.text_features:
        try:
            flag = tfdv.get_feature_stats(dataset, tfdv.FeaturePath([truncated_name(feature.name)]))
        except ValueError:
            continue
        counted = flag.num_stats.common_stats.num_non_missing
        out.append(Truncation(feature.name, feature.max_length,
                              counted - flag.num_stats.num_zeros, dataset.num_examples))
    return out


def summarize_latest_run(config: PipelineConfig) -> RunSummary:
    store = metadata.open_home_store(config.metadata_path, config.home)
    runs = metadata.runs_oldest_first(store)
    if not runs:
        raise metadata.NoRunsError(f"no pipeline run recorded in {config.metadata_path}")
    return summarize_run(config, store, runs[-1])


def summarize_run(config: PipelineConfig, store, run_context) -> RunSummary:
    executions = store.get_executions_by_context(run_context.id)
    components = []
    artifacts_by_node: dict[str, list] = {}
    execution_by_node: dict[str, int] = {}
    node_prefix = f"{config.pipeline_name}."
    for execution in sorted(executions, key=lambda e: e.create_time_since_epoch):
        node_id = "?"
        for ctx in store.get_contexts_by_execution(execution.id):
            if ctx.name.startswith(node_prefix) and store.get_context_types_by_id(
                [ctx.type_id]
            )[0].name == "node":
                node_id = ctx.name[len(node_prefix):]
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3
        components.append(ComponentRun(node_id, _STATES.get(execution.last_known_state, "?"),
                                       seconds))
        artifacts_by_node[node_id] = metadata.output_artifacts(store, [execution.id])
        execution_by_node[node_id] = execution.id

    types = metadata.artifact_type_names(store)
    evaluation_uri = blessed = pushed_path = None
    pushed = False
    for artifact in artifacts_by_node.get("Evaluator", []):
        if types[artifact.type_id] == "ModelEvaluation":
            evaluation_uri = artifact.uri
        if types[artifact.type_id] == "ModelBlessing":
            blessed = bool(artifact.custom_properties["blessed"].int_value)
    push_props: dict = {}
    for artifact in artifacts_by_node.get("Pusher", []):
        if types[artifact.type_id] == "PushedModel":
            pushed = bool(artifact.custom_properties["pushed"].int_value)
            if pushed:
                pushed_path = artifact.custom_properties["pushed_destination"].string_value
            push_props = dict(artifact.custom_properties)
    recorded = run_spec(store, run_context)
    tasks = _recorded_tasks(config, recorded)
    metrics = read_metrics(evaluation_uri, tasks) if evaluation_uri else []
    spec = recorded[0] if recorded else config.spec
    truncation = []
    if spec.text_features and "Transform" in execution_by_node:
        stats = metadata.output_artifacts_by_key(store, execution_by_node["Transform"]).get(
            "post_transform_stats", [])
        truncation = read_truncation(stats[0].uri, spec) if stats else []
    names = {t.name for t in tasks}
    gates = gates_lib.resolve(tasks, {k: v for k, v in config.gates.items() if k in names})
    failures = (read_failures(evaluation_uri, tasks, gates)
                if evaluation_uri and blessed is False else [])
    return RunSummary(
        run_id=run_context.name,
        components=components,
        tasks=metrics,
        blessed=blessed,
        failures=failures,
        pushed=pushed,
        pushed_path=os.fspath(pushed_path) if pushed_path else None,
        evaluation_uri=evaluation_uri,
        gates=gates,
        push_decision=_string_prop(push_props, "push_decision"),
        push_reason=_string_prop(push_props, "push_reason"),
        latency_p99_ms=_float_prop(push_props, "latency_p99_ms"),
        latency_budget_ms=_float_prop(push_props, "latency_budget_ms"),
        served_version=_string_prop(push_props, "served_version"),
        truncation=truncation,
        tuning=tuning_lib.run_tuning(store, config.pipeline_name, run_context),
    )


def run_spec(store, run_context) -> tuple[ProblemSpec, tuple[str, ...]] | None:
    """The problem spec a run recorded and the optional tasks it enabled; None when it
    recorded none (it stopped before Transform)."""
    recorded = metadata.run_problem(store, run_context)
    if recorded is None:
        return None
    values, extra = recorded
    return ProblemSpec.from_dict(values, source=f"run {run_context.name}"), extra


def run_tasks(config: PipelineConfig, store, run_context) -> tuple[Task, ...]:
    """The tasks a run trained, from the problem spec it recorded (`mtl metrics` and `mtl
    report` read every run of a home, whatever spec the command was given); the config's
    tasks for a run that recorded none (it stopped before Transform)."""
    return _recorded_tasks(config, run_spec(store, run_context))


def _recorded_tasks(config: PipelineConfig,
                    recorded: tuple[ProblemSpec, tuple[str, ...]] | None) -> tuple[Task, ...]:
    if recorded is None:
        return config.tasks()
    spec, extra = recorded
    overrides = {t.name: t for t in config.tasks()} if spec == config.spec else {}
    return tuple(overrides.get(t.name, t) for t in spec.select_tasks(extra))


def _string_prop(props: dict, name: str) -> str | None:
    return props[name].string_value if name in props else None


def _float_prop(props: dict, name: str) -> float | None:
    return props[name].double_value if name in props else None
