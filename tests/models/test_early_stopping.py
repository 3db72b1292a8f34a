"""`epochs: auto`: the epoch budget, the stopping rule and the restored best weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from models import early_stopping
from models.early_stopping import BestEpoch, epoch_budget
from models.hparams import ModelHParams
from models.model import build_model
from tests.support.model_batches import SMALL, VOCAB, fake_batch


def test_budget_gives_small_data_more_epochs_within_bounds():
    assert epoch_budget(1_000) == early_stopping.MAX_EPOCHS
    assert epoch_budget(80_000) == 25            # ceil(2,000,000 / 80,000)
    assert epoch_budget(90_000) == 23            # ceil(22.2)
    assert epoch_budget(5_000_000) == early_stopping.MIN_EPOCHS
    sizes = [500, 5_000, 20_000, 72_000, 300_000, 1_000_000, 10_000_000]
    budgets = [epoch_budget(n) for n in sizes]
    assert budgets == sorted(budgets, reverse=True)


class _Weights:
    """A stand-in network: its weights are the epoch that last set them."""

    def __init__(self):
        self.value = 0.0

    def get_weights(self):
        return [np.array(self.value)]

    def set_weights(self, weights):
        self.value = float(weights[0])


class _Optimizer:
    learning_rate = 0.02


def _run(losses, patience=2, budget=100, max_seconds=None, epoch_seconds=1.0, cuts=0,
         optimizer=None):
    """Feeds BestEpoch one validation loss per epoch until it stops; returns it and the
    stand-in network's final weights."""
    network = _Weights()
    now = [0.0]
    callback = BestEpoch({"a": 1.0, "b": 0.5}, patience=patience, max_seconds=max_seconds,
                         target=network, clock=lambda: now[0], cuts=cuts,
                         optimizers=[optimizer] if optimizer else None)
    model = keras.Sequential()
    model.stop_training = False
    callback.set_model(model)
    callback.set_params({"epochs": budget})
    callback.on_train_begin()
    logs_seen = []
    for epoch, loss in enumerate(losses[:budget]):
        now[0] += epoch_seconds
        restored = network.value
        network.value = float(epoch + 1)       # the weights after this epoch
        if cuts and epoch and restored != epoch:
            # A cut restored earlier weights before this epoch.
            logs_seen.append(("resumed from", restored))
        logs = {"val_a_loss": loss, "val_b_loss": 2.0}
        callback.on_epoch_end(epoch, logs)
        logs_seen.append(logs)
        if callback.model.stop_training:
            break
    callback.on_train_end()
    return callback, network.value, logs_seen


def test_stops_after_patience_epochs_without_improvement_and_restores_the_best():
    callback, weights, logs = _run([0.9, 0.7, 0.8, 0.75, 0.6])
    assert (callback.epochs_run, callback.best_epoch) == (4, 2)
    assert callback.stop_reason == "validation loss no better for 2 epochs"
    assert weights == 2.0
    # The objective: the tasks' validation losses with their loss weights, in the logs.
    assert [round(x[early_stopping.OBJECTIVE], 6) for x in logs] == [1.9, 1.7, 1.8, 1.75]
    assert callback.summary()["best_val_objective"] == pytest.approx(1.7)


def test_a_step_size_cut_resumes_from_the_best_epoch_then_one_bad_epoch_stops():
    optimizer = _Optimizer()
    callback, weights, logs = _run([0.9, 0.7, 0.8, 0.75, 0.65, 0.66, 0.5], cuts=1,
                                   optimizer=optimizer)
    # Epochs 3 and 4 are no better than 2: back to epoch 2's weights, step size / 10; epoch 5
    # improves, epoch 6 does not and stops.
    assert ("resumed from", 2.0) in logs
    assert optimizer.learning_rate == pytest.approx(0.002)
    assert (callback.epochs_run, callback.best_epoch, weights) == (6, 5, 5.0)
    assert callback.stop_reason == "validation loss no better for 1 epoch after 1 step-size cut"
    assert callback.summary()["step_size_cuts"] == 1


def test_budget_ends_a_run_that_keeps_improving():
    callback, weights, _ = _run([1.0, 0.9, 0.8], budget=3)
    assert (callback.epochs_run, callback.best_epoch, weights) == (3, 3, 3.0)
    assert callback.stop_reason == "epoch budget of 3 spent"


def test_time_cap_stops_before_an_epoch_that_would_end_past_it():
    # 10 s epochs under a 35 s cap: after 3 epochs (30 s) a fourth would end at 40 s.
    callback, weights, _ = _run([1.0, 0.9, 0.8, 0.7, 0.6], max_seconds=35, epoch_seconds=10)
    assert (callback.epochs_run, callback.best_epoch, weights) == (3, 3, 3.0)
    assert callback.stop_reason == "time cap of 35 s"


def test_non_finite_losses_never_count_as_best():
    callback, weights, _ = _run([0.5, float("nan"), float("nan")])
    assert (callback.best_epoch, weights) == (1, 1.0)


def test_training_restores_the_best_epochs_weights_when_validation_loss_rises():
    """A tiny model fits labels whose opposite is the validation data: the validation loss
    rises after the first epoch, and the weights kept are the first epoch's."""
    hp = ModelHParams(**SMALL, learning_rate=0.05, embedding_learning_rate=None,
                      dropout=0.0, seed=3)
    keras.utils.set_random_seed(3)
    m = build_model(hp, VOCAB)
    inputs, labels, masks = fake_batch(64, seed=1)
    masks = {k: np.ones_like(v) for k, v in masks.items()}
    flipped = {k: (1.0 - v if k != "watch_time" else v + 200.0) for k, v in labels.items()}
    train = (inputs, labels, masks)
    val = (inputs, flipped, masks)
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append([w.copy() for w in m.network.get_weights()])

    best = BestEpoch({t.name: t.loss_weight for t in m.tasks}, patience=2)
    history = m.fit(*_as_dataset(train), validation_data=_as_dataset(val)[0], epochs=20,
                    callbacks=[best, Snapshot()], verbose=0).history
    objective = history[early_stopping.OBJECTIVE]
    assert best.epochs_run == len(objective) == best.best_epoch + 2 < 20
    assert best.best_epoch == int(np.argmin(objective)) + 1
    assert objective[-1] > objective[best.best_epoch - 1]
    final = m.network.get_weights()
    kept = snapshots[best.best_epoch - 1]
    assert all(np.array_equal(a, b) for a, b in zip(final, kept))
    assert not all(np.array_equal(a, b) for a, b in zip(final, snapshots[-1]))


def _as_dataset(batch):
    import tensorflow as tf

    return (tf.data.Dataset.from_tensors(batch),)
