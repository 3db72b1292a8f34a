"""tf.Transform preprocessing: the feature engineering that the serving graph carries along.

- float and int features: z-scored over the training split (NaN / infinity take the serving
  default first, so a bad request never yields a NaN score);
- categorical ids: vocabularies (top-k by frequency) with OOV buckets;
- `history_item_ids`: mapped through the `item_id` vocabulary, shifted by one so that 0 is
  padding, and padded / truncated to a fixed length;
- for each task: `<task>_weight` (1.0 where the label is observed, 0.0 where it is -1 or
  absent) and `<task>_label` (the label clipped to its valid range: {0, 1} for binary tasks,
  >= 0 for regression, 0 .. K-1 for a multiclass task's class id), for the run's tasks: the
  default tasks plus the optional ones named in the Transform's `custom_config["extra_tasks"]`
  (TFX passes `custom_config` to a `preprocessing_fn` that takes it).

Inputs may arrive dense ([batch] or [batch, 1]) or sparse (a feature not present in every
example), so every feature goes through `_to_dense` first.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from models import features


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
    """The tf.Transform vocabulary file name of categorical feature `key`."""
    return key


def _history_to_dense(history, item_vocab) -> tf.Tensor:
    """Item ids of the history as [batch, HISTORY_LENGTH] int64, 0 = padding, id + 1 otherwise."""
    length = features.HISTORY_LENGTH
    if isinstance(history, tf.RaggedTensor):
        history = history.to_sparse()
    if not isinstance(history, tf.SparseTensor):
        history = tf.sparse.from_dense(history)
    ids = tft.apply_vocabulary(
        history,
        deferred_vocab_filename_tensor=item_vocab,
        num_oov_buckets=features.NUM_OOV_BUCKETS,
    )
    shifted = tf.SparseTensor(ids.indices, ids.values + 1, ids.dense_shape)
    dense = tf.sparse.to_dense(shifted, default_value=0)
    dense = tf.pad(dense, [[0, 0], [0, length]])[:, :length]
    return tf.reshape(dense, [-1, length])


def preprocessing_fn(inputs: dict, custom_config: dict | None = None) -> dict:
    """tf.Transform entry point: raw features and labels in, model features and masks out."""
    tasks = features.select_tasks((custom_config or {}).get("extra_tasks"))
    outputs = {}
    vocab_files = {}
    for key, (top_k, _) in features.CATEGORICAL_FEATURES.items():
        value = _to_dense(inputs[key], b"")
        vocab_files[key] = tft.vocabulary(value, top_k=top_k, vocab_filename=vocabulary_name(key))
        outputs[features.transformed_name(key)] = tft.apply_vocabulary(
            value, deferred_vocab_filename_tensor=vocab_files[key],
            num_oov_buckets=features.NUM_OOV_BUCKETS,
        )
    for key in features.FLOAT_FEATURES + features.INT_FEATURES:
        value = tf.cast(_to_dense(inputs[key], 0), tf.float32)
        # NaN or infinity (in a serving request; the schema refuses them in training data)
        # would make every score NaN: they take the feature's serving default instead.
        default = float(features.SERVING_DEFAULTS.get(key, 0.0))
        value = tf.where(tf.math.is_finite(value), value, default)
        outputs[features.transformed_name(key)] = tft.scale_to_z_score(value)
    outputs[features.transformed_name(features.HISTORY_FEATURE)] = _history_to_dense(
        inputs[features.HISTORY_FEATURE], vocab_files[features.HISTORY_VOCAB_OF]
    )
    for task in tasks:
        if task.label_key not in inputs:
            raise ValueError(
                f"task {task.name!r}: label feature {task.label_key!r} is not in the data's "
                f"schema (features present: {sorted(inputs)}); every example needs it, "
                f"with -1 where the label is not observed"
            )
        raw = tf.cast(_to_dense(inputs[task.label_key], features.MISSING_LABEL), tf.float32)
        observed = raw >= 0.0
        outputs[features.weight_name(task)] = tf.cast(observed, tf.float32)
        upper = tf.float32.max if task.max_label is None else float(task.max_label)
        outputs[features.label_name(task)] = tf.where(observed, tf.clip_by_value(raw, 0.0, upper), 0.0)
    return outputs
