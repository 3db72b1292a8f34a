"""The exported SavedModel: the network plus the tf.Transform graph, behind serving signatures.

Signatures:
  serving_default(examples: string[batch]) -> {task: float[batch], "score": float[batch]}
      serialized tf.Example in, no labels needed. An optional feature (`Feature.optional`)
      absent from a request is imputed by the tf.Transform graph exactly as in training
      (`models.preprocessing`); other features absent from a request take the problem spec's
      serving defaults (`models.spec.Feature.serving_default`); ids never seen map to the OOV
      bucket.
      A multiclass task's output is float[batch, K], its class probabilities.
      `score` is the fused ranking score sum_t w_t * output_t, with the fusion weights given at
      export (the spec's `fusion_weight`s and the run's overrides, through the Trainer's
      custom_config); a multiclass task enters it as its expected class id sum_k k * p_k.
  serving_raw(<raw feature>: tensor[batch] ...) -> same outputs as serving_default
      one input per raw feature, by name, so TF Serving's REST API takes plain JSON rows
      ({"instances": [{"<feature>": value, ...}]}). Every input is required (a signature
      has no optional inputs; `mtl predict` fills the documented defaults); a sequence
      feature is one whitespace-separated string of ids ("" for none). An optional feature
      is absent where its value is `Feature.absent_value`: "" (a string or a sequence), NaN
      (a float), -9223372036854775808 (an int); it is then imputed as serving_default does.
  serving_transformed(<feature>_xf: tensor[batch] ...) -> {task: float[batch]}
      the network alone on transformed features (no tf.Transform, no score): the part the
      optional TFLite export (`models.tflite`) converts.
  transform_features(examples: string[batch]) -> {transformed feature: tensor}
      the tf.Transform graph alone, labels and masks included: TFMA reads labels from it.

Saved with `tf.saved_model.save` from a `tf.Module` that tracks both the Keras 3 network and
the tf.Transform layer, so the feature engineering travels with the model into TF Serving.
The contract (inputs, dtypes, defaults, outputs, fusion weights) is also written as JSON to
`assets.extra/serving_contract.json` and the problem spec the model was trained on to
`assets.extra/problem_spec.json` (TF Serving ignores that folder); `mtl describe-model DIR`
prints the contract with the signatures read from `saved_model.pb`, and `mtl predict` builds
its requests from the spec.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf
import tensorflow_transform as tft

from models import text as text_lib
from models.signatures import (
    CONTRACT_FILE,
    RAW_SIGNATURE,
    SCORE,
    SERVING_DEFAULT,
    SPEC_FILE,
    TRANSFORMED_SIGNATURE,
)
from models.spec import ProblemSpec, Task, default_spec

# Library packages written for graph mode that autograph would otherwise rewrite at every
# trace. TensorFlow already leaves `keras` and `tensorflow` alone; `tf_keras` (the Keras 2
# the tf.Transform layer is built on, once the `keras` package itself) and
# `tensorflow_transform` are not in that list, so each export converted their source again:
# tf_keras' default save signature of the tf.Transform layer and its `__call__` took most of
# the export's time (the default problem's model: 12.8-14.3 s, 2.5-2.6 s without).
_UNCONVERTED_LIBRARIES = ("tf_keras", "tensorflow_transform")


def leave_libraries_unconverted() -> None:
    """Adds `_UNCONVERTED_LIBRARIES` to autograph's do-not-convert rules (once per process).
    The signatures' own functions are traced with `autograph=False`: they have no control
    flow on tensors."""
    from tensorflow.python.autograph.core import config as autograph_config

    rules = autograph_config.CONVERSION_RULES
    known = {rule._prefix for rule in rules  # noqa: SLF001 - the rule's module prefix
             if isinstance(rule, autograph_config.DoNotConvert)}
    missing = tuple(autograph_config.DoNotConvert(name) for name in _UNCONVERTED_LIBRARIES
                    if name not in known)
    autograph_config.CONVERSION_RULES = missing + tuple(rules)


def serving_parse_spec(raw_feature_spec: dict, with_labels: bool,
                       spec: ProblemSpec | None = None) -> dict:
    """The raw feature spec with defaults, so a request may omit features (and labels)."""
    spec = spec or default_spec()
    labels = {key: t for t in spec.tasks for key in (t.label_key, t.label_end_key) if key}
    defaults = spec.serving_defaults
    optional = {f.name for f in spec.optional_features}
    out = {}
    for key, value in raw_feature_spec.items():
        if key in labels and not with_labels:
            continue
        if key not in labels and key not in defaults:
            continue  # a column of the data that the problem does not use
        if key in optional:
            # Absent stays absent: the tf.Transform graph imputes it.
            out[key] = tf.io.VarLenFeature(value.dtype)
        elif isinstance(value, tf.io.FixedLenFeature):
            if key in labels:
                default = labels[key].missing_label
                default = float(default) if value.dtype == tf.float32 else int(default)
            else:
                default = defaults.get(key)
                if default is None:
                    raise ValueError(f"feature {key!r} is not a feature of problem {spec.name!r} "
                                     f"(features: {list(defaults)})")
            if value.dtype == tf.string and isinstance(default, str):
                default = default.encode()
            count = 1
            for dim in value.shape:
                count *= dim
            out[key] = tf.io.FixedLenFeature(
                value.shape, value.dtype, default_value=[default] * count if value.shape else default
            )
        else:
            out[key] = value
    return out


def resolve_fusion_weights(fusion_weights: dict[str, float] | None,
                           tasks: tuple[Task, ...]) -> dict[str, float]:
    """One weight per task (the task's `fusion_weight` where not given); unknown task names
    are an error."""
    weights = {t.name: float(t.fusion_weight) for t in tasks}
    unknown = sorted(set(fusion_weights or {}) - set(weights))
    if unknown:
        raise ValueError(f"fusion weights name unknown tasks {unknown}; "
                         f"known tasks: {sorted(weights)}")
    weights.update({k: float(v) for k, v in (fusion_weights or {}).items()})
    return weights


def score_term(task: Task, output) -> tf.Tensor:
    """A task's [batch] contribution before weighting: its output, or for a multiclass task
    its expected class id sum_k k * p_k (an ordinal level such as a rating's)."""
    output = tf.cast(output, tf.float32)
    if task.kind == "multiclass":
        return tf.linalg.matvec(output, tf.range(task.num_classes, dtype=tf.float32))
    return output


TEXT_KINDS = ("sequence_labeling", "span")


def fused_score(outputs: dict, weights: dict[str, float], tasks: tuple[Task, ...]):
    """sum_t w_t * output_t over the tasks with one value per example (text tasks answer
    entities and spans, not a score; 0 when there is none), the ranking score."""
    terms = [weights[t.name] * score_term(t, outputs[t.name]) for t in tasks
             if t.kind not in TEXT_KINDS]
    if not terms:
        first = next(iter(outputs.values()))
        return tf.zeros(tf.shape(first)[:1], tf.float32)
    return tf.add_n(terms)


def raw_input_specs(raw_feature_spec: dict, spec: ProblemSpec | None = None
                    ) -> dict[str, tf.TensorSpec]:
    """The `serving_raw` inputs: one [batch] tensor per raw (non-label) feature; a sequence
    is one whitespace-separated string."""
    spec = spec or default_spec()
    specs = {}
    for feature in spec.features:
        value = raw_feature_spec[feature.name]
        dtype = tf.string if feature.kind in ("sequence", "text") else value.dtype
        specs[feature.name] = tf.TensorSpec([None], dtype, name=feature.name)
    return specs


def transformed_input_specs(network: keras.Model) -> dict[str, tf.TensorSpec]:
    """The network's inputs (transformed features) as TensorSpecs, batch dimension first."""
    specs = {}
    for tensor in network.inputs:
        name = tensor.name.split(":")[0]
        specs[name] = tf.TensorSpec(tensor.shape, tf.as_dtype(tensor.dtype), name=name)
    return specs


class ServingModule(tf.Module):
    """What is saved: the network, the tf.Transform layer and the signatures over both."""

    def __init__(self, network: keras.Model, tft_output: tft.TFTransformOutput,
                 fusion_weights: dict[str, float] | None = None,
                 tasks: tuple[Task, ...] | None = None, spec: ProblemSpec | None = None):
        super().__init__()
        self.network = network
        self._spec = spec or default_spec()
        self._tasks = self._spec.default_tasks if tasks is None else tuple(tasks)
        self.tft_layer = tft_output.transform_features_layer()
        raw_spec = tft_output.raw_feature_spec()
        self._raw_spec = raw_spec
        self._serving_spec = serving_parse_spec(raw_spec, False, self._spec)
        self._eval_spec = serving_parse_spec(raw_spec, True, self._spec)
        self._sequences = {f.name: f for f in self._spec.sequences}
        self.fusion_weights = resolve_fusion_weights(fusion_weights, self._tasks)
        for feature in self._spec.optional_features:
            if not isinstance(raw_spec.get(feature.name), tf.io.VarLenFeature):
                raise ValueError(
                    f"feature {feature.name!r} is optional in problem {self._spec.name!r} but "
                    f"the schema Transform read gives it a fixed shape, so the transform "
                    f"graph cannot take it absent; re-freeze the curated schema "
                    f"(`mtl schema freeze`)")

    def _predict(self, parsed: dict) -> dict:
        transformed = self.tft_layer(parsed)
        inputs = {key: transformed[key] for key in self._spec.model_input_keys()}
        outputs = dict(self.network(inputs, training=False))
        outputs[SCORE] = fused_score(outputs, self.fusion_weights, self._tasks)
        for task in self._tasks:
            if task.kind in TEXT_KINDS:
                decode = (text_lib.decode_entities if task.kind == "sequence_labeling"
                          else text_lib.decode_answer)
                raw = parsed[task.text]
                if isinstance(raw, tf.SparseTensor):
                    raw = tf.sparse.to_dense(raw, default_value="")
                raw = tf.reshape(raw, [-1])
                extra = ({"question_starts": transformed[f"{task.question}_starts"]}
                         if task.kind == "span" else {})
                outputs.update(decode(task, outputs[task.name], raw,
                                      transformed[f"{task.text}_starts"],
                                      transformed[f"{task.text}_ends"], **extra))
        return {name: tf.identity(value, name=name) for name, value in outputs.items()}

    def serve_transformed(self, **transformed):
        """The network alone on transformed features (what the TFLite export converts)."""
        outputs = self.network(transformed, training=False)
        return {name: tf.identity(value, name=name) for name, value in outputs.items()}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)
    def serve_examples(self, examples):
        return self._predict(tf.io.parse_example(examples, self._serving_spec))

    def serve_raw(self, **raw):
        """Raw tensors by name -> the parsed form `parse_example` would give the Transform."""
        parsed = {}
        for key, tensor in raw.items():
            if key in self._sequences:
                ids = tf.strings.split(tensor).to_sparse()
                if self._raw_spec[key].dtype != tf.string:
                    ids = tf.SparseTensor(ids.indices, tf.strings.to_number(
                        ids.values, self._raw_spec[key].dtype), ids.dense_shape)
                parsed[key] = ids
            elif isinstance(self._raw_spec[key], tf.io.VarLenFeature):
                parsed[key] = _absent_as_sparse(tensor, self._spec.feature(key))
            else:
                parsed[key] = tf.reshape(tensor, [-1, *self._raw_spec[key].shape])
        return self._predict(parsed)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)
    def transform_features(self, examples):
        parsed = tf.io.parse_example(examples, self._eval_spec)
        return self.tft_layer(parsed)


def _absent_as_sparse(tensor: tf.Tensor, feature) -> tf.SparseTensor:
    """A [batch] raw input as the [batch, 1] sparse feature `parse_example` gives: no value
    where the input is the feature's absent value ("", NaN, the smallest int64)."""
    if tensor.dtype == tf.string:
        present = tf.not_equal(tensor, "")
    elif tensor.dtype.is_floating:
        present = tf.logical_not(tf.math.is_nan(tensor))
    else:
        present = tf.not_equal(tensor, tf.constant(feature.absent_value, tensor.dtype))
    rows = tf.where(present)[:, 0]
    indices = tf.stack([rows, tf.zeros_like(rows)], axis=1)
    shape = tf.stack([tf.shape(tensor, out_type=tf.int64)[0], tf.constant(1, tf.int64)])
    return tf.SparseTensor(indices, tf.gather(tensor, rows), shape)


def imputation(feature) -> str:
    """What the transform graph gives optional `feature` when it is absent, in words."""
    if feature.kind == "numeric":
        what = ("the bucket of its training mean" if feature.transform == "bucketize"
                else "its training mean (z-score 0)")
        return f"{what}, and {feature.name}_missing = 1"
    if feature.kind == "categorical":
        return "a missing id of its own (not the OOV bucket)"
    if feature.kind == "sequence":
        return "one missing id of its own (an empty sequence too)"
    return "the empty text"


def absent_json(feature):
    """`Feature.absent_value` as the contract's JSON writes it (NaN as the string "NaN")."""
    value = feature.absent_value
    return "NaN" if isinstance(value, float) else value


def contract(module: ServingModule) -> dict:
    """The serving contract as plain data (written next to the model, printed by the CLI)."""
    descriptions = {"binary": "probability", "regression": "predicted value, label units"}
    outputs = {}
    for t in module._tasks:
        if t.kind == "sequence_labeling":
            outputs[t.name] = f"float[batch, length, {t.num_classes}]: each token's tag probabilities"
            outputs[f"{t.name}_start"] = ("int64[batch, length]: each entity's first character "
                                          "in the text, the entities first, -1 after them")
            outputs[f"{t.name}_end"] = "int64[batch, length]: its end character (exclusive)"
            outputs[f"{t.name}_type"] = "string[batch, length]: its type (\"\" after them)"
        elif t.kind == "span":
            outputs[t.name] = "float[batch, 2, length]: start and end distributions over tokens"
            outputs[f"{t.name}_start"] = "int64[batch]: the answer's first character, -1: none"
            outputs[f"{t.name}_end"] = "int64[batch]: its end character (exclusive)"
            outputs[f"{t.name}_text"] = "string[batch]: the answer"
            outputs[f"{t.name}_score"] = "float[batch]: p(start) * p(end)"
        else:
            outputs[t.name] = descriptions.get(
                t.kind, f"float[batch, {t.num_classes}]: probability of each class "
                        f"0..{t.num_classes - 1}")
    outputs[SCORE] = "sum_t w_t * output_t with the fusion weights below"
    raw = raw_input_specs(module._raw_spec, module._spec)
    return {
        "signatures": {
            SERVING_DEFAULT: {
                "inputs": {"examples": "string[batch]: serialized tf.Example, no labels"},
                "outputs": outputs,
            },
            RAW_SIGNATURE: {
                "inputs": {k: f"{v.dtype.name}[batch]" for k, v in raw.items()},
                "outputs": outputs,
                "note": "a sequence feature ({}) is one whitespace-separated string of ids"
                        .format(", ".join(f.name for f in module._spec.sequences) or "none"),
            },
            TRANSFORMED_SIGNATURE: {
                "inputs": "the transformed features (<feature>_xf), as transform_features "
                          "outputs them",
                "outputs": {k: v for k, v in outputs.items() if k != SCORE},
                "note": "the network alone, no tf.Transform: what the TFLite export converts",
            },
            "transform_features": {
                "inputs": {"examples": "string[batch]: serialized tf.Example with labels"},
                "outputs": "the tf.Transform features (used by TFMA)",
            },
        },
        "problem": module._spec.name,
        "defaults": {f.name: f.serving_default for f in module._spec.features
                     if not f.optional},
        "optional": {
            f.name: {"imputed": imputation(f), "serving_default": "leave the feature out of "
                     "the tf.Example", "serving_raw": absent_json(f)}
            for f in module._spec.optional_features},
        "oov": "ids never seen in training map to the vocabulary's OOV bucket",
        "fusion_weights": module.fusion_weights,
        "tasks": {t.name: t.kind for t in module._tasks},
    }


def export_serving_model(network: keras.Model, tft_output: tft.TFTransformOutput,
                         export_dir: str, fusion_weights: dict[str, float] | None = None,
                         tasks: tuple[Task, ...] | None = None,
                         spec: ProblemSpec | None = None) -> None:
    """Writes the SavedModel (serving_default, serving_raw, serving_transformed,
    transform_features), its contract JSON and its problem spec."""
    leave_libraries_unconverted()
    module = ServingModule(network, tft_output, fusion_weights, tasks, spec)
    raw_fn = tf.function(module.serve_raw, autograph=False).get_concrete_function(
        **raw_input_specs(tft_output.raw_feature_spec(), module._spec))
    transformed_fn = tf.function(module.serve_transformed,
                                 autograph=False).get_concrete_function(
        **transformed_input_specs(module.network))
    signatures = {
        SERVING_DEFAULT: module.serve_examples.get_concrete_function(),
        RAW_SIGNATURE: raw_fn,
        TRANSFORMED_SIGNATURE: transformed_fn,
        "transform_features": module.transform_features.get_concrete_function(),
    }
    tf.saved_model.save(module, export_dir, signatures=signatures)
    _write_json(os.path.join(export_dir, CONTRACT_FILE), contract(module))
    spec_values = module._spec.to_dict()
    spec_values["trained_tasks"] = [t.name for t in module._tasks]
    _write_json(os.path.join(export_dir, SPEC_FILE), spec_values)


def _write_json(path: str, values: dict) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def load_saved_model(model_dir: str):
    """`tf.saved_model.load`, with the TF-Text ops a text problem's model uses registered
    first (a process that never imported `tensorflow_text` cannot load such a graph; TF
    Serving's standard build links them)."""
    import tensorflow_text  # noqa: F401 - registers the ops

    return tf.saved_model.load(str(model_dir))
