"""Loss-weighting strategies behind one interface.

A strategy turns the per-task masked losses of a batch into the one scalar the optimizer
minimises, and reports the current per-task weights (logged to TensorBoard).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.features import Task


class LossWeighting(keras.layers.Layer):
    """Base class: `combine(task_losses)` -> total loss; `current_weights()` -> {task: weight}."""

    def __init__(self, tasks: tuple[Task, ...], **kwargs):
        super().__init__(**kwargs)
        self.tasks = tuple(tasks)
        # Strategies create their variables (if any) here, so the layer is built at once.
        self.built = True

    def combine(self, task_losses: dict[str, tf.Tensor]) -> tf.Tensor:
        raise NotImplementedError

    def current_weights(self) -> dict[str, tf.Tensor]:
        raise NotImplementedError


class StaticWeighting(LossWeighting):
    """Fixed per-task weights from the task list: L = sum_t w_t * L_t."""

    def combine(self, task_losses):
        return tf.add_n([t.loss_weight * task_losses[t.name] for t in self.tasks])

    def current_weights(self):
        return {t.name: tf.constant(t.loss_weight, tf.float32) for t in self.tasks}


STRATEGIES = {"static": StaticWeighting}


def make_weighting(name: str, tasks: tuple[Task, ...]) -> LossWeighting:
    if name not in STRATEGIES:
        raise ValueError(f"unknown loss weighting {name!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[name](tasks, name=f"{name}_weighting")
