"""The Trainer's progress callback (models.progress) on a tiny Keras fit."""

from __future__ import annotations

import keras
import numpy as np

from models import progress


def _fit(callback, epochs=2, examples=64, batch_size=16):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(examples * 3, dtype="float32").reshape(examples, 3) / 100
    y = x.sum(axis=1, keepdims=True)
    return model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                     callbacks=[callback])


def test_listeners_get_every_epoch_end_with_steps_and_loss():
    seen: list[progress.Progress] = []
    callback = progress.TrainingProgress(interval=0.0)
    with progress.listening(seen.append):
        history = _fit(callback)
    ends = [p for p in seen if p.epoch_done]
    assert [(p.epoch, p.epochs, p.step, p.steps) for p in ends] == [(1, 2, 4, 4), (2, 2, 4, 4)]
    assert ends[-1].loss == np.float32(history.history["loss"][-1])
    steps = [p.step for p in seen if not p.epoch_done and p.step]
    assert steps[:4] == [1, 2, 3, 4]  # interval 0: every step reported
    assert all(p.loss is not None for p in seen if p.step)


def test_no_listener_no_report_and_a_failing_listener_does_not_stop_training():
    seen: list = []
    with progress.listening(seen.append):
        pass
    _fit(progress.TrainingProgress(interval=0.0), epochs=1)
    assert seen == []  # the block ended: no longer listening

    def broken(_):
        raise RuntimeError("a watcher's bug")

    callback = progress.TrainingProgress(interval=0.0)
    with progress.listening(broken):
        history = _fit(callback, epochs=2)
    assert len(history.history["loss"]) == 2 and callback.epoch == 2


def test_a_keras_without_params_or_logs_costs_the_detail_only():
    """Another Keras that does not set the callback's params nor pass logs: the hooks still
    run and report what they know (no epochs, no loss)."""
    seen: list[progress.Progress] = []
    callback = progress.TrainingProgress(interval=0.0)
    with progress.listening(seen.append):
        callback.on_epoch_begin(0)
        callback.on_train_batch_end(0)
        callback.on_epoch_end(0, logs={"loss": "not a number"})
    assert [(p.epoch, p.epochs, p.step, p.loss) for p in seen] == [
        (1, 0, 0, None), (1, 0, 1, None), (1, 0, 1, None)]
