"""The feature and task specification: the one place that names raw keys, vocabularies and tasks.

Transform (``models.preprocessing``), the model (``models.model``), the trainer's input and
serving code (``models.trainer``), the evaluation config (``pipeline.evaluation.eval_config``) and the run
summary all read this module, so adding a task or a feature is a change here and nowhere else.

Pure Python: importing this module imports no TensorFlow, so the pipeline definition and the CLI
can use the task list without paying for a TensorFlow import.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

# --- Raw features -------------------------------------------------------------------------------

# Categorical string features -> (vocabulary top_k, embedding dimension). Values outside the
# top_k most frequent (or never seen) map to one OOV bucket.
CATEGORICAL_FEATURES: dict[str, tuple[int, int]] = {
    "user_id": (20_000, 16),
    "item_id": (5_000, 16),
    "category": (100, 8),
    "device": (10, 4),
}
# Float features, z-scored by Transform.
FLOAT_FEATURES: tuple[str, ...] = ("price", "item_ctr_7d")
# Integer features, z-scored by Transform (as floats).
INT_FEATURES: tuple[str, ...] = ("user_age", "hour")
# Variable-length list of recently clicked item ids, mapped through the `item_id` vocabulary.
HISTORY_FEATURE = "history_item_ids"
HISTORY_VOCAB_OF = "item_id"
HISTORY_LENGTH = 20
# Number of OOV buckets for every vocabulary.
NUM_OOV_BUCKETS = 1

# Defaults used when a serving request omits a feature (documented in the README).
SERVING_DEFAULTS: dict[str, object] = {
    "user_id": "",
    "item_id": "",
    "category": "",
    "device": "",
    "price": 0.0,
    "item_ctr_7d": 0.0,
    "user_age": 0,
    "hour": 0,
}

# Label value meaning "not observed" (int labels) / (float labels).
MISSING_LABEL = -1

TaskKind = Literal["binary", "regression", "multiclass"]
TASK_KINDS: tuple[str, ...] = ("binary", "regression", "multiclass")


@dataclasses.dataclass(frozen=True)
class Task:
    """One prediction target.

    Attributes:
      name: the output name of the model and of the serving signature.
      kind: "binary" (sigmoid head, AUC), "regression" (non-negative head, RMSE) or
        "multiclass" (softmax over `num_classes` classes, accuracy and top-k accuracy).
      label_key: the raw feature holding the label; -1 means "not observed". A multiclass
        label is the class id, 0 .. num_classes - 1.
      loss_weight: static weight of this task's loss in the total loss.
      threshold: the release bound on the overall slice: the lower bound on AUC for a
        binary task or on accuracy for a multiclass task, the upper bound on RMSE for a
        regression task.
      max_change: the largest allowed degradation against the last blessed model, in the
        metric's own units (AUC points lost, RMSE gained).
      scale: typical magnitude of a regression label; the head predicts in label units and
        the loss is divided by scale**2 so every task's loss starts near 1.
      num_classes: the number of classes K of a multiclass task (0 for other kinds).
      top_k: the k of a multiclass task's top-k accuracy (reported, not gated).
      optional: not in the default task list; a run enables it by name
        (`PipelineConfig.extra_tasks`, `mtl run --with-task NAME`).
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

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.name!r}: unknown kind {self.kind!r}; "
                             f"expected one of {list(TASK_KINDS)}")
        if self.kind == "multiclass" and self.num_classes < 2:
            raise ValueError(f"task {self.name!r}: a multiclass task needs num_classes >= 2, "
                             f"got {self.num_classes}")
        if self.kind == "multiclass" and not 1 <= self.top_k <= self.num_classes:
            raise ValueError(f"task {self.name!r}: top_k must be in 1..{self.num_classes}, "
                             f"got {self.top_k}")

    @property
    def metric(self) -> str:
        """The gating metric's TFMA name."""
        return {"binary": "auc", "regression": "root_mean_squared_error",
                "multiclass": "accuracy"}[self.kind]

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


TASKS: tuple[Task, ...] = (
    Task("click", "binary", "click", loss_weight=1.0, threshold=0.65, max_change=0.02),
    Task("conversion", "binary", "conversion", loss_weight=1.0, threshold=0.6, max_change=0.03),
    Task(
        "watch_time",
        "regression",
        "watch_time",
        loss_weight=0.5,
        threshold=60.0,
        max_change=5.0,
        scale=30.0,
    ),
    Task("like", "binary", "like", loss_weight=0.5, threshold=0.55, max_change=0.03),
)

# Tasks a run may add to TASKS (`PipelineConfig.extra_tasks`); their labels are optional in the
# data (the curated schema lets them be absent), so existing data stays valid.
OPTIONAL_TASKS: tuple[Task, ...] = (
    # Content engagement after a click: 0 bounced, 1 engaged, 2 deeply engaged; -1 when not
    # observed (no click). The common "content preference category" kind of task.
    Task("engagement_level", "multiclass", "engagement_level", loss_weight=0.5,
         threshold=0.42, max_change=0.03, num_classes=3, top_k=2, optional=True),
)
ALL_TASKS: tuple[Task, ...] = TASKS + OPTIONAL_TASKS

# Every label key a model may have been trained with: serving never needs them.
LABEL_KEYS: tuple[str, ...] = tuple(t.label_key for t in ALL_TASKS)
RAW_FEATURE_KEYS: tuple[str, ...] = (
    *CATEGORICAL_FEATURES,
    *FLOAT_FEATURES,
    *INT_FEATURES,
    HISTORY_FEATURE,
)
# The feature TFMA slices by.
SLICE_FEATURES: tuple[str, ...] = ("device",)


def transformed_name(key: str) -> str:
    """Name of the transformed version of raw feature `key`."""
    return f"{key}_xf"


def label_name(task: Task | str) -> str:
    """Name of a task's transformed label: clipped to its valid range, 0 where missing."""
    name = task.name if isinstance(task, Task) else task
    return f"{name}_label"


def weight_name(task: Task | str) -> str:
    """Name of a task's mask: 1.0 where the label is observed, 0.0 where it is missing."""
    name = task.name if isinstance(task, Task) else task
    return f"{name}_weight"


def task_by_name(name: str, tasks: tuple[Task, ...] = TASKS) -> Task:
    for task in tasks:
        if task.name == name:
            return task
    raise KeyError(f"unknown task {name!r}; known tasks: {[t.name for t in tasks]}")


def select_tasks(extra: tuple[str, ...] | list[str] | None = None) -> tuple[Task, ...]:
    """The default task list plus the optional tasks named in `extra`, in a stable order.

    The Transform and the Trainer receive `extra` through their `custom_config`, so a model is
    trained, exported and evaluated with exactly the tasks of its run.
    """
    extra = list(extra or [])
    optional = {t.name: t for t in OPTIONAL_TASKS}
    unknown = sorted(set(extra) - set(optional))
    if unknown:
        default = {t.name for t in TASKS}
        already = sorted(set(unknown) & default)
        if already:
            raise ValueError(f"tasks {already} are always trained; only optional tasks can be "
                             f"added (optional tasks: {sorted(optional)})")
        raise ValueError(f"unknown optional tasks {unknown}; optional tasks: {sorted(optional)}")
    return TASKS + tuple(t for t in OPTIONAL_TASKS if t.name in extra)


def model_input_keys() -> tuple[str, ...]:
    """The transformed features the model reads (labels and weights excluded)."""
    return tuple(transformed_name(k) for k in RAW_FEATURE_KEYS)
