"""A raw feature of a problem (`Feature`): its kind and the fields the kind owns."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

# An optional int feature's absent value in the `serving_raw` signature (`Feature.absent_value`).
INT64_MIN = -(2 ** 63)


@dataclasses.dataclass(frozen=True)
class Feature:
    """One raw feature (see the `models.spec` docstring for the kinds and their fields)."""

    name: str
    kind: str
    dtype: str = "string"
    vocabulary_size: int = 0
    embedding_dim: int = 8
    oov_buckets: int = 1
    transform: str = "z_score"
    buckets: int = 0
    max_length: int = 0
    vocabulary: str | None = None
    tokenizer: str = "word"
    lowercase: bool = True
    default: Any = None
    schema: dict = dataclasses.field(default_factory=dict, hash=False)
    # May be absent from an example (and from a serving request): set when the curated schema
    # is frozen from data where some examples lack it (`pipeline.data.schema`), or by the spec.
    optional: bool = False

    @property
    def is_id(self) -> bool:
        """A single id per example, embedded: a categorical or a bucketized numeric feature."""
        return self.kind == "categorical" or (self.kind == "numeric"
                                              and self.transform == "bucketize")

    @property
    def is_dense_numeric(self) -> bool:
        return self.kind == "numeric" and self.transform != "bucketize"

    @property
    def has_indicator(self) -> bool:
        """An optional numeric feature: Transform imputes its training mean where it is absent
        and adds `missing_name(name)` (1.0 where absent), a model input of its own."""
        return self.optional and self.kind == "numeric"

    @property
    def absent_value(self):
        """How the `serving_raw` signature (one plain value per feature, no optional inputs)
        is told that this optional feature is absent: "" for a string (a sequence: no id),
        NaN for a float, the smallest int64 for an int."""
        if self.kind == "sequence" or self.dtype == "string":
            return ""
        if self.dtype == "float":
            return math.nan
        return INT64_MIN

    @property
    def serving_default(self):
        """The value a serving request that omits this feature gets."""
        if self.default is not None:
            return self.default
        if self.kind == "sequence":
            return []
        if self.kind in ("categorical", "text"):
            return "" if self.dtype == "string" else 0
        return 0.0 if self.dtype == "float" else 0

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "dtype": self.dtype}
        if self.kind == "categorical":
            out.update(vocabulary_size=self.vocabulary_size, embedding_dim=self.embedding_dim,
                       oov_buckets=self.oov_buckets)
        elif self.kind == "numeric":
            out["transform"] = self.transform
            if self.transform == "bucketize":
                out.update(buckets=self.buckets, embedding_dim=self.embedding_dim)
        elif self.kind == "sequence":
            out["max_length"] = self.max_length
            if self.vocabulary:
                out["vocabulary"] = self.vocabulary
            else:
                out.update(vocabulary_size=self.vocabulary_size,
                           embedding_dim=self.embedding_dim, oov_buckets=self.oov_buckets)
        elif self.kind == "text":
            out.update(max_length=self.max_length, tokenizer=self.tokenizer,
                       lowercase=self.lowercase)
            if self.vocabulary:
                out["vocabulary"] = self.vocabulary
            else:
                out.update(vocabulary_size=self.vocabulary_size, oov_buckets=self.oov_buckets)
        if self.default is not None:
            out["default"] = self.default
        if self.schema:
            out["schema"] = dict(self.schema)
        if self.optional:
            out["optional"] = True
        return out
