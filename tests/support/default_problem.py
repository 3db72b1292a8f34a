"""The default problem's features and tasks, read from the spec the package ships
(`models.spec.default_spec()`), under the names the tests use."""

from __future__ import annotations

from models.spec import Task, default_spec, label_name, transformed_name, weight_name

__all__ = ["Task", "label_name", "transformed_name", "weight_name"]

SPEC = default_spec()
TASKS: tuple[Task, ...] = SPEC.default_tasks
OPTIONAL_TASKS: tuple[Task, ...] = SPEC.optional_tasks
ALL_TASKS: tuple[Task, ...] = SPEC.tasks
CATEGORICAL_FEATURES = {f.name: (f.vocabulary_size, f.embedding_dim) for f in SPEC.categorical}
FLOAT_FEATURES = tuple(f.name for f in SPEC.numeric if f.dtype == "float")
INT_FEATURES = tuple(f.name for f in SPEC.numeric if f.dtype == "int")
[_HISTORY] = SPEC.sequences
HISTORY_FEATURE = _HISTORY.name
HISTORY_LENGTH = _HISTORY.max_length
HISTORY_VOCAB_OF = _HISTORY.vocabulary
LABEL_KEYS = SPEC.label_keys
RAW_FEATURE_KEYS = SPEC.raw_feature_keys
SERVING_DEFAULTS = {k: v for k, v in SPEC.serving_defaults.items() if k != HISTORY_FEATURE}
SLICE_FEATURES = SPEC.slices
MISSING_LABEL = -1


def select_tasks(extra=None) -> tuple[Task, ...]:
    return SPEC.select_tasks(extra)


def model_input_keys() -> tuple[str, ...]:
    return SPEC.model_input_keys()


def task_by_name(name: str, tasks: tuple[Task, ...] = TASKS) -> Task:
    for task in tasks:
        if task.name == name:
            return task
    raise KeyError(f"unknown task {name!r}; known tasks: {[t.name for t in tasks]}")
