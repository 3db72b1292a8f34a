"""Per-task release gates: absolute bound, change threshold, label count, naive baseline.

A task's gate comes from its problem spec (`models.spec.Task`: the bound, the allowed change
and the `gate` fields), overridden by `PipelineConfig.thresholds` / `max_changes`, then by
`PipelineConfig.gates`:

    PipelineConfig(gates={
        "<binary task>": {"change_mode": "relative", "max_change": 0.03},  # may lose 3% of AUC
        "<regression task>": {"bound": 55.0, "min_labels": 500},
    })

- `bound`: AUC lower bound (binary tasks) or RMSE upper bound (regression), overall slice.
- `max_change` / `change_mode`: the largest allowed degradation against the latest blessed
  model, in the metric's units ("absolute") or as a fraction of the baseline ("relative").
  The direction follows the metric: an AUC may drop by at most that much, an RMSE may rise by
  at most that much.
- `min_labels`: observed labels the task needs in the evaluation split; fewer fails the gate
  with a message naming the task and the count, instead of blessing a model on nothing.
- `slice_bound` / `min_slice_examples` (optional): the same kind of bound on every slice of
  the spec's slice features, applied only to slices with at least that many
  observed labels, so a tiny slice cannot veto a release by noise (`pipeline.evaluation.slice_gate`).
- `naive_ratio` (regression) / `naive_margin` (binary, multiclass): the naive-baseline gate, on
  for every task (`pipeline.evaluation.naive_metrics`). A regression task's RMSE must be at most
  `naive_ratio` (default 0.95) times the RMSE of predicting the observed labels' mean; a binary
  task's AUC must exceed 0.5 (a constant score) by `naive_margin` (default 0.01); a multiclass
  task's accuracy must exceed the majority-class share by `naive_margin` (default 0.01). Both on
  the same evaluation rows and observed labels as the metric itself.

Pure Python: the CLI and the run summary use it without importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from models.spec import Task

ChangeMode = Literal["absolute", "relative"]
DEFAULT_MIN_LABELS = 50
DEFAULT_MIN_SLICE_EXAMPLES = 200
# The naive-baseline gate: RMSE <= 0.95 x the mean predictor's; AUC >= 0.5 + 0.01; accuracy >=
# majority share + 0.01.
DEFAULT_NAIVE_RATIO = 0.95
DEFAULT_NAIVE_MARGIN = 0.01
CHANCE_AUC = 0.5
# Per task kind: the TFMA metric gated (pipeline.evaluation.naive_metrics), the metric holding
# the naive predictor's own figure (None: the constant 0.5 of a binary task) and its name.
NAIVE_METRICS = {"regression": "naive_rmse_ratio", "binary": "auc_over_chance",
                 "multiclass": "accuracy_over_majority"}
NAIVE_FIGURES = {"regression": "naive_rmse", "binary": None, "multiclass": "majority_share"}
NAIVE_PREDICTORS = {"regression": "the mean predictor", "binary": "a constant score",
                    "multiclass": "the majority-class predictor"}


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
    naive_ratio: float = DEFAULT_NAIVE_RATIO
    naive_margin: float = DEFAULT_NAIVE_MARGIN

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
        if not self.naive_ratio > 0:
            raise ValueError(f"task {self.task.name!r}: naive_ratio must be > 0 (RMSE over the "
                             f"mean predictor's RMSE), got {self.naive_ratio}")

    @property
    def metric(self) -> str:
        return self.task.metric

    @property
    def higher_is_better(self) -> bool:
        return self.task.higher_is_better

    # --- the naive-baseline gate -----------------------------------------------------------

    @property
    def has_naive_gate(self) -> bool:
        """Text tasks have none: their gating metrics (entity F1, span F1) are 0 for the
        predictor that finds nothing, so their absolute bound already beats it."""
        return self.task.kind in NAIVE_METRICS

    @property
    def naive_metric(self) -> str | None:
        """The TFMA metric of the naive-baseline gate (pipeline.evaluation.naive_metrics)."""
        return NAIVE_METRICS.get(self.task.kind)

    @property
    def naive_threshold(self) -> float:
        """The TFMA bound on `naive_metric`: upper for the RMSE ratio, lower for the margins."""
        return self.naive_ratio if self.task.kind == "regression" else self.naive_margin

    @property
    def naive_predictor(self) -> str:
        return NAIVE_PREDICTORS.get(self.task.kind, "the predictor that finds nothing")

    def naive_figure(self, metrics: dict[str, float]) -> float | None:
        """The naive predictor's own value of the gating metric (naive RMSE, 0.5, majority
        share) from a slice's metrics; None when the run did not compute it."""
        if not self.has_naive_gate:
            return None
        name = NAIVE_FIGURES[self.task.kind]
        return CHANCE_AUC if name is None else metrics.get(name)

    def naive_limit(self, naive: float | None) -> float | None:
        """The worst candidate value the naive gate allows, in the gating metric's units."""
        if naive is None:
            return None
        if self.task.kind == "regression":
            return self.naive_ratio * naive
        return naive + self.naive_margin

    def describe_naive_bound(self, naive: float | None) -> str:
        limit = self.naive_limit(naive)
        return "-" if limit is None else f"{'≥' if self.higher_is_better else '≤'} {limit:.4f}"

    def naive_reason(self, candidate: float | None, naive: float | None,
                     observed: float | None) -> str | None:
        """Why the candidate fails the naive-baseline gate (None: it passes or cannot be told)."""
        limit = self.naive_limit(naive)
        if candidate is None or limit is None or math.isnan(candidate) or math.isnan(limit):
            return None
        if (candidate >= limit) if self.higher_is_better else (candidate <= limit):
            return None
        rows = (f"on the same {observed:,.0f} observed labels" if observed is not None
                else "on the same evaluation rows")
        name = self.task.name
        if self.task.kind == "regression":
            return (f"task {name!r} RMSE {candidate:.2f} is not below {self.naive_ratio:g} x "
                    f"{self.naive_predictor}'s {naive:.2f} (= {limit:.2f}) {rows}")
        what = {"binary": "AUC", "multiclass": "accuracy"}[self.task.kind]
        figure = ("0.5" if self.task.kind == "binary"
                  else f"{naive:.4f} (the most frequent class's share)")
        return (f"task {name!r} {what} {candidate:.4f} does not exceed {self.naive_predictor}'s "
                f"{figure} by {self.naive_margin:g} {rows}")

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
              observed_labels: float | None, naive: float | None = None) -> list[str]:
        """Why the candidate fails this gate (empty: it passes). Mirrors the TFMA config;
        `naive` is the naive predictor's figure (`naive_figure`) on the same rows."""
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
        naive_reason = self.naive_reason(candidate, naive, observed_labels)
        if naive_reason:
            reasons.append(naive_reason)
        if baseline is not None:
            limit = self.change_limit(baseline)
            if (candidate < limit) if self.higher_is_better else (candidate > limit):
                reasons.append(
                    f"task {name!r} {self.metric} {candidate:.4f} vs baseline {baseline:.4f}: "
                    f"allowed {self.describe_change()} (limit {limit:.4f})")
        return reasons


_FIELDS = ("bound", "max_change", "change_mode", "min_labels", "slice_bound",
           "min_slice_examples", "naive_ratio", "naive_margin")


def resolve(tasks: tuple[Task, ...], overrides: dict[str, dict] | None = None
            ) -> dict[str, TaskGate]:
    """Each task's gate: the task's own (from its spec), then `overrides[task]` fields."""
    overrides = dict(overrides or {})
    known = {t.name for t in tasks}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"gates: unknown tasks {unknown}; known tasks: {sorted(known)}")
    gates = {}
    for task in tasks:
        values = dict(task.gate) | dict(overrides.get(task.name, {}))
        bad = sorted(set(values) - set(_FIELDS))
        if bad:
            raise ValueError(f"gates[{task.name!r}]: unknown fields {bad}; known: {list(_FIELDS)}")
        wrong = "naive_margin" if task.kind == "regression" else "naive_ratio"
        if wrong in values:
            right = "naive_ratio" if task.kind == "regression" else "naive_margin"
            raise ValueError(f"gates[{task.name!r}]: {wrong} does not apply to a {task.kind} "
                             f"task; its naive-baseline gate is set with {right}")
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
            naive_ratio=float(values.get("naive_ratio", DEFAULT_NAIVE_RATIO)),
            naive_margin=float(values.get("naive_margin", DEFAULT_NAIVE_MARGIN)),
        )
    return gates
