"""The feature and task specification: the one place that names raw keys, vocabularies and tasks.

Transform (``models.preprocessing``), the model (``models.model``), the trainer's input and
serving code (``models.trainer``), the evaluation config (``pipeline.eval_config``) and the run
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

TaskKind = Literal["binary", "regression"]


@dataclasses.dataclass(frozen=True)
class Task:
    """One prediction target.

    Attributes:
      name: the output name of the model and of the serving signature.
      kind: "binary" (sigmoid head, AUC) or "regression" (non-negative head, RMSE).
      label_key: the raw feature holding the label; -1 means "not observed".
      loss_weight: static weight of this task's loss in the total loss.
      threshold: the release bound on the overall slice: the lower bound on AUC for a
        binary task, the upper bound on RMSE for a regression task.
      max_change: the largest allowed degradation against the last blessed model, in the
        metric's own units (AUC points lost, RMSE gained).
      scale: typical magnitude of a regression label; the head predicts in label units and
        the loss is divided by scale**2 so every task's loss starts near 1.
    """

    name: str
    kind: TaskKind
    label_key: str
    loss_weight: float = 1.0
    threshold: float = 0.5
    max_change: float = 0.02
    scale: float = 1.0

    @property
    def metric(self) -> str:
        """The gating metric's TFMA name."""
        return "auc" if self.kind == "binary" else "root_mean_squared_error"

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "binary"


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

LABEL_KEYS: tuple[str, ...] = tuple(t.label_key for t in TASKS)
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


def model_input_keys() -> tuple[str, ...]:
    """The transformed features the model reads (labels and weights excluded)."""
    return tuple(transformed_name(k) for k in RAW_FEATURE_KEYS)
