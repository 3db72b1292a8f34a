"""Task heads: each task owns its head activation, its masked loss and its training metrics.

A label that is missing (mask 0) contributes exactly nothing: the per-example losses are
multiplied by the mask and summed, then divided by the number of observed labels in the batch
(not by the batch size), and a batch with no observed label for a task gives a loss of 0 for it,
never NaN. A multiclass task's prediction is [batch, K] class probabilities and its label the
class id; its loss is the masked cross-entropy -log p[label]. This mirrors TensorFlow
Recommenders' tasks: the task computes, the model sums.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.spec import Task

_EPSILON = 1e-7


def head_activation(task: Task, logits: tf.Tensor) -> tf.Tensor:
    """Maps a tower's logits ([batch], or [batch, K] for multiclass) to the prediction."""
    if task.kind == "multiclass":
        return keras.ops.softmax(logits, axis=-1)
    if task.kind == "binary":
        return keras.ops.sigmoid(logits)
    if task.kind == "regression":
        # Non-negative, in label units: softplus(z) * scale starts near 0.7 * scale.
        return keras.ops.softplus(logits) * task.scale
    raise ValueError(f"task {task.name!r}: unknown kind {task.kind!r}")


# softplus^-1(1) = log(e - 1): the logit at which a regression head predicts exactly `scale`.
_SOFTPLUS_INVERSE_OF_ONE = 0.5413248546129181


def initial_logit(task: Task) -> float:
    """The logit bias a head starts from: a regression head starts at its task's `scale` (the
    label's typical magnitude), so the first steps fit the spread rather than the level;
    other heads start at 0 (probability 0.5, uniform classes)."""
    return _SOFTPLUS_INVERSE_OF_ONE if task.kind == "regression" else 0.0


def class_ids(task: Task, labels: tf.Tensor) -> tf.Tensor:
    """A multiclass task's labels as int32 class ids; a missing label (any value) is clipped
    into range, and the mask removes it afterwards."""
    return tf.clip_by_value(tf.cast(labels, tf.int32), 0, task.max_label)


def per_example_loss(task: Task, labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
    """Unmasked [batch] loss of one task. A sequence_labeling task's is the mean cross-entropy
    over the example's tagged tokens (label >= 0); a span task's the mean of its start and end
    cross-entropies."""
    predictions = tf.cast(predictions, tf.float32)
    if task.kind == "sequence_labeling":
        labels = tf.cast(labels, tf.int32)
        valid = tf.cast(labels >= 0, tf.float32)
        p = tf.gather(predictions, tf.maximum(labels, 0), axis=-1, batch_dims=2)
        ce = -tf.math.log(tf.clip_by_value(p, _EPSILON, 1.0)) * valid
        return tf.math.divide_no_nan(tf.reduce_sum(ce, axis=1), tf.reduce_sum(valid, axis=1))
    if task.kind == "span":
        labels = tf.maximum(tf.cast(labels, tf.int32), 0)
        p = tf.gather(predictions, labels, axis=-1, batch_dims=2)  # [batch, 2]
        return tf.reduce_mean(-tf.math.log(tf.clip_by_value(p, _EPSILON, 1.0)), axis=1)
    if task.kind == "multiclass":
        p = tf.gather(predictions, class_ids(task, labels), axis=-1, batch_dims=1)
        return -tf.math.log(tf.clip_by_value(p, _EPSILON, 1.0))
    labels = tf.cast(labels, tf.float32)
    if task.kind == "binary":
        p = tf.clip_by_value(predictions, _EPSILON, 1.0 - _EPSILON)
        return -(labels * tf.math.log(p) + (1.0 - labels) * tf.math.log(1.0 - p))
    if task.kind == "regression":
        return tf.square((predictions - labels) / task.scale)
    raise ValueError(f"task {task.name!r}: unknown kind {task.kind!r}")


def masked_loss(task: Task, labels: tf.Tensor, predictions: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean loss over the observed labels of the batch (0 when none is observed)."""
    mask = tf.cast(mask, tf.float32)
    losses = per_example_loss(task, labels, predictions)
    # Missing labels may hold anything: select rather than multiply so a NaN there cannot leak.
    losses = tf.where(mask > 0, losses, tf.zeros_like(losses))
    return tf.math.divide_no_nan(tf.reduce_sum(losses * mask), tf.reduce_sum(mask))


def metric_inputs(task: Task, labels: tf.Tensor, predictions: tf.Tensor, mask: tf.Tensor
                  ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(y_true, y_pred, sample_weight) for the task's Keras metrics; the mask as sample weight
    makes missing labels count for nothing."""
    if task.kind == "multiclass":
        # Sparse class ids [batch] against [batch, K] probabilities.
        return class_ids(task, labels), predictions, mask
    if task.kind in ("sequence_labeling", "span"):
        # Token (or start / end) positions: a tag id per token against [batch, L, K] tag
        # probabilities, or the start and end against [batch, 2, L]; padding weighs nothing.
        labels = tf.cast(labels, tf.int32)
        weight = tf.cast(labels >= 0, tf.float32) * tf.cast(mask, tf.float32)[:, None]
        return tf.maximum(labels, 0), predictions, weight
    # Keras metrics expect [batch, 1].
    return labels[:, None], predictions[:, None], mask[:, None]


def make_metrics(task: Task) -> list[keras.metrics.Metric]:
    """Training/validation metrics of a task, to be updated with the mask as sample weight."""
    if task.kind == "binary":
        return [keras.metrics.AUC(name=f"{task.name}_auc")]
    if task.kind == "sequence_labeling":
        return [keras.metrics.SparseCategoricalAccuracy(name=f"{task.name}_token_accuracy")]
    if task.kind == "span":
        return [keras.metrics.SparseCategoricalAccuracy(name=f"{task.name}_boundary_accuracy")]
    if task.kind == "multiclass":
        return [
            keras.metrics.SparseCategoricalAccuracy(name=f"{task.name}_accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(
                k=task.top_k, name=f"{task.name}_top_{task.top_k}_accuracy"),
        ]
    return [
        keras.metrics.RootMeanSquaredError(name=f"{task.name}_rmse"),
        keras.metrics.MeanAbsoluteError(name=f"{task.name}_mae"),
    ]
