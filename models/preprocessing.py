"""tf.Transform preprocessing: the feature engineering that the serving graph carries along.

Driven by the run's problem spec (`models.spec`, in the Transform's
`custom_config["spec"]`; TFX passes `custom_config` to a `preprocessing_fn` that takes it):

- numeric features: z-scored over the training split (`log`: log1p of the value clipped at 0,
  then z-scored; `bucketize`: the quantile bucket id, 0 .. buckets-1). NaN / infinity take
  the serving default first, so a bad request never yields a NaN score;
- categorical ids: vocabularies (top-k by frequency) with OOV buckets;
- sequences: mapped through the vocabulary they share (or their own), shifted by one so that 0
  is padding, and padded / truncated to a fixed length. A sequence given as one string (a CSV
  column) is split on whitespace;
- for each task: `<task>_weight` (1.0 where the label is observed, 0.0 where it equals the
  task's missing sentinel or is absent) and `<task>_label` (the label clipped to its valid
  range: {0, 1} for binary tasks, >= 0 for regression, 0 .. K-1 for a multiclass class id),
  for the run's tasks: the default tasks plus the optional ones named in
  `custom_config["extra_tasks"]`.

Inputs may arrive dense ([batch] or [batch, 1]) or sparse (a feature not present in every
example), so every feature goes through `_to_dense` first.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from models import text_preprocessing
from models.spec import Feature, ProblemSpec, default_spec, label_name, transformed_name, weight_name


def spec_from_custom_config(custom_config: dict | None) -> ProblemSpec:
    """The run's problem spec (the default problem when the config carries none)."""
    values = (custom_config or {}).get("spec")
    return ProblemSpec.from_dict(values) if values else default_spec()


def _to_dense(x, default) -> tf.Tensor:
    """A [batch] dense tensor from a dense [batch]/[batch, 1] or sparse [batch, 1] input."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value=default
        )
    elif isinstance(x, tf.RaggedTensor):
        x = x.to_tensor(default_value=default, shape=[None, 1])
    if x.shape.rank == 2:
        x = tf.squeeze(x, axis=1)
    return x


def vocabulary_name(key: str) -> str:
    """The tf.Transform vocabulary file name of categorical feature (or own-vocabulary
    sequence) `key`."""
    return key


def _sequence_values(sequence, feature: Feature, joined: bool) -> tf.SparseTensor:
    """The sequence as a [batch, n] SparseTensor of string ids; `joined`:
    the data holds each sequence as one whitespace-separated string (CSV spans)."""
    if isinstance(sequence, tf.RaggedTensor):
        sequence = sequence.to_sparse()
    if not isinstance(sequence, tf.SparseTensor):
        sequence = tf.sparse.from_dense(sequence)
    if joined and sequence.dtype == tf.string:
        dense = tf.sparse.to_dense(sequence, default_value=b"")
        joined = tf.strings.reduce_join(dense, axis=1, separator=" ")
        sequence = tf.strings.split(joined).to_sparse()
    if sequence.dtype != tf.string:
        sequence = tf.SparseTensor(sequence.indices, _as_strings(sequence.values),
                                   sequence.dense_shape)
    return sequence


def _label_values(value, task) -> tf.Tensor:
    """A label's [batch] values, the task's missing sentinel where it is absent."""
    sentinel = int(task.missing_label) if value.dtype.is_integer else task.missing_label
    return _to_dense(value, tf.constant(sentinel, value.dtype))


def _as_strings(ids: tf.Tensor) -> tf.Tensor:
    """Integer ids as strings: every vocabulary maps strings, so the lookup tables of two
    problems trained in one process never differ in key type (TensorFlow shares a table
    between graphs by name)."""
    return ids if ids.dtype == tf.string else tf.strings.as_string(ids)


def _sequence_to_dense(sequence, feature: Feature, vocab, oov_buckets: int) -> tf.Tensor:
    """Ids of the sequence as [batch, max_length] int64, 0 = padding, id + 1 otherwise."""
    length = feature.max_length
    ids = tft.apply_vocabulary(sequence, deferred_vocab_filename_tensor=vocab,
                               num_oov_buckets=oov_buckets)
    shifted = tf.SparseTensor(ids.indices, ids.values + 1, ids.dense_shape)
    dense = tf.sparse.to_dense(shifted, default_value=0)
    dense = tf.pad(dense, [[0, 0], [0, length]])[:, :length]
    return tf.reshape(dense, [-1, length])


def _numeric(value: tf.Tensor, feature: Feature) -> tf.Tensor:
    value = tf.cast(value, tf.float32)
    # NaN or infinity (in a serving request; the schema refuses them in training data) would
    # make every score NaN: they take the feature's serving default instead.
    value = tf.where(tf.math.is_finite(value), value, float(feature.serving_default))
    if feature.transform == "bucketize":
        return tf.cast(tft.bucketize(value, feature.buckets), tf.int64)
    if feature.transform == "log":
        value = tf.math.log1p(tf.maximum(value, 0.0))
    return tft.scale_to_z_score(value)


def preprocessing_fn(inputs: dict, custom_config: dict | None = None) -> dict:
    """tf.Transform entry point: raw features and labels in, model features and masks out."""
    spec = spec_from_custom_config(custom_config)
    tasks = spec.select_tasks((custom_config or {}).get("extra_tasks"))
    missing = [f.name for f in spec.features if f.name not in inputs]
    if missing:
        raise ValueError(f"problem {spec.name!r}: features {missing} are not in the data's "
                         f"schema (features present: {sorted(inputs)})")
    outputs = {}
    vocab_files = {}
    for feature in spec.categorical:
        value = _to_dense(inputs[feature.name], b"" if inputs[feature.name].dtype == tf.string
                          else tf.constant(0, inputs[feature.name].dtype))
        value = _as_strings(value)
        vocab_files[feature.name] = tft.vocabulary(
            value, top_k=feature.vocabulary_size, vocab_filename=vocabulary_name(feature.name))
        outputs[transformed_name(feature.name)] = tft.apply_vocabulary(
            value, deferred_vocab_filename_tensor=vocab_files[feature.name],
            num_oov_buckets=feature.oov_buckets,
        )
    for feature in spec.features:
        if feature.kind == "numeric":
            value = _to_dense(inputs[feature.name], tf.constant(0, inputs[feature.name].dtype))
            outputs[transformed_name(feature.name)] = _numeric(value, feature)
    for feature in spec.sequences:
        values = _sequence_values(inputs[feature.name], feature,
                                  joined=spec.input_format == "csv")
        if feature.vocabulary:
            vocab = vocab_files[feature.vocabulary]
            oov = spec.feature(feature.vocabulary).oov_buckets
        else:
            vocab = tft.vocabulary(values, top_k=feature.vocabulary_size,
                                   vocab_filename=vocabulary_name(feature.name))
            oov = feature.oov_buckets
        outputs[transformed_name(feature.name)] = _sequence_to_dense(values, feature, vocab, oov)
    texts = {f.name: _to_dense(inputs[f.name], b"") for f in spec.text_features}
    if texts:
        outputs.update(text_preprocessing.text_outputs(texts, spec))
    for task in tasks:
        if task.kind in ("sequence_labeling", "span"):
            for key in (task.label_key, task.label_end_key):
                if key is not None and key not in inputs:
                    raise ValueError(f"task {task.name!r}: label feature {key!r} is not in the "
                                     f"data's schema (features present: {sorted(inputs)})")
            feature = spec.feature(task.text)
            if task.kind == "sequence_labeling":
                outputs.update(text_preprocessing.sequence_labeling_outputs(inputs, task, feature))
            else:
                start, end = (_label_values(inputs[key], task)
                              for key in (task.label_key, task.label_end_key))
                outputs.update(text_preprocessing.span_outputs(
                    texts[task.text], start, end, task, feature, outputs))
            continue
        if task.label_key not in inputs:
            raise ValueError(
                f"task {task.name!r}: label feature {task.label_key!r} is not in the data's "
                f"schema (features present: {sorted(inputs)}); every example needs it, "
                f"with {task.missing_label:g} where the label is not observed"
            )
        raw = tf.cast(_label_values(inputs[task.label_key], task), tf.float32)
        observed = tf.logical_and(tf.not_equal(raw, float(task.missing_label)),
                                  tf.math.is_finite(raw))
        outputs[weight_name(task)] = tf.cast(observed, tf.float32)
        upper = tf.float32.max if task.max_label is None else float(task.max_label)
        outputs[label_name(task)] = tf.where(observed, tf.clip_by_value(raw, 0.0, upper), 0.0)
    return outputs
