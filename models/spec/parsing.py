"""Parsing and validating a spec's values, field by field: an error names the file, the field,
the value and what was expected (`SpecError`)."""

from __future__ import annotations

import math
import re
from typing import Any

from models.hparams import ModelHParams
from models.spec.feature import Feature
from models.spec.fields import (
    FEATURE_FIELDS,
    GATE_FIELDS,
    INPUT_FIELDS,
    LABELS_FIELDS,
    MODEL_FIELDS,
    PROBLEM_FIELDS,
    SCHEMA_FIELDS,
    TASK_FIELDS,
)
from models.spec.kinds import (
    DEFAULT_MISSING_LABEL,
    DRIFT_COMPARATORS,
    FEATURE_KINDS,
    GATE_METRICS,
    INPUT_FORMATS,
    NUMERIC_TRANSFORMS,
    TASK_KINDS,
    TEXT_TASK_KINDS,
    TEXT_TOKENIZERS,
    TFMA_METRICS,
)
from models.spec.task import Task


class SpecError(ValueError):
    """A spec that cannot be used: names the file, the field and what was expected."""

    def __init__(self, source: str | None, field: str, message: str):
        self.source, self.field = source, field
        where = f"spec {source}" if source else "spec"
        super().__init__(f"{where}: {field}: {message}")


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


# A sequence_labeling task's tags: O, or B-/I- and an entity type.
_TAG = r"^(O|[BI]-[A-Za-z0-9_]+)$"


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


def parse_problem(values, source: str | None) -> dict[str, Any]:
    """The fields of a `ProblemSpec`, validated: its features and tasks, cross-checked."""
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
    return dict(name=name, features=features, tasks=tasks, slices=slices,
                input_format=input_format, split_key=split_key, entire_space=dict(entire_space),
                hparams=dict(hparams), source=source)


def _check_hparams(hparams: dict, source: str | None) -> None:
    try:
        ModelHParams.from_dict(hparams)
    except (TypeError, ValueError) as e:
        raise SpecError(source, "model.hparams", str(e)) from None
