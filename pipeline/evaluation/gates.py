"""Per-task release gates: absolute bound, direction-aware change threshold, label count.

A task's gate comes from its `models.features.Task` (bound and allowed absolute change),
overridden by `PipelineConfig.thresholds` / `max_changes`, then by `PipelineConfig.gates`:

    PipelineConfig(gates={
        "click": {"change_mode": "relative", "max_change": 0.03},   # may lose 3% of AUC
        "watch_time": {"bound": 55.0, "min_labels": 500},
    })

- `bound`: AUC lower bound (binary tasks) or RMSE upper bound (regression), overall slice.
- `max_change` / `change_mode`: the largest allowed degradation against the latest blessed
  model, in the metric's units ("absolute") or as a fraction of the baseline ("relative").
  The direction follows the metric: an AUC may drop by at most that much, an RMSE may rise by
  at most that much.
- `min_labels`: observed labels the task needs in the evaluation split; fewer fails the gate
  with a message naming the task and the count, instead of blessing a model on nothing.
- `slice_bound` / `min_slice_examples` (optional): the same kind of bound on every slice of
  `models.features.SLICE_FEATURES` (device), applied only to slices with at least that many
  observed labels, so a tiny slice cannot veto a release by noise (`pipeline.evaluation.slice_gate`).

Pure Python: the CLI and the run summary use it without importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from models.features import Task

ChangeMode = Literal["absolute", "relative"]
DEFAULT_MIN_LABELS = 50
DEFAULT_MIN_SLICE_EXAMPLES = 200


@dataclasses.dataclass(frozen=True)
class TaskGate:
    """The resolved gate of one task (see the module docstring)."""

    task: Task
    bound: float
    max_change: float
    change_mode: ChangeMode = "absolute"
    min_labels: int = DEFAULT_MIN_LABELS
    slice_bound: float | None = None
    min_slice_examples: int = DEFAULT_MIN_SLICE_EXAMPLES

    def __post_init__(self):
        if self.change_mode not in ("absolute", "relative"):
            raise ValueError(f"task {self.task.name!r}: change_mode must be 'absolute' or "
                             f"'relative', got {self.change_mode!r}")
        if self.max_change < 0:
            raise ValueError(f"task {self.task.name!r}: max_change must be >= 0 (an allowed "
                             f"degradation), got {self.max_change}")
        if self.min_labels < 0:
            raise ValueError(f"task {self.task.name!r}: min_labels must be >= 0, "
                             f"got {self.min_labels}")

    @property
    def metric(self) -> str:
        return self.task.metric

    @property
    def higher_is_better(self) -> bool:
        return self.task.higher_is_better

    def describe_bound(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.bound:g}"

    def describe_change(self) -> str:
        """E.g. "drop ≤ 0.02" or "rise ≤ 5%"."""
        verb = "drop" if self.higher_is_better else "rise"
        amount = (f"{self.max_change * 100:g}%" if self.change_mode == "relative"
                  else f"{self.max_change:g}")
        return f"{verb} ≤ {amount}"

    def change_limit(self, baseline: float) -> float:
        """The worst allowed candidate value given the baseline's value."""
        allowed = self.max_change * abs(baseline) if self.change_mode == "relative" \
            else self.max_change
        return baseline - allowed if self.higher_is_better else baseline + allowed

    def check(self, candidate: float | None, baseline: float | None,
              observed_labels: float | None) -> list[str]:
        """Why the candidate fails this gate (empty: it passes). Mirrors the TFMA config."""
        name = self.task.name
        reasons = []
        if observed_labels is not None and observed_labels < self.min_labels:
            reasons.append(f"task {name!r} has {observed_labels:.0f} observed labels in the "
                           f"evaluation split, fewer than the {self.min_labels} required")
        if candidate is None:
            reasons.append(f"task {name!r} has no {self.metric} for the candidate")
            return reasons
        if (candidate < self.bound) if self.higher_is_better else (candidate > self.bound):
            reasons.append(f"task {name!r} {self.metric} {candidate:.4f} is not "
                           f"{self.describe_bound()}")
        if baseline is not None:
            limit = self.change_limit(baseline)
            if (candidate < limit) if self.higher_is_better else (candidate > limit):
                reasons.append(
                    f"task {name!r} {self.metric} {candidate:.4f} vs baseline {baseline:.4f}: "
                    f"allowed {self.describe_change()} (limit {limit:.4f})")
        return reasons


_FIELDS = ("bound", "max_change", "change_mode", "min_labels", "slice_bound",
           "min_slice_examples")


def resolve(tasks: tuple[Task, ...], overrides: dict[str, dict] | None = None
            ) -> dict[str, TaskGate]:
    """Each task's gate: the task's own bound and change, then `overrides[task]` fields."""
    overrides = dict(overrides or {})
    known = {t.name for t in tasks}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"gates: unknown tasks {unknown}; known tasks: {sorted(known)}")
    gates = {}
    for task in tasks:
        values = dict(overrides.get(task.name, {}))
        bad = sorted(set(values) - set(_FIELDS))
        if bad:
            raise ValueError(f"gates[{task.name!r}]: unknown fields {bad}; known: {list(_FIELDS)}")
        gates[task.name] = TaskGate(
            task=task,
            bound=float(values.get("bound", task.threshold)),
            max_change=float(values.get("max_change", task.max_change)),
            change_mode=values.get("change_mode", "absolute"),
            min_labels=int(values.get("min_labels", DEFAULT_MIN_LABELS)),
            slice_bound=(None if values.get("slice_bound") is None
                         else float(values["slice_bound"])),
            min_slice_examples=int(values.get("min_slice_examples",
                                              DEFAULT_MIN_SLICE_EXAMPLES)),
        )
    return gates
