"""A validated problem (`ProblemSpec`): its features, tasks, slices and model settings."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from models.spec.feature import Feature
from models.spec.names import missing_name, transformed_name
from models.spec.parsing import parse_problem
from models.spec.task import Task, task_by_name


@dataclasses.dataclass(frozen=True)
class ProblemSpec:
    """A validated problem: features, tasks (optional ones included), slices, model settings.

    `source` is where it was read from (messages name it); it is not part of the content.
    """

    name: str
    features: tuple[Feature, ...]
    tasks: tuple[Task, ...]
    slices: tuple[str, ...] = ()
    input_format: str = "tfrecord"
    # The feature ExampleGen hashes to split train / eval (None: the whole example), so that
    # examples sharing a key share a split (a document's sentences, held-out entities).
    split_key: str | None = None
    entire_space: dict = dataclasses.field(default_factory=dict, hash=False)
    hparams: dict = dataclasses.field(default_factory=dict, hash=False)
    source: str | None = dataclasses.field(default=None, compare=False)

    # --- features

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"unknown feature {name!r}; features of {self.name}: "
                       f"{[f.name for f in self.features]}")

    @property
    def id_features(self) -> tuple[Feature, ...]:
        """Features the model embeds as one id each (categorical, bucketized numeric)."""
        return tuple(f for f in self.features if f.is_id)

    @property
    def categorical(self) -> tuple[Feature, ...]:
        return tuple(f for f in self.features if f.kind == "categorical")

    @property
    def numeric(self) -> tuple[Feature, ...]:
        """Numeric features fed to the model as a z-scored value."""
        return tuple(f for f in self.features if f.is_dense_numeric)

    @property
    def sequences(self) -> tuple[Feature, ...]:
        return tuple(f for f in self.features if f.kind == "sequence")

    @property
    def raw_feature_keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def serving_defaults(self) -> dict[str, Any]:
        return {f.name: f.serving_default for f in self.features}

    def model_input_keys(self) -> tuple[str, ...]:
        """The transformed features the model reads (labels and weights excluded): one per
        feature, and the missing-value indicator of each optional numeric feature."""
        return tuple(transformed_name(f.name) for f in self.features) + tuple(
            missing_name(f.name) for f in self.features if f.has_indicator)

    @property
    def optional_features(self) -> tuple[Feature, ...]:
        """The features an example (or a serving request) may lack."""
        return tuple(f for f in self.features if f.optional)

    def with_optional(self, names) -> ProblemSpec:
        """This spec with features `names` optional as well (the curated schema's presence)."""
        names = set(names)
        unknown = sorted(names - {f.name for f in self.features})
        if unknown:
            raise KeyError(f"unknown features {unknown}; features of {self.name}: "
                           f"{[f.name for f in self.features]}")
        return dataclasses.replace(self, features=tuple(
            dataclasses.replace(f, optional=True) if f.name in names else f
            for f in self.features))

    def has_missing_id(self, table: str) -> bool:
        """Whether the vocabulary of `table` (a categorical feature, or a sequence with a
        vocabulary of its own) reserves a missing id after its OOV buckets: an optional
        categorical feature, or an optional sequence looking ids up in it, has one."""
        return any(f.optional and ((f.kind == "categorical" and f.name == table)
                                   or (f.kind == "sequence" and self.vocabulary_of(f) == table))
                   for f in self.features)

    def vocabulary_of(self, feature: Feature) -> str:
        """The vocabulary (and embedding table) a sequence's ids are looked up in."""
        return feature.vocabulary or feature.name

    # --- tasks

    @property
    def default_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if not t.optional)

    @property
    def optional_tasks(self) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if t.optional)

    @property
    def label_keys(self) -> tuple[str, ...]:
        """Every label key of the problem (optional tasks' included): serving never needs them."""
        keys = []
        for task in self.tasks:
            keys.append(task.label_key)
            if task.label_end_key:
                keys.append(task.label_end_key)
        return tuple(dict.fromkeys(keys))

    @property
    def text_features(self) -> tuple[Feature, ...]:
        return tuple(f for f in self.features if f.kind == "text")

    def text_vocabularies(self) -> dict[str, tuple[Feature, ...]]:
        """{text feature with a vocabulary of its own: it and the text features sharing it}."""
        return {owner.name: tuple(f for f in self.text_features
                                  if f.name == owner.name or f.vocabulary == owner.name)
                for owner in self.text_features if not owner.vocabulary}

    def task(self, name: str) -> Task:
        return task_by_name(name, self.tasks)

    def select_tasks(self, extra=None) -> tuple[Task, ...]:
        """The default tasks plus the optional tasks named in `extra`, in the spec's order."""
        extra = list(extra or [])
        optional = {t.name for t in self.optional_tasks}
        unknown = sorted(set(extra) - optional)
        if unknown:
            already = sorted(set(unknown) & {t.name for t in self.default_tasks})
            if already:
                raise ValueError(f"tasks {already} are always trained; only optional tasks can "
                                 f"be added (optional tasks: {sorted(optional)})")
            raise ValueError(f"unknown optional tasks {unknown}; optional tasks of "
                             f"{self.name}: {sorted(optional)}")
        return tuple(t for t in self.tasks if not t.optional or t.name in extra)

    # --- serialization

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "name": self.name,
            "input": {"format": self.input_format,
                      **({"split_key": self.split_key} if self.split_key else {})},
            "features": [f.to_dict() for f in self.features],
            "tasks": [t.to_dict() for t in self.tasks],
            "slices": list(self.slices),
        }
        model = {}
        if self.entire_space:
            model["entire_space"] = dict(self.entire_space)
        if self.hparams:
            model["hparams"] = dict(self.hparams)
        if model:
            out["model"] = model
        return json.loads(json.dumps(out))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def fingerprint(self) -> str:
        """sha256 of the content (not of the file's formatting or comments)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, values: dict, source: str | None = None) -> ProblemSpec:
        return cls(**parse_problem(values, source))
