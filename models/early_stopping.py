"""`epochs: auto`: the epoch budget and the callback that stops training and keeps the best
epoch.

Training stops when the validation loss over the observed labels has not improved for
`patience` epochs (early stopping, Prechelt, "Early Stopping - But When?", 1998), when the
epoch budget is spent, or before an epoch that would end past the wall-clock cap; then the
weights of the epoch with the lowest validation loss are restored, so those are the weights
exported (as in RealMLP's long schedule that restores the best validation epoch, Holzmüller
et al., arXiv 2407.04491).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import keras
import numpy as np

# The epoch budget: about this many training examples seen in all (a few thousand rows get
# many passes, a million rows a few), between the bounds below.
EXAMPLES_BUDGET = 2_000_000
MIN_EPOCHS = 3
MAX_EPOCHS = 100


def epoch_budget(train_examples: int) -> int:
    """The most epochs `epochs: auto` runs on `train_examples` rows:
    ceil(EXAMPLES_BUDGET / rows), at least MIN_EPOCHS and at most MAX_EPOCHS."""
    if train_examples < 1:
        return MAX_EPOCHS
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(EXAMPLES_BUDGET / train_examples))))


# The history key of the monitored quantity.
OBJECTIVE = "val_objective"


# The stop reasons of a run without early stopping.
STOP_ASKED = "the number of epochs asked, last epoch kept"
STOP_NO_VALIDATION = ("too few records to hold a validation slice out: the epoch budget, "
                      "last epoch kept")


def stop_reason_patience(patience: int) -> str:
    return f"validation loss no better for {patience} epoch{'s' if patience > 1 else ''}"


def stop_reason_budget(epochs: int) -> str:
    return f"epoch budget of {epochs} spent"


def stop_reason_time(seconds: float) -> str:
    return f"time cap of {seconds:g} s"


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation objective, stops training
    after `patience` epochs without improvement or before an epoch that would end past
    `max_seconds`, and restores the best weights when training ends.

    The objective is sum_t loss_weight_t * val_<t>_loss: every task's masked loss on the
    validation data with the spec's fixed loss weights (a strategy that changes its weights
    during training, such as uncertainty weighting or GradNorm, would otherwise move the
    number it is judged by). It is added to the epoch's logs as `val_objective`.

    `cuts` > 0: when patience runs out the first time(s), the best weights are restored, the
    step size of every optimizer (`optimizers`) is multiplied by `cut_factor`, and training
    goes on; after a cut, one epoch without improvement stops it (a step-size schedule on
    plateau, as Keras' ReduceLROnPlateau, that always resumes from the best epoch).

    After training: `epochs_run`, `best_epoch` (1-based), `stop_reason`, `best_objective`,
    `cuts_done`.
    `max_seconds` None: no time cap (under several workers, whose clocks could disagree on
    when to stop, the budget and patience alone decide).
    """

    def __init__(self, loss_weights: dict[str, float], patience: int = 2,
                 max_seconds: float | None = None, target: keras.Model | None = None,
                 clock: Callable[[], float] = time.monotonic, cuts: int = 0,
                 cut_factor: float = 0.1, optimizers: list | None = None):
        super().__init__()
        self.cuts, self.cut_factor = int(cuts), float(cut_factor)
        self.optimizers = optimizers
        self.cuts_done = 0
        self._anchor = 0
        self.loss_weights = dict(loss_weights)
        self.patience = int(patience)
        self.max_seconds = max_seconds
        self.target = target
        self.clock = clock
        self.epochs_run = 0
        self.best_epoch = 0
        self.best_objective = math.inf
        self.stop_reason = ""
        self._best_weights = None
        self._started = 0.0

    def objective(self, logs: dict) -> float:
        missing = [f"val_{name}_loss" for name in self.loss_weights
                   if f"val_{name}_loss" not in logs]
        if missing:
            raise ValueError(f"epochs: auto needs the validation losses {missing}; the epoch's "
                             f"logs have {sorted(logs)}")
        # Under several workers Keras logs shape-[1] values.
        return float(sum(weight * float(np.mean(logs[f"val_{name}_loss"]))
                         for name, weight in self.loss_weights.items()))

    def _network(self) -> keras.Model:
        return self.target or getattr(self.model, "network", None) or self.model

    def on_train_begin(self, logs=None):
        self._started = self.clock()
        self.epochs_run, self.best_epoch, self.best_objective = 0, 0, math.inf
        self.stop_reason, self._best_weights = "", None
        self.cuts_done = 0
        self._anchor = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        value = self.objective(logs)
        logs[OBJECTIVE] = value
        self.epochs_run = epoch + 1
        if math.isfinite(value) and value < self.best_objective:
            self.best_objective, self.best_epoch = value, epoch + 1
            self._best_weights = [np.array(w) for w in self._network().get_weights()]
        budget = int(self.params.get("epochs") or 0)
        patience = 1 if self.cuts_done else self.patience
        waited = self.epochs_run - max(self.best_epoch, self._anchor)
        if waited >= patience and self.cuts_done < self.cuts:
            self._cut()
        elif waited >= patience:
            self.stop_reason = stop_reason_patience(patience) + (
                f" after {self.cuts_done} step-size cut{'s' if self.cuts_done > 1 else ''}"
                if self.cuts_done else "")
        elif self.max_seconds is not None and self.epochs_run < budget:
            elapsed = self.clock() - self._started
            if elapsed + elapsed / self.epochs_run > self.max_seconds:
                self.stop_reason = stop_reason_time(self.max_seconds)
        if self.stop_reason:
            self.model.stop_training = True
        elif budget and self.epochs_run >= budget:
            self.stop_reason = stop_reason_budget(budget)

    def _cut(self) -> None:
        """Back to the best epoch's weights, with every optimizer's step size cut."""
        if self._best_weights is not None:
            self._network().set_weights(self._best_weights)
        optimizers = self.optimizers
        if optimizers is None:
            optimizers = [self.model.optimizer, getattr(self.model, "embedding_optimizer", None)]
        for optimizer in optimizers:
            if optimizer is not None:
                optimizer.learning_rate = float(optimizer.learning_rate) * self.cut_factor
        self.cuts_done += 1
        # The epochs since the best no longer count: the next epoch starts from the best.
        self._anchor = self.epochs_run

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self._network().set_weights(self._best_weights)

    def summary(self) -> dict:
        """What history.json records of the run (see models.trainer)."""
        return {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "stop_reason": self.stop_reason, "step_size_cuts": self.cuts_done,
                "best_val_objective": (self.best_objective
                                       if math.isfinite(self.best_objective) else None)}
