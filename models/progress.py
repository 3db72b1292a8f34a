"""Training progress for whoever watches a run: a Keras callback and its listeners.

`TrainingProgress` is a `keras.callbacks.Callback` that the Trainer adds to `model.fit`. It
tells every listener registered with `listening(fn)` where training is (`Progress`: epoch,
step, loss), at most twice a second within an epoch and once at each epoch's end. The local
runner's status line is such a listener; with none (Kubeflow, a worker process) the callback
does nothing per step but compare a clock. It reads only Keras' public callback interface
(`params["epochs"]`, `params["steps"]`, the `logs` of each hook).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator

import keras

_LISTENERS: list[Callable[[Progress], None]] = []
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where training is: `epoch` of `epochs` (from 1), `step` of `steps` (None while the first
    epoch has not told how many), the latest training loss, and whether the epoch ended."""

    epoch: int
    epochs: int
    step: int
    steps: int | None
    loss: float | None
    epoch_done: bool = False


@contextlib.contextmanager
def listening(listener: Callable[[Progress], None]) -> Iterator[None]:
    """Calls `listener(progress)` for every report of a `TrainingProgress` in this process
    while the block runs (from Keras' thread: the listener must be quick and thread-safe)."""
    with _LOCK:
        _LISTENERS.append(listener)
    try:
        yield
    finally:
        with _LOCK:
            _LISTENERS.remove(listener)


def _tell(progress: Progress) -> None:
    with _LOCK:
        listeners = list(_LISTENERS)
    for listener in listeners:
        try:
            listener(progress)
        except Exception:  # noqa: BLE001 - a watcher's failure must never stop training
            logging.exception("a training progress listener failed")


def _loss(logs) -> float | None:
    try:
        return float(logs["loss"]) if logs and "loss" in logs else None
    except (TypeError, ValueError):
        return None


class TrainingProgress(keras.callbacks.Callback):
    """Reports epoch, step and loss to the listeners (see `listening`).

    Reading the loss of a step waits for that step to finish, so it is read at most every
    `interval` seconds; the step count alone costs nothing. Safe for Keras' asynchronous
    callback dispatch (`async_safe`): the state is a few numbers, reports go through a lock.
    """

    async_safe = True

    def __init__(self, interval: float = 0.5):
        super().__init__()
        self.interval = interval
        self.epoch = self.epochs = self.step = 0
        self.steps: int | None = None
        self.loss: float | None = None
        self._last = 0.0

    def _progress(self, epoch_done: bool = False) -> Progress:
        return Progress(self.epoch, self.epochs, self.step, self.steps, self.loss, epoch_done)

    def on_epoch_begin(self, epoch, logs=None):
        params = self.params or {}
        self.epoch, self.epochs, self.step = epoch + 1, int(params.get("epochs") or 0), 0
        self.steps = params.get("steps") or self.steps
        if _LISTENERS:
            _tell(self._progress())

    def on_train_batch_end(self, batch, logs=None):
        self.step = batch + 1
        if not _LISTENERS:
            return
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            loss = _loss(logs)
            self.loss = loss if loss is not None else self.loss
            _tell(self._progress())

    def on_epoch_end(self, epoch, logs=None):
        loss = _loss(logs)
        self.loss = loss if loss is not None else self.loss
        self.steps = self.step
        if _LISTENERS:
            _tell(self._progress(epoch_done=True))
