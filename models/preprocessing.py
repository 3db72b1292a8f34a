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

Optional features (`Feature.optional`: the curated schema lets an example lack them; they are
parsed as sparse features, since tf.Transform refuses a parse-time default for a dense one)
are imputed here, in the graph the serving signatures carry, so a request that omits one gets
exactly what training gave an example without it:

- numeric: the training mean of the present values (after `log`), so its z-score is 0 (a
  bucketized one: the bucket of that mean); the mean, the variance and the quantiles are
  those of the present values alone. `<feature>_missing` (`missing_name`) is 1.0 where the
  value was absent (or not finite) and 0.0 elsewhere: a model input;
- categorical: an id of its own, `vocabulary size + oov_buckets`, after the OOV buckets (the
  vocabulary is built from the present values);
- sequence: no id at all (absent, an empty list, an empty CSV cell) becomes one missing id,
  that of the vocabulary it is looked up in (shifted by one like every id);
- text: the empty string.
Required features (present in every reference example) keep the transformations above
unchanged: no indicator, no missing id.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from models import text_preprocessing
from models.spec import (
    Feature,
    ProblemSpec,
    default_spec,
    label_name,
    missing_name,
    transformed_name,
    weight_name,
)


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


def _single_value(x, default) -> tuple[tf.Tensor, tf.Tensor]:
    """([batch] values, [batch] bool present) of a feature with at most one value per example:
    sparse (absent where an example has no value), ragged or dense (present everywhere). A
    second value, which the curated schema refuses, is dropped."""
    if isinstance(x, tf.RaggedTensor):
        x = x.to_sparse()
    if isinstance(x, tf.SparseTensor):
        first = tf.sparse.retain(x, tf.equal(x.indices[:, 1], 0))
        shape = tf.stack([x.dense_shape[0], tf.constant(1, tf.int64)])
        values = tf.sparse.to_dense(tf.SparseTensor(first.indices, first.values, shape),
                                    default_value=default)[:, 0]
        present = tf.sparse.to_dense(
            tf.SparseTensor(first.indices, tf.ones_like(first.values, tf.bool), shape),
            default_value=False)[:, 0]
        return values, present
    values = _to_dense(x, default)
    return values, tf.ones_like(values, tf.bool)


def missing_id(table: str, oov_buckets: int) -> tf.Tensor:
    """The missing id of vocabulary `table`: after its values and its OOV buckets."""
    size = tft.experimental.get_vocabulary_size_by_name(vocabulary_name(table))
    return tf.cast(size, tf.int64) + oov_buckets


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


def _sequence_to_dense(sequence, feature: Feature, vocab, oov_buckets: int,
                       missing: tf.Tensor | None = None) -> tf.Tensor:
    """Ids of the sequence as [batch, max_length] int64, 0 = padding, id + 1 otherwise; with
    `missing` (an optional sequence), a sequence without any id is [missing + 1, 0, ...]."""
    length = feature.max_length
    ids = tft.apply_vocabulary(sequence, deferred_vocab_filename_tensor=vocab,
                               num_oov_buckets=oov_buckets)
    shifted = tf.SparseTensor(ids.indices, ids.values + 1, ids.dense_shape)
    dense = tf.sparse.to_dense(shifted, default_value=0)
    dense = tf.pad(dense, [[0, 0], [0, length]])[:, :length]
    dense = tf.reshape(dense, [-1, length])
    if missing is None:
        return dense
    first = tf.where(dense[:, 0] > 0, dense[:, 0], missing + 1)
    return tf.concat([first[:, None], dense[:, 1:]], axis=1)


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


def _optional_numeric(raw, feature: Feature) -> tuple[tf.Tensor, tf.Tensor]:
    """(transformed value, missing indicator) of an optional numeric feature: the statistics
    (mean, variance, quantiles) are those of the present values; an absent or non-finite value
    takes the mean (z-score 0; a bucketized feature: the mean's bucket)."""
    value, present = _single_value(raw, tf.constant(0, raw.dtype))
    value = tf.cast(value, tf.float32)
    present = tf.logical_and(present, tf.math.is_finite(value))
    value = tf.where(present, value, 0.0)
    if feature.transform == "log":
        value = tf.math.log1p(tf.maximum(value, 0.0))
    observed = tf.boolean_mask(value, present)
    indicator = 1.0 - tf.cast(present, tf.float32)
    if feature.transform == "bucketize":
        boundaries = tft.quantiles(observed, feature.buckets,
                                   epsilon=min(1.0 / feature.buckets, 0.01))
        imputed = tf.where(present, value, tft.mean(observed))
        return tf.cast(tft.apply_buckets(imputed, boundaries), tf.int64), indicator
    mean, variance = tft.mean(observed), tft.var(observed)
    centred = tf.where(present, value - mean, 0.0)
    scaled = tf.where(variance > 0, centred / tf.sqrt(tf.maximum(variance, 1e-30)), centred)
    return scaled, indicator


def _categorical(raw, feature: Feature) -> tuple[tf.Tensor, tf.Tensor]:
    """([batch] string values, [batch] present) of a categorical feature."""
    default = b"" if raw.dtype == tf.string else tf.constant(0, raw.dtype)
    if feature.optional:
        value, present = _single_value(raw, default)
    else:
        value = _to_dense(raw, default)
        present = tf.ones_like(value, tf.bool)
    return _as_strings(value), present


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
        value, present = _categorical(inputs[feature.name], feature)
        # The vocabulary counts the present values only (an absent one is not the value "").
        vocab_files[feature.name] = tft.vocabulary(
            tf.boolean_mask(value, present) if feature.optional else value,
            top_k=feature.vocabulary_size, vocab_filename=vocabulary_name(feature.name))
        ids = tft.apply_vocabulary(
            value, deferred_vocab_filename_tensor=vocab_files[feature.name],
            num_oov_buckets=feature.oov_buckets,
        )
        if feature.optional:
            ids = tf.where(present, ids, missing_id(feature.name, feature.oov_buckets))
        outputs[transformed_name(feature.name)] = ids
    for feature in spec.features:
        if feature.kind == "numeric" and feature.optional:
            outputs[transformed_name(feature.name)], outputs[missing_name(feature.name)] = (
                _optional_numeric(inputs[feature.name], feature))
        elif feature.kind == "numeric":
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
        missing = (missing_id(spec.vocabulary_of(feature), oov) if feature.optional else None)
        outputs[transformed_name(feature.name)] = _sequence_to_dense(values, feature, vocab, oov,
                                                                     missing)
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
