"""The kinds a spec names: feature kinds, numeric transforms, tokenizers, task kinds, input
formats, the gating metric of each task kind and the drift comparators."""

from __future__ import annotations

from typing import Literal

FEATURE_KINDS: tuple[str, ...] = ("categorical", "numeric", "sequence", "text")
NUMERIC_TRANSFORMS: tuple[str, ...] = ("z_score", "log", "bucketize")
TEXT_TOKENIZERS: tuple[str, ...] = ("word",)
# Tasks on one value per example, and tasks on the tokens of a text feature.
TABULAR_TASK_KINDS: tuple[str, ...] = ("binary", "regression", "multiclass")
TEXT_TASK_KINDS: tuple[str, ...] = ("sequence_labeling", "span")
TASK_KINDS: tuple[str, ...] = TABULAR_TASK_KINDS + TEXT_TASK_KINDS
INPUT_FORMATS: tuple[str, ...] = ("tfrecord", "csv")
# The gating metric of each task kind, as a spec names it (gate.metric) and as TFMA does.
GATE_METRICS: dict[str, str] = {"binary": "auc", "regression": "rmse", "multiclass": "accuracy",
                                "sequence_labeling": "entity_f1", "span": "span_f1"}
TFMA_METRICS: dict[str, str] = {"binary": "auc", "regression": "root_mean_squared_error",
                                "multiclass": "accuracy", "sequence_labeling": "entity_f1",
                                "span": "span_f1"}
DRIFT_COMPARATORS: tuple[str, ...] = ("infinity_norm", "jensen_shannon_divergence")
DEFAULT_MISSING_LABEL = -1

TaskKind = Literal["binary", "regression", "multiclass"]
