"""A prediction target of a problem (`Task`): its kind, label, loss weight and release gate."""

from __future__ import annotations

import dataclasses

from models.spec.kinds import DEFAULT_MISSING_LABEL, GATE_METRICS, TASK_KINDS, TFMA_METRICS, TaskKind


@dataclasses.dataclass(frozen=True)
class Task:
    """One prediction target.

    Attributes:
      name: the output name of the model and of the serving signature.
      kind: "binary" (sigmoid head, AUC), "regression" (non-negative head, RMSE) or
        "multiclass" (softmax over `num_classes` classes, accuracy and top-k accuracy).
      label_key: the raw feature holding the label. A multiclass label is the class id.
      loss_weight: static weight of this task's loss in the total loss.
      threshold: the release bound on the overall slice: the lower bound on AUC for a
        binary task or on accuracy for a multiclass task, the upper bound on RMSE for a
        regression task.
      max_change: the largest allowed degradation against the last blessed model, in the
        metric's own units, or as a fraction of the baseline (`gate["change_mode"]`).
      scale: typical magnitude of a regression label; the head predicts in label units and
        the loss is divided by scale**2 so every task's loss starts near 1.
      num_classes: the number of classes K of a multiclass task (0 for other kinds).
      top_k: the k of a multiclass task's top-k accuracy (reported, not gated).
      optional: trained only when a run names it (`mtl run --with-task NAME`); its label may
        be absent from the data.
      missing_label: the label value meaning "not observed" (an absent label counts as it).
      fusion_weight: the task's weight in the serving signatures' fused `score`.
      classes: a multiclass task's class names (ids 0..K-1 in this order), when given.
      gate: the rest of the release gate (`pipeline.evaluation.gates.TaskGate` fields:
        change_mode, min_labels, slice_bound, min_slice_examples, naive_ratio, naive_margin).
    """

    name: str
    kind: TaskKind
    label_key: str
    loss_weight: float = 1.0
    threshold: float = 0.5
    max_change: float = 0.02
    scale: float = 1.0
    num_classes: int = 0
    top_k: int = 2
    optional: bool = False
    missing_label: float = DEFAULT_MISSING_LABEL
    fusion_weight: float = 1.0
    classes: tuple[str, ...] = ()
    gate: dict = dataclasses.field(default_factory=dict, hash=False)
    # Text tasks: the text feature whose tokens are tagged or hold the answer; a span task's
    # question feature, its end label (`label_key` is the start) and longest answer in tokens;
    # a sequence_labeling task's IOB2 tags (id = position; `num_classes` is their number).
    text: str | None = None
    question: str | None = None
    label_end_key: str | None = None
    max_answer_tokens: int = 30
    tags: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.name!r}: unknown kind {self.kind!r}; "
                             f"expected one of {list(TASK_KINDS)}")
        if self.kind == "sequence_labeling" and len(self.tags) < 2:
            raise ValueError(f"task {self.name!r}: a sequence_labeling task needs at least 2 "
                             f"tags, got {list(self.tags)}")
        if self.kind == "multiclass" and self.num_classes < 2:
            raise ValueError(f"task {self.name!r}: a multiclass task needs num_classes >= 2, "
                             f"got {self.num_classes}")
        if self.kind == "multiclass" and not 1 <= self.top_k <= self.num_classes:
            raise ValueError(f"task {self.name!r}: top_k must be in 1..{self.num_classes}, "
                             f"got {self.top_k}")

    @property
    def metric(self) -> str:
        """The gating metric's TFMA name."""
        return TFMA_METRICS[self.kind]

    @property
    def max_label(self) -> int | None:
        """The largest valid label: 1 (binary), K - 1 (a multiclass class id), None (regression,
        unbounded). Transform clips to it, the curated schema checks it, the loss relies on it."""
        return {"binary": 1, "multiclass": self.num_classes - 1}.get(self.kind)

    @property
    def top_k_metric(self) -> str:
        """A multiclass task's top-k accuracy metric name (reported next to `metric`)."""
        return f"top_{self.top_k}_accuracy"

    @property
    def higher_is_better(self) -> bool:
        return self.kind != "regression"

    def to_dict(self) -> dict:
        gate = {"metric": GATE_METRICS[self.kind], "bound": self.threshold,
                "max_change": self.max_change}
        for key, value in self.gate.items():
            gate["change" if key == "change_mode" else key] = value
        out = {"name": self.name, "kind": self.kind, "label": self.label_key,
               "missing": self.missing_label, "loss_weight": self.loss_weight,
               "fusion_weight": self.fusion_weight, "gate": gate}
        if self.kind == "regression":
            out["scale"] = self.scale
        if self.kind == "multiclass":
            out["top_k"] = self.top_k
            if self.classes:
                out["classes"] = list(self.classes)
            else:
                out["num_classes"] = self.num_classes
        if self.kind == "sequence_labeling":
            out.update(text=self.text, tags=list(self.tags))
            out.pop("missing")
        if self.kind == "span":
            out.pop("label")
            out.update(text=self.text, question=self.question,
                       labels={"start": self.label_key, "end": self.label_end_key},
                       max_answer_tokens=self.max_answer_tokens)
        if self.optional:
            out["optional"] = True
        return out


def task_by_name(name: str, tasks) -> Task:
    for task in tasks:
        if task.name == name:
            return task
    raise KeyError(f"unknown task {name!r}; known tasks: {[t.name for t in tasks]}")
