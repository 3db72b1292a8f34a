"""The problem spec: the one description of a problem's raw features, tasks and gates.

A problem is a YAML or JSON file (`load_spec(path)`), validated on load: an error names the
file, the field, the value and what was expected (`SpecError`). Transform
(`models.preprocessing`), the model (`models.model`), the trainer and the export
(`models.trainer`, `models.export`), the eval config, the schema curation, the summary, the
report and the serving clients all read a `ProblemSpec`; none of them names a feature or a task.
The default problem (a recommendation funnel) is a spec shipped with the package
(`default_spec()`, `models/problems/recommendation/spec.yaml`).

    name: my_shop
    input: {format: tfrecord}            # or csv: span-<N>/*.csv
    features:
      - {name: shopper, kind: categorical, vocabulary_size: 20000, embedding_dim: 16}
      - {name: product, kind: categorical, vocabulary_size: 5000, embedding_dim: 16}
      - {name: store, kind: categorical, vocabulary_size: 50, embedding_dim: 4}
      - {name: basket_value, kind: numeric, dtype: float, transform: log}
      - {name: viewed, kind: sequence, max_length: 20, vocabulary: product}
    tasks:
      - name: add_to_cart
        kind: binary
        gate: {metric: auc, bound: 0.65, max_change: 0.02}
      - name: dwell
        kind: regression
        missing: -1
        scale: 30
        gate: {metric: rmse, bound: 60, max_change: 0.1, change: relative}
    slices: [store]
    model:
      entire_space: {purchase: add_to_cart}   # ESMM's funnel, child: parent
      hparams: {bottom_units: [64, 32]}       # defaults for this problem; flags override

Feature kinds (`FEATURE_KINDS`): `categorical` (an id: vocabulary of the `vocabulary_size`
most frequent values, `oov_buckets` for the rest, an embedding of `embedding_dim`), `numeric`
(`dtype` float or int; `transform` z_score, log (log1p, then z-score) or bucketize into
`buckets` quantiles, embedded like an id), `sequence` (a variable-length list of ids padded or
truncated to `max_length`, looked up in the vocabulary of the categorical feature named by
`vocabulary`, or in its own of `vocabulary_size`). A kind owns its fields, so a further kind
(tokenized text) adds its own fields without changing these.

Task kinds: `binary` (AUC), `regression` (RMSE), `multiclass` (accuracy; `classes` names its
classes, labels are class ids 0..K-1). A label equal to the task's `missing` sentinel (negative,
default -1), or absent, is not observed: it weighs nothing in the loss and in the metrics.

Pure Python (PyYAML for YAML files): the CLI and the pipeline definition read a spec without
importing TensorFlow. A spec travels to Transform and Trainer as `to_dict()` in their
`custom_config` (`from_dict` reads it back), so caching follows its content.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Literal

from models.hparams import ModelHParams
from models.signatures import SPEC_FILE

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
GATE_FIELDS: tuple[str, ...] = ("metric", "bound", "max_change", "change", "min_labels",
                                "slice_bound", "min_slice_examples", "naive_ratio",
                                "naive_margin")
# Schema curation of a feature (`mtl schema freeze`): its domain, range and drift check.
SCHEMA_FIELDS: tuple[str, ...] = ("domain", "min_domain_mass", "min", "max", "drift")
DRIFT_COMPARATORS: tuple[str, ...] = ("infinity_norm", "jensen_shannon_divergence")
# The fields of the problem, of its `input` and `model` mappings, and of a span task's `labels`
# (features, tasks, gates and schemas have their tables below and above). The parser accepts
# exactly these; FIELD_DOCS says what each one means (the documentation's spec reference is
# generated from the two).
PROBLEM_FIELDS: tuple[str, ...] = ("name", "input", "features", "tasks", "slices", "model")
INPUT_FIELDS: tuple[str, ...] = ("format", "split_key")
MODEL_FIELDS: tuple[str, ...] = ("entire_space", "hparams")
LABELS_FIELDS: tuple[str, ...] = ("start", "end")

PROBLEMS_DIR = Path(__file__).resolve().parent / "problems"
DEFAULT_SPEC_PATH = PROBLEMS_DIR / "recommendation" / "spec.yaml"
DEFAULT_MISSING_LABEL = -1
# An optional int feature's absent value in the `serving_raw` signature (`Feature.absent_value`).
INT64_MIN = -(2 ** 63)

TaskKind = Literal["binary", "regression", "multiclass"]


class SpecError(ValueError):
    """A spec that cannot be used: names the file, the field and what was expected."""

    def __init__(self, source: str | None, field: str, message: str):
        self.source, self.field = source, field
        where = f"spec {source}" if source else "spec"
        super().__init__(f"{where}: {field}: {message}")


# --- Features -----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Feature:
    """One raw feature (see the module docstring for the kinds and their fields)."""

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


# --- Tasks --------------------------------------------------------------------------------------

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


def label_name(task: Task | str) -> str:
    """Name of a task's transformed label: clipped to its valid range, 0 where missing."""
    name = task.name if isinstance(task, Task) else task
    return f"{name}_label"


def weight_name(task: Task | str) -> str:
    """Name of a task's mask: 1.0 where the label is observed, 0.0 where it is missing."""
    name = task.name if isinstance(task, Task) else task
    return f"{name}_weight"


# --- The problem --------------------------------------------------------------------------------

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
        return _parse(values, source)


def task_by_name(name: str, tasks) -> Task:
    for task in tasks:
        if task.name == name:
            return task
    raise KeyError(f"unknown task {name!r}; known tasks: {[t.name for t in tasks]}")


# --- Loading and validation ---------------------------------------------------------------------

def load_spec(path: str | Path) -> ProblemSpec:
    """Reads and validates a spec file (.yaml, .yml or .json)."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise SpecError(source, "file", "does not exist (expected a YAML or JSON problem spec)")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            values = json.loads(text, object_pairs_hook=_no_duplicates_json)
        else:
            values = _load_yaml(text)
    except SpecError as e:
        raise SpecError(source, e.field, str(e).split(": ", 2)[-1]) from None
    except ValueError as e:  # json.JSONDecodeError
        raise SpecError(source, "file", f"is not valid JSON: {e}") from None
    except Exception as e:  # yaml.YAMLError
        raise SpecError(source, "file", f"is not valid YAML: {e}") from None
    return _parse(values, source)


def packaged_problems() -> tuple[str, ...]:
    """The problems shipped with the package (`models/problems/<name>/spec.yaml`)."""
    return tuple(sorted(p.parent.name for p in PROBLEMS_DIR.glob("*/spec.yaml")))


def resolve_spec(value: str) -> ProblemSpec:
    """`--spec VALUE`: a spec file, or the name of a problem shipped with the package."""
    path = Path(value)
    if not path.exists() and value in packaged_problems():
        return load_spec(PROBLEMS_DIR / value / "spec.yaml")
    if not path.exists():
        raise SpecError(value, "file", f"does not exist, and is not a problem shipped with the "
                                       f"package ({', '.join(packaged_problems())})")
    return load_spec(path)


@functools.lru_cache(maxsize=1)
def default_spec() -> ProblemSpec:
    """The default problem, shipped with the package."""
    return load_spec(DEFAULT_SPEC_PATH)


def load_model_spec(model_dir: str) -> tuple[ProblemSpec, tuple[str, ...]] | None:
    """(the problem spec, the trained task names) an exported model was trained on
    (`assets.extra/problem_spec.json`, written by `models.export`); None for a model exported
    without one."""
    path = Path(model_dir) / SPEC_FILE
    if not path.is_file():
        return None
    values = json.loads(path.read_text())
    trained = tuple(values.pop("trained_tasks", ()))
    spec = _parse(values, str(path))
    return spec, trained or tuple(t.name for t in spec.default_tasks)


def _no_duplicates_json(pairs):
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise SpecError(None, duplicates[0], "is given twice in one object")
    return dict(pairs)


def _load_yaml(text: str):
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise SpecError(None, str(key), f"is given twice in one mapping (line "
                                                f"{key_node.start_mark.line + 1})")
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


class _Reader:
    """Reads one mapping of the spec, field by field, with errors naming the field."""

    def __init__(self, values, where: str, source: str | None):
        if not isinstance(values, dict):
            raise SpecError(source, where or "spec",
                            f"expected a mapping, got {type(values).__name__} {values!r}")
        self.values, self.where, self.source = values, where, source
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(self.source, self.field(key), message)

    def get(self, key: str, default=None, types=None, required: bool = False):
        self.used.add(key)
        if key not in self.values or self.values[key] is None:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.values[key]
        if types is not None:
            if float in types and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                raise self.error(key, f"expected {names}, got {value!r}")
        return value

    def choice(self, key: str, choices, default=None, required: bool = False) -> str:
        value = self.get(key, default, (str,), required)
        if value not in choices:
            raise self.error(key, f"unknown value {value!r}; expected one of {list(choices)}")
        return value

    def positive_int(self, key: str, default=None, required: bool = False,
                     minimum: int = 1) -> int:
        value = self.get(key, default, (int,), required)
        if value is not None and value < minimum:
            raise self.error(key, f"expected an integer >= {minimum}, got {value}")
        return value

    def number(self, key: str, default=None, required: bool = False,
               positive: bool = False) -> float | None:
        value = self.get(key, default, (float,), required)
        if value is not None and not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {value}")
        if value is not None and positive and value <= 0:
            raise self.error(key, f"expected a number > 0, got {value}")
        return value

    def finish(self, known=None) -> None:
        unknown = sorted(set(self.values) - self.used)
        if unknown:
            known = sorted(known or self.used)
            raise self.error(unknown[0], f"unknown field; known fields here: {known}")


def _list(values, key: str, source: str | None, required: bool = True) -> list:
    if values is None:
        if required:
            raise SpecError(source, key, "is required (a list)")
        return []
    if not isinstance(values, list):
        raise SpecError(source, key, f"expected a list, got {type(values).__name__} {values!r}")
    return values


def _check_name(reader: _Reader, key: str = "name") -> str:
    name = reader.get(key, types=(str,), required=True)
    if not name or not all(c.isalnum() or c in "_-." for c in name):
        raise reader.error(key, f"expected a name of letters, digits, '_', '-' or '.', got "
                                f"{name!r}")
    return name


FEATURE_FIELDS = {
    "categorical": ("name", "kind", "dtype", "vocabulary_size", "embedding_dim", "oov_buckets",
                    "default", "optional", "schema"),
    "numeric": ("name", "kind", "dtype", "transform", "buckets", "embedding_dim", "default",
                "optional", "schema"),
    "sequence": ("name", "kind", "dtype", "max_length", "vocabulary", "vocabulary_size",
                 "embedding_dim", "oov_buckets", "default", "optional", "schema"),
    "text": ("name", "kind", "dtype", "max_length", "tokenizer", "lowercase", "vocabulary",
             "vocabulary_size", "oov_buckets", "default", "optional", "schema"),
}


def _parse_feature(values, where: str, source: str | None) -> Feature:
    r = _Reader(values, where, source)
    name = _check_name(r)
    kind = r.choice("kind", FEATURE_KINDS, required=True)
    kwargs: dict[str, Any] = {}
    if kind == "categorical":
        kwargs["dtype"] = r.choice("dtype", ("string", "int"), default="string")
        kwargs["vocabulary_size"] = r.positive_int("vocabulary_size", required=True)
        kwargs["embedding_dim"] = r.positive_int("embedding_dim", default=8)
        kwargs["oov_buckets"] = r.positive_int("oov_buckets", default=1)
    elif kind == "numeric":
        kwargs["dtype"] = r.choice("dtype", ("float", "int"), default="float")
        kwargs["transform"] = r.choice("transform", NUMERIC_TRANSFORMS, default="z_score")
        if kwargs["transform"] == "bucketize":
            kwargs["buckets"] = r.positive_int("buckets", required=True, minimum=2)
            kwargs["embedding_dim"] = r.positive_int("embedding_dim", default=4)
        else:
            for key in ("buckets",):
                if r.get(key) is not None:
                    raise r.error(key, f"only a bucketize transform has {key}")
    elif kind == "text":
        # Raw UTF-8 text, tokenized inside tf.Transform (so serving takes raw strings).
        kwargs["dtype"] = r.choice("dtype", ("string",), default="string")
        kwargs["max_length"] = r.positive_int("max_length", required=True)
        kwargs["tokenizer"] = r.choice("tokenizer", TEXT_TOKENIZERS, default="word")
        kwargs["lowercase"] = r.get("lowercase", default=True, types=(bool,))
        kwargs["vocabulary"] = r.get("vocabulary", types=(str,))
        # The token embedding's width is the text encoder's (`text_width`).
        if kwargs["vocabulary"] is None:
            kwargs["vocabulary_size"] = r.positive_int("vocabulary_size", required=True)
            kwargs["oov_buckets"] = r.positive_int("oov_buckets", default=1)
        else:
            for key in ("vocabulary_size", "oov_buckets"):
                if key in values:
                    raise r.error(key, f"a text sharing the vocabulary of "
                                       f"{kwargs['vocabulary']!r} uses that feature's {key}; "
                                       f"remove it here")
    else:
        kwargs["dtype"] = r.choice("dtype", ("string", "int"), default="string")
        kwargs["max_length"] = r.positive_int("max_length", required=True)
        vocabulary = r.get("vocabulary", types=(str,))
        kwargs["vocabulary"] = vocabulary
        if vocabulary is None:
            kwargs["vocabulary_size"] = r.positive_int("vocabulary_size", required=True)
            kwargs["embedding_dim"] = r.positive_int("embedding_dim", default=8)
            kwargs["oov_buckets"] = r.positive_int("oov_buckets", default=1)
        else:
            for key in ("vocabulary_size", "embedding_dim", "oov_buckets"):
                if r.get(key) is not None:
                    raise r.error(key, f"a sequence sharing the vocabulary of {vocabulary!r} "
                                       f"uses that feature's {key}; remove it here")
    default = r.get("default")
    if default is not None:
        _check_default(r, kind, kwargs["dtype"], default)
    kwargs["default"] = default
    kwargs["schema"] = _parse_schema(r.get("schema", default={}), r.field("schema"), source, kind)
    kwargs["optional"] = r.get("optional", default=False, types=(bool,))
    r.finish(FEATURE_FIELDS[kind])
    return Feature(name=name, kind=kind, **kwargs)


def _check_default(r: _Reader, kind: str, dtype: str, default) -> None:
    if kind == "sequence":
        ok = isinstance(default, list)
        expected = "a list"
    elif dtype == "string":
        ok, expected = isinstance(default, str), "a string"
    elif dtype == "int":
        ok = isinstance(default, int) and not isinstance(default, bool)
        expected = "an integer"
    else:
        ok = isinstance(default, (int, float)) and not isinstance(default, bool)
        expected = "a number"
    if not ok:
        raise r.error("default", f"expected {expected} (the feature's dtype is {dtype}), got "
                                 f"{default!r}")


def _parse_schema(values, where: str, source: str | None, kind: str) -> dict:
    r = _Reader(values, where, source)
    out: dict[str, Any] = {}
    domain = r.get("domain", types=(str,))
    if domain is not None:
        if kind != "categorical":
            raise r.error("domain", f"only a categorical feature has a domain (this one is "
                                    f"{kind})")
        out["domain"] = r.choice("domain", ("closed", "open"))
    mass = r.number("min_domain_mass")
    if mass is not None:
        if out.get("domain") != "open" or not 0 < mass <= 1:
            raise r.error("min_domain_mass", f"expected a number in (0, 1] with domain: open, "
                                             f"got {mass}")
        out["min_domain_mass"] = mass
    for key in ("min", "max"):
        value = r.number(key)
        if value is not None:
            if kind != "numeric":
                raise r.error(key, f"only a numeric feature has a range (this one is {kind})")
            out[key] = value
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise r.error("max", f"expected max >= min ({out['min']}), got {out['max']}")
    drift = r.get("drift", types=(dict,))
    if drift is not None:
        d = _Reader(drift, r.field("drift"), source)
        for key in DRIFT_COMPARATORS:
            value = d.number(key, positive=True)
            if value is not None:
                out.setdefault("drift", {})[key] = value
        d.finish(DRIFT_COMPARATORS)
        if len(out.get("drift", {})) != 1:
            raise r.error("drift", f"expected one comparator of {list(DRIFT_COMPARATORS)} with "
                                   f"its threshold, got {drift!r}")
    r.finish(SCHEMA_FIELDS)
    return out


TASK_FIELDS = ("name", "kind", "label", "missing", "loss_weight", "fusion_weight", "scale",
                "classes", "num_classes", "top_k", "optional", "gate", "text", "question",
                "labels", "max_answer_tokens", "tags")
# A sequence_labeling task's tags: O, or B-/I- and an entity type.
_TAG = r"^(O|[BI]-[A-Za-z0-9_]+)$"

# --- The field reference ------------------------------------------------------------------------

# What each field of a spec means, by where it sits: "problem" (the top level), "input",
# "features", "schema" (a feature's `schema`), "tasks", "labels" (a span task's `labels`),
# "gate" (a task's `gate`) and "model". Every field the parser accepts has an entry and every
# entry is a field it accepts (tests/scripts/test_docs_hooks.py checks both); the documentation's spec
# reference is generated from these and the field tables above.
FIELD_DOCS: dict[str, dict[str, str]] = {
    "problem": {
        "name": "The problem's name (letters, digits, `_`, `-`, `.`). Required.",
        "input": "How spans are stored; a mapping (see `input`). Default: TFRecord spans.",
        "features": "The raw features the model reads, a list of mappings (see `features`). "
                    "Required, at least one.",
        "tasks": "The prediction targets, a list of mappings (see `tasks`). Required, at least "
                 "one that is not optional.",
        "slices": "Categorical features TFMA slices the metrics by (and the per-slice gates "
                  "use). Default: none.",
        "model": "Model settings of this problem; a mapping (see `model`).",
    },
    "input": {
        "format": "`tfrecord` (`span-<N>/*.tfrecord.gz`, gzipped tf.Examples) or `csv` "
                  "(`span-<N>/*.csv` with a header row; a sequence is one whitespace-separated "
                  "column, an empty cell a missing value). Default: tfrecord.",
        "split_key": "A column ExampleGen hashes to choose train or eval, so that examples "
                     "sharing a key share a split (a document's sentences, held-out names). "
                     "Neither a feature nor a label. Default: the whole example is hashed.",
    },
    "features": {
        "name": "The feature's column name in the data. Required, unique.",
        "kind": "What the feature is; see the kinds below. Required.",
        "dtype": "Value type: `string` or `int` (categorical, sequence), `float` or `int` "
                 "(numeric), `string` (text). Default: string; float for numeric.",
        "vocabulary_size": "Size of the frequency vocabulary Transform builds. Required for "
                           "categorical, and for a sequence or text that has a vocabulary of "
                           "its own.",
        "embedding_dim": "Width of the feature's embedding (scaled by the model's "
                         "`embedding_scale`). Default: 8; 4 for a bucketized numeric.",
        "oov_buckets": "Buckets shared by values outside the vocabulary (ids never seen). "
                       "Default: 1.",
        "transform": "A numeric feature's transform: `z_score`, `log` (log1p, then z-score) or "
                     "`bucketize` (into `buckets` quantiles, embedded like an id). Default: "
                     "z_score.",
        "buckets": "The number of quantile buckets of `transform: bucketize` (at least 2). "
                   "Required with bucketize.",
        "max_length": "Values kept per example: a sequence is padded or truncated to it; a "
                      "text keeps its first `max_length` tokens (longer texts are truncated "
                      "and counted, never refused). Required for sequence and text.",
        "vocabulary": "Share another feature's vocabulary and embedding: a sequence names a "
                      "categorical feature (e.g. a history of items names the item id), a text "
                      "names a text feature with a vocabulary of its own.",
        "tokenizer": "How a text is split into tokens: `word` (whitespace, then NFKC and case "
                     "folding). Default: word.",
        "lowercase": "Case-fold a text's tokens. Default: true.",
        "default": "The value a serving request that omits a required feature gets. Default: "
                   "\"\" (string), 0, or an empty list (sequence). An optional feature is "
                   "imputed instead.",
        "optional": "The feature may be absent from an example and from a serving request; "
                    "Transform imputes it (guides/missing-values.md). Set from the data when "
                    "the schema is frozen (a feature absent from some examples); true makes an "
                    "always-present feature optional too. Default: false.",
        "schema": "How `mtl schema freeze` curates the feature in the schema; a mapping (see "
                  "`schema`).",
    },
    "schema": {
        "domain": "A categorical feature's domain: `closed` (any value not seen when the schema "
                  "was frozen is an anomaly) or `open`.",
        "min_domain_mass": "With `domain: open`, the share of a span's values that must be in "
                           "the frozen domain, in (0, 1] (0.9 tolerates 10% new values).",
        "min": "A numeric feature's smallest valid value.",
        "max": "A numeric feature's largest valid value.",
        "drift": "One drift comparator against the frozen reference statistics, with its "
                 "threshold: `{infinity_norm: 0.15}` (categorical) or "
                 "`{jensen_shannon_divergence: 0.15}`.",
    },
    "tasks": {
        "name": "The task's name: the model's output and the serving signature's key. "
                "Required, unique.",
        "kind": "What the task predicts; see the kinds below. Required.",
        "label": "The column holding the label. Default: the task's name. Not a feature.",
        "missing": "The negative sentinel meaning 'not observed' (an absent label is missing "
                   "too); a missing label weighs nothing in the loss and the metrics. Default: "
                   "-1. Not for sequence_labeling (an empty tag list is missing).",
        "loss_weight": "Static weight of the task's loss in the total loss (>= 0). Default: 1.",
        "fusion_weight": "The task's weight in the serving signatures' fused `score`. Default: "
                         "1.",
        "scale": "Regression only: the label's typical magnitude; the loss is divided by "
                 "scale**2 so every task's loss starts near 1. Default: 1.",
        "classes": "Multiclass only: the class names; labels are class ids 0..K-1 in this "
                   "order.",
        "num_classes": "Multiclass only: K, when the classes are not named.",
        "top_k": "Multiclass only: the k of the reported top-k accuracy. Default: 2.",
        "optional": "Trained only when a run names it (`mtl run --with-task NAME`); its label "
                    "may be absent from the data. Default: false.",
        "gate": "The task's release gate; a mapping (see `gate`). Required.",
        "text": "Text tasks: the text feature whose tokens are tagged, or which holds the "
                "answer. Required for sequence_labeling and span.",
        "question": "Span tasks: the text feature holding the question. Required.",
        "labels": "Span tasks: the answer's character offsets, `{start: COLUMN, end: COLUMN}` "
                  "(end exclusive; -1 / -1 when not labelled). Required.",
        "max_answer_tokens": "Span tasks: the longest answer, in tokens, the decoder returns. "
                             "Default: 30.",
        "tags": "Sequence labelling tasks: the IOB2 tags (`O`, `B-TYPE`, `I-TYPE` in pairs; "
                "id = position). Required.",
    },
    "labels": {
        "start": "The column holding the answer's first character offset.",
        "end": "The column holding the offset just past the answer's last character.",
    },
    "gate": {
        "metric": "The gating metric; it must be the task kind's (see the table below). "
                  "Default: the kind's.",
        "bound": "The value a release must reach on the overall slice: at least (AUC, "
                 "accuracy, F1, in [0, 1]) or at most (RMSE). Required.",
        "max_change": "The largest allowed degradation against the latest blessed model "
                      "(direction-aware: AUC may drop, RMSE may rise by this). Required.",
        "change": "`absolute` (`max_change` in the metric's units) or `relative` (a fraction "
                  "of the baseline). Default: absolute.",
        "min_labels": "Observed labels the task needs in the eval split; fewer fails the gate. "
                      "Default: 50.",
        "slice_bound": "A bound on every slice (binary and regression tasks), judged only on "
                       "slices with at least `min_slice_examples` observed labels. Default: "
                       "none.",
        "min_slice_examples": "The observed labels a slice needs before `slice_bound` judges "
                              "it. Default: 200.",
        "naive_ratio": "Regression: RMSE at most this times the RMSE of predicting the "
                       "observed labels' mean, on the same rows. Default: 0.95.",
        "naive_margin": "Binary: AUC at least 0.5 plus this; multiclass: accuracy at least the "
                        "majority class's share plus this. Default: 0.01.",
    },
    "model": {
        "entire_space": "ESMM's funnel, `{child: parent}`: two binary tasks, the child trained "
                        "through p(parent) x p(child | parent) with `--model esmm`.",
        "hparams": "The problem's default hyperparameters (see the table below); flags given "
                   "to a run override them.",
    },
}



def _parse_task(values, where: str, source: str | None) -> Task:
    r = _Reader(values, where, source)
    name = _check_name(r)
    kind = r.choice("kind", TASK_KINDS, required=True)
    text_kwargs = _parse_text_task(r, kind)
    if kind == "span":
        label = text_kwargs.pop("label_key")
    else:
        label = r.get("label", default=name, types=(str,))
    if kind == "sequence_labeling" and r.get("missing") is not None:
        raise r.error("missing", "a sequence_labeling label is missing when its tag list is "
                                 "empty; it has no sentinel")
    missing = r.number("missing", default=float(DEFAULT_MISSING_LABEL))
    if missing >= 0:
        raise r.error("missing", f"expected a negative sentinel (observed labels are >= 0: "
                                 f"class ids, 0/1, a non-negative value), got {missing:g}")
    if kind != "regression" and missing != int(missing):
        raise r.error("missing", f"a {kind} task's labels are integers; expected an integer "
                                 f"sentinel, got {missing}")
    kwargs: dict[str, Any] = {
        "loss_weight": r.number("loss_weight", default=1.0),
        "fusion_weight": r.number("fusion_weight", default=1.0),
        "optional": r.get("optional", default=False, types=(bool,)),
        "missing_label": missing,
    }
    if kwargs["loss_weight"] < 0:
        raise r.error("loss_weight", f"expected a number >= 0, got {kwargs['loss_weight']}")
    if kind == "regression":
        kwargs["scale"] = r.number("scale", default=1.0, positive=True)
    elif r.get("scale") is not None:
        raise r.error("scale", f"only a regression task has a scale (this one is {kind})")
    if kind == "multiclass":
        classes = r.get("classes", types=(list,))
        num_classes = r.positive_int("num_classes", minimum=2)
        if classes is not None:
            if not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes):
                raise r.error("classes", f"expected distinct class names, got {classes!r}")
            if len(classes) < 2:
                raise r.error("classes", f"a multiclass task needs at least 2 classes, got "
                                         f"{classes!r}")
            if num_classes is not None and num_classes != len(classes):
                raise r.error("num_classes", f"{num_classes} differs from the {len(classes)} "
                                             f"classes named")
            kwargs["classes"] = tuple(classes)
            num_classes = len(classes)
        if num_classes is None:
            raise r.error("classes", "a multiclass task needs its classes (a list of names) "
                                     "or num_classes")
        kwargs["num_classes"] = num_classes
        kwargs["top_k"] = r.positive_int("top_k", default=min(2, num_classes))
        if kwargs["top_k"] > num_classes:
            raise r.error("top_k", f"expected at most {num_classes} (the classes), got "
                                   f"{kwargs['top_k']}")
    else:
        for key in ("classes", "num_classes", "top_k"):
            if r.get(key) is not None:
                raise r.error(key, f"only a multiclass task has {key} (this one is {kind})")
    if kind == "sequence_labeling":
        kwargs["num_classes"] = len(text_kwargs["tags"])
    gate = r.get("gate", types=(dict,), required=True)
    threshold, max_change, extra = _parse_gate(gate, r.field("gate"), source, kind)
    r.finish(TASK_FIELDS)
    return Task(name=name, kind=kind, label_key=label, threshold=threshold,
                max_change=max_change, gate=extra, **kwargs, **text_kwargs)


def _parse_text_task(r: _Reader, kind: str) -> dict:
    """The fields of a text task (`text`, and `tags` or `question` / `labels` /
    `max_answer_tokens`); an error when another kind names them."""
    out: dict[str, Any] = {}
    if kind not in TEXT_TASK_KINDS:
        for key in ("text", "question", "labels", "max_answer_tokens", "tags"):
            if r.get(key) is not None:
                raise r.error(key, f"only a text task ({', '.join(TEXT_TASK_KINDS)}) has {key} "
                                   f"(this one is {kind})")
        return out
    out["text"] = r.get("text", types=(str,), required=True)
    if kind == "sequence_labeling":
        tags = r.get("tags", types=(list,), required=True)
        if (not all(isinstance(t, str) and re.match(_TAG, t) for t in tags)
                or len(set(tags)) != len(tags) or "O" not in tags):
            raise r.error("tags", f"expected distinct IOB2 tags (O, B-TYPE, I-TYPE), O among "
                                  f"them, got {tags!r}")
        for tag in tags:
            if tag != "O" and f"{'I' if tag[0] == 'B' else 'B'}-{tag[2:]}" not in tags:
                raise r.error("tags", f"{tag!r} without its {'I' if tag[0] == 'B' else 'B'}- "
                                      f"tag: IOB2 tags come in B-/I- pairs")
        out["tags"] = tuple(tags)
        for key in ("question", "labels", "max_answer_tokens"):
            if r.get(key) is not None:
                raise r.error(key, f"only a span task has {key}")
    else:
        out["question"] = r.get("question", types=(str,), required=True)
        labels = _Reader(r.get("labels", types=(dict,), required=True), r.field("labels"),
                         r.source)
        out["label_key"] = labels.get("start", types=(str,), required=True)
        out["label_end_key"] = labels.get("end", types=(str,), required=True)
        labels.finish(LABELS_FIELDS)
        if out["label_key"] == out["label_end_key"]:
            raise r.error("labels", "start and end must be two features")
        out["max_answer_tokens"] = r.positive_int("max_answer_tokens", default=30)
        if r.get("tags") is not None:
            raise r.error("tags", "only a sequence_labeling task has tags")
    return out


def _parse_gate(values, where: str, source: str | None, kind: str):
    r = _Reader(values, where, source)
    metric = r.get("metric", types=(str,))
    expected = GATE_METRICS[kind]
    if metric is not None and metric not in (expected, TFMA_METRICS[kind]):
        raise r.error("metric", f"a {kind} task is gated on {expected}, got {metric!r}")
    bound = r.number("bound")
    if bound is None:
        raise r.error("bound", f"is required: the {expected} a release must reach "
                               f"({'at least' if kind != 'regression' else 'at most'})")
    if kind != "regression" and not 0 <= bound <= 1:
        raise r.error("bound", f"an {expected} bound is in [0, 1], got {bound}")
    max_change = r.number("max_change", required=True)
    if max_change < 0:
        raise r.error("max_change", f"expected an allowed degradation >= 0, got {max_change}")
    extra: dict[str, Any] = {}
    change = r.get("change", types=(str,))
    if change is not None:
        extra["change_mode"] = r.choice("change", ("absolute", "relative"))
    for key in ("min_labels", "min_slice_examples"):
        value = r.positive_int(key, minimum=0)
        if value is not None:
            extra[key] = value
    slice_bound = r.number("slice_bound")
    if slice_bound is not None:
        if kind == "multiclass":
            raise r.error("slice_bound", "a multiclass task has no per-slice bound (it gates "
                                         "AUC or RMSE per slice)")
        extra["slice_bound"] = slice_bound
    naive_ok, naive_wrong = (("naive_ratio", "naive_margin") if kind == "regression"
                             else ("naive_margin", "naive_ratio"))
    if r.get(naive_wrong) is not None:
        raise r.error(naive_wrong, f"does not apply to a {kind} task; its naive-baseline gate "
                                   f"is set with {naive_ok}")
    value = r.number(naive_ok, positive=naive_ok == "naive_ratio")
    if value is not None:
        extra[naive_ok] = value
    r.finish(GATE_FIELDS)
    return bound, max_change, extra


def _parse(values, source: str | None) -> ProblemSpec:
    r = _Reader(values, "", source)
    name = _check_name(r)
    input_values = r.get("input", default={}, types=(dict,))
    ir = _Reader(input_values, "input", source)
    input_format = ir.choice("format", INPUT_FORMATS, default="tfrecord")
    split_key = ir.get("split_key", types=(str,))
    ir.finish(INPUT_FIELDS)

    features = tuple(_parse_feature(v, f"features[{i}]", source)
                     for i, v in enumerate(_list(r.get("features"), "features", source)))
    if not features:
        raise SpecError(source, "features", "is empty: a problem needs at least one feature")
    tasks = tuple(_parse_task(v, f"tasks[{i}]", source)
                  for i, v in enumerate(_list(r.get("tasks"), "tasks", source)))
    if not [t for t in tasks if not t.optional]:
        raise SpecError(source, "tasks", "needs at least one task that is not optional")

    by_name: dict[str, str] = {}
    for i, feature in enumerate(features):
        if feature.name in by_name:
            raise SpecError(source, f"features[{i}].name",
                            f"{feature.name!r} is already the name of {by_name[feature.name]}")
        by_name[feature.name] = f"features[{[f.name for f in features].index(feature.name)}]"
    task_names: dict[str, int] = {}
    labels: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if task.name in task_names:
            raise SpecError(source, f"tasks[{i}].name", f"{task.name!r} is already the name of "
                                                        f"tasks[{task_names[task.name]}]")
        task_names[task.name] = i
        if task.label_key in by_name:
            raise SpecError(source, f"tasks[{i}].label", f"{task.label_key!r} is a feature "
                            f"({by_name[task.label_key]}); a label cannot be a model input")
        for key in (task.label_key, task.label_end_key):
            if key is None:
                continue
            if key in by_name:
                raise SpecError(source, f"tasks[{i}].labels", f"{key!r} is a feature "
                                f"({by_name[key]}); a label cannot be a model input")
            if key in labels:
                raise SpecError(source, f"tasks[{i}].label", f"{key!r} is already the "
                                f"label of tasks[{labels[key]}]")
            labels[key] = i
        for role in ("text", "question"):
            key = getattr(task, role)
            if key is None:
                continue
            feature = next((f for f in features if f.name == key), None)
            if feature is None or feature.kind != "text":
                what = "is not a feature" if feature is None else f"is a {feature.kind} feature"
                raise SpecError(source, f"tasks[{i}].{role}",
                                f"{key!r} {what}; a {task.kind} task reads a text feature "
                                f"(text features: {[f.name for f in features if f.kind == 'text']})")
    for i, feature in enumerate(features):
        if feature.kind != "text" or feature.vocabulary is None:
            continue
        target = next((f for f in features if f.name == feature.vocabulary), None)
        if target is None or target.kind != "text" or target.vocabulary:
            what = ("is not a feature" if target is None else f"is a {target.kind} feature"
                    if target.kind != "text" else "shares another feature's vocabulary")
            raise SpecError(source, f"features[{i}].vocabulary",
                            f"{feature.vocabulary!r} {what}; a text shares the vocabulary of a "
                            f"text feature with its own")
    for i, feature in enumerate(features):
        if feature.kind != "sequence" or feature.vocabulary is None:
            continue
        target = next((f for f in features if f.name == feature.vocabulary), None)
        if target is None or target.kind != "categorical":
            what = "is not a feature" if target is None else f"is a {target.kind} feature"
            raise SpecError(source, f"features[{i}].vocabulary",
                            f"{feature.vocabulary!r} {what}; a sequence shares the vocabulary "
                            f"of a categorical feature (categorical features: "
                            f"{[f.name for f in features if f.kind == 'categorical']})")
        if target.dtype != feature.dtype:
            raise SpecError(source, f"features[{i}].dtype",
                            f"{feature.dtype} ids cannot share the vocabulary of "
                            f"{target.name!r}, whose ids are {target.dtype}")

    slices = tuple(_list(r.get("slices"), "slices", source, required=False))
    for i, key in enumerate(slices):
        feature = next((f for f in features if f.name == key), None)
        if feature is None or feature.kind != "categorical":
            what = "is not a feature" if feature is None else f"is a {feature.kind} feature"
            raise SpecError(source, f"slices[{i}]", f"{key!r} {what}; slices are categorical "
                            f"features")
    model = r.get("model", default={}, types=(dict,))
    mr = _Reader(model, "model", source)
    entire_space = mr.get("entire_space", default={}, types=(dict,))
    for child, parent in entire_space.items():
        for role, task_name in (("child", child), ("parent", parent)):
            task = next((t for t in tasks if t.name == task_name), None)
            if task is None or task.kind != "binary":
                what = "is not a task" if task is None else f"is a {task.kind} task"
                raise SpecError(source, f"model.entire_space.{child}",
                                f"the {role} {task_name!r} {what}; ESMM's funnel links two "
                                f"binary tasks (child: parent)")
    hparams = mr.get("hparams", default={}, types=(dict,))
    _check_hparams(hparams, source)
    mr.finish(MODEL_FIELDS)
    r.finish(PROBLEM_FIELDS)
    if split_key is not None and (split_key in by_name or split_key in labels):
        raise SpecError(source, "input.split_key", f"{split_key!r} is a feature or a label; "
                        f"the split key is a column of its own")
    return ProblemSpec(name=name, features=features, tasks=tasks, slices=slices,
                       input_format=input_format, split_key=split_key,
                       entire_space=dict(entire_space),
                       hparams=dict(hparams), source=source)


def _check_hparams(hparams: dict, source: str | None) -> None:
    try:
        ModelHParams.from_dict(hparams)
    except (TypeError, ValueError) as e:
        raise SpecError(source, "model.hparams", str(e)) from None
