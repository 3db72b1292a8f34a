"""The names of the transformed keys Transform writes and the model reads, by raw feature or
task."""

from __future__ import annotations


def transformed_name(key: str) -> str:
    """Name of the transformed version of raw feature `key`."""
    return f"{key}_xf"


def missing_name(key: str) -> str:
    """Name of optional numeric feature `key`'s indicator: 1.0 where the value is absent (and
    imputed), 0.0 where present; a model input."""
    return f"{key}_missing"


def length_name(key: str) -> str:
    """Name of text feature `key`'s token count before truncation (not a model input)."""
    return f"{key}_length"


def truncated_name(key: str) -> str:
    """Name of text feature `key`'s truncation flag: 1 where the text had more than its
    `max_length` tokens, else 0 (not a model input; Transform's statistics count it)."""
    return f"{key}_truncated"


def label_name(task) -> str:
    """Name of a task's transformed label: clipped to its valid range, 0 where missing."""
    name = task if isinstance(task, str) else task.name
    return f"{name}_label"


def weight_name(task) -> str:
    """Name of a task's mask: 1.0 where the label is observed, 0.0 where it is missing."""
    name = task if isinstance(task, str) else task.name
    return f"{name}_weight"
