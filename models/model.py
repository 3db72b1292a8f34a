"""Multi-task Keras models: one builder per architecture, one named output per task.

`build_model(hparams, vocab_sizes)` returns a `MultiTaskModel`: a functional network whose
output is a dict keyed by task name (predictions in label units: probabilities for binary tasks,
seconds for watch_time), wrapped with a training step that applies each task's masked loss and
the chosen loss weighting.

Architectures:
  shared_bottom  Hard parameter sharing (Caruana, "Multitask Learning", Machine Learning 1997):
                 embeddings and a shared dense stack feed one tower per task.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from models import features, layers
from models import tasks as task_lib
from models import weighting as weighting_lib
from models.features import Task
from models.hparams import ModelHParams


def make_inputs() -> dict[str, keras.KerasTensor]:
    """Keras inputs for the transformed features the model reads."""
    inputs = {}
    for key in features.CATEGORICAL_FEATURES:
        name = features.transformed_name(key)
        inputs[name] = keras.Input(shape=(), dtype="int64", name=name)
    for key in features.FLOAT_FEATURES + features.INT_FEATURES:
        name = features.transformed_name(key)
        inputs[name] = keras.Input(shape=(), dtype="float32", name=name)
    name = features.transformed_name(features.HISTORY_FEATURE)
    inputs[name] = keras.Input(shape=(features.HISTORY_LENGTH,), dtype="int64", name=name)
    return inputs


def embed(inputs: dict, vocab_sizes: dict[str, int], hp: ModelHParams) -> keras.KerasTensor:
    """The shared input representation: embeddings, pooled history, numeric features."""
    xf = features.transformed_name
    layer = layers.FeatureEmbedding(
        vocab_sizes={xf(k): vocab_sizes[k] for k in features.CATEGORICAL_FEATURES},
        embedding_dims={
            xf(k): max(1, round(dim * hp.embedding_scale))
            for k, (_, dim) in features.CATEGORICAL_FEATURES.items()
        },
        numeric_keys=[xf(k) for k in features.FLOAT_FEATURES + features.INT_FEATURES],
        history_key=xf(features.HISTORY_FEATURE),
        history_vocab_of=xf(features.HISTORY_VOCAB_OF),
        name="feature_embedding",
    )
    return layer(inputs)


def task_outputs(tower_inputs: dict[str, keras.KerasTensor], hp: ModelHParams,
                 tasks: tuple[Task, ...]) -> dict[str, keras.KerasTensor]:
    """One tower and head per task, each fed from its own input vector."""
    outputs = {}
    for task in tasks:
        logits = layers.TaskTower(hp.tower_units, hp.dropout, hp.l2, name=f"{task.name}_tower")(
            tower_inputs[task.name]
        )
        outputs[task.name] = task_lib.head_activation(task, logits)
    return outputs


def build_shared_bottom(inputs, vocab_sizes, hp: ModelHParams, tasks):
    shared = layers.MLP(hp.bottom_units, dropout=0.0, l2=hp.l2, name="shared_bottom")(
        embed(inputs, vocab_sizes, hp)
    )
    return task_outputs({t.name: shared for t in tasks}, hp, tasks)


ARCHITECTURES: dict[str, Callable] = {"shared_bottom": build_shared_bottom}


class MultiTaskModel(keras.Model):
    """Wraps a multi-output network with masked per-task losses and a loss-weighting strategy.

    Data come as (features, labels, masks), labels and masks being dicts keyed by task name.
    """

    def __init__(self, network: keras.Model, tasks: tuple[Task, ...],
                 weighting: weighting_lib.LossWeighting, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.tasks = tuple(tasks)
        self.weighting = weighting
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.task_loss_trackers = {
            t.name: keras.metrics.Mean(name=f"{t.name}_loss") for t in self.tasks
        }
        self.task_metrics = {t.name: task_lib.make_metrics(t) for t in self.tasks}

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    @property
    def metrics(self):
        out = [self.loss_tracker, *self.task_loss_trackers.values()]
        for metric_list in self.task_metrics.values():
            out.extend(metric_list)
        return out

    def task_losses(self, labels, masks, predictions) -> dict[str, tf.Tensor]:
        return {
            t.name: task_lib.masked_loss(t, labels[t.name], predictions[t.name], masks[t.name])
            for t in self.tasks
        }

    def _update_metrics(self, total, task_losses, labels, masks, predictions):
        self.loss_tracker.update_state(total)
        for t in self.tasks:
            self.task_loss_trackers[t.name].update_state(task_losses[t.name])
            for metric in self.task_metrics[t.name]:
                # Keras metrics expect [batch, 1]; the mask makes missing labels count for nothing.
                metric.update_state(labels[t.name][:, None], predictions[t.name][:, None],
                                    sample_weight=masks[t.name][:, None])
        logs = {m.name: m.result() for m in self.metrics}
        for name, value in self.weighting.current_weights().items():
            logs[f"{name}_loss_weight"] = value
        return logs

    def train_step(self, data):
        inputs, labels, masks = data
        with tf.GradientTape() as tape:
            predictions = self(inputs, training=True)
            task_losses = self.task_losses(labels, masks, predictions)
            total = self.weighting.combine(task_losses)
            if self.network.losses:
                total_with_reg = total + tf.add_n(self.network.losses)
            else:
                total_with_reg = total
        variables = self.trainable_variables
        gradients = tape.gradient(total_with_reg, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(gradients, variables) if g is not None]
        )
        return self._update_metrics(total, task_losses, labels, masks, predictions)

    def test_step(self, data):
        inputs, labels, masks = data
        predictions = self(inputs, training=False)
        task_losses = self.task_losses(labels, masks, predictions)
        total = self.weighting.combine(task_losses)
        return self._update_metrics(total, task_losses, labels, masks, predictions)


def build_network(hp: ModelHParams, vocab_sizes: dict[str, int],
                  tasks: tuple[Task, ...] = features.TASKS) -> keras.Model:
    """The functional network: transformed features in, {task: prediction} out."""
    if hp.model not in ARCHITECTURES:
        raise ValueError(f"unknown model {hp.model!r}; choose one of {sorted(ARCHITECTURES)}")
    missing = sorted(set(features.CATEGORICAL_FEATURES) - set(vocab_sizes))
    if missing:
        raise ValueError(f"vocabulary sizes missing for categorical features {missing}")
    inputs = make_inputs()
    outputs = ARCHITECTURES[hp.model](inputs, vocab_sizes, hp, tasks)
    return keras.Model(inputs=inputs, outputs=outputs, name=hp.model)


def build_model(hp: ModelHParams, vocab_sizes: dict[str, int],
                tasks: tuple[Task, ...] = features.TASKS) -> MultiTaskModel:
    """The trainable multi-task model for architecture `hp.model` and weighting `hp.weighting`."""
    network = build_network(hp, vocab_sizes, tasks)
    model = MultiTaskModel(network, tasks, weighting_lib.make_weighting(hp.weighting, tasks))
    model.compile(
        optimizer=keras.optimizers.Adam(hp.learning_rate),
        jit_compile=hp.jit_compile,
    )
    return model
