"""The TFX Tuner's module: `tuner_fn`, a KerasTuner random search over `models.search_space`.

Every trial builds the run's model with one set of values, trains it on the train split less a
validation slice carved out of it by a hash of each example (the eval split, which the
Evaluator's gate reads, is never touched), stops early when the validation score stops
improving, and is scored by its best epoch's validation score:

  val_score = sum over the run's tasks of the task's validation loss over its observed labels

Each task's loss is already on a common scale (cross-entropy; a regression's squared error
divided by its `scale` squared), and the score leaves the loss weights out, so trials that
weigh the tasks differently are judged alike.

KerasTuner has no overall time budget: the search stops starting trials once `max_minutes`
have passed since it began, and a trial still running then stops after its current epoch (its
best epoch so far is its score). The first trial trains the run's own hyperparameters and
always runs (at least one epoch), so a search always has a result.

Budget knobs (`custom_config["tuning"]`, set by `mtl run --tune`): `trials`, `max_minutes`,
`trial_epochs` (most epochs per trial), `patience` (epochs without improvement before a trial
stops), `max_examples` (training examples per trial, the first ones of the train slice in
file order; 0: all), `validation_fraction` (the slice's share of the train split).
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

import keras
import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from keras_tuner.engine import base_tuner

from models import search_space, trainer
from models.model import build_model
from models.progress import TrainingProgress
from models.validation import validation_split

OBJECTIVE = "val_score"
DEFAULTS: dict[str, Any] = {
    "trials": 10,
    "max_minutes": 10.0,
    "trial_epochs": 8,
    "patience": 2,
    "max_examples": 0,
    "validation_fraction": 0.1,
}


class TunerFnResult(NamedTuple):
    """What TFX's Tuner executor expects of `tuner_fn` (the fields of
    `tfx.components.tuner.component.TunerFnResult`): the tuner, and the keyword arguments of
    its `search`."""

    tuner: base_tuner.BaseTuner
    fit_kwargs: dict[str, Any]


def tuning_settings(custom_config: dict | None) -> dict[str, Any]:
    """DEFAULTS with the run's `custom_config["tuning"]` over them (unknown keys refused)."""
    given = dict((custom_config or {}).get("tuning") or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown tuning settings {unknown}; known: {sorted(DEFAULTS)}")
    return DEFAULTS | given


def trial_datasets(file_pattern, tft_output, batch_size: int, settings: dict, seed: int,
                   tasks, spec) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The batches every trial trains on and is scored on: both parts of the train split are
    read once, then held in memory (`cache`) for every epoch of every trial."""
    train, validation = validation_split(trainer.read_records(file_pattern),
                                         float(settings["validation_fraction"]))
    if settings["max_examples"]:
        train = train.take(int(settings["max_examples"]))
    feature_spec = tft_output.transformed_feature_spec()

    def parsed(records):
        return records.batch(batch_size).map(
            lambda r: trainer.split_features(tf.io.parse_example(r, feature_spec), tasks, spec),
            num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    train = train.cache().shuffle(trainer.SHUFFLE_BUFFER, seed=seed,
                                  reshuffle_each_iteration=True)
    return parsed(train), parsed(validation.cache())


class _Score(keras.callbacks.Callback):
    """Adds `val_score` to each epoch's logs and remembers the best epoch."""

    def __init__(self, task_names):
        super().__init__()
        self.keys = [f"val_{name}_loss" for name in task_names]
        self.scores: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        missing = [k for k in self.keys if k not in logs]
        if missing:
            raise ValueError(f"the validation logs have no {missing}: got {sorted(logs)}")
        logs[OBJECTIVE] = float(sum(float(logs[k]) for k in self.keys))
        self.scores.append(logs[OBJECTIVE])


class _StopAt(keras.callbacks.Callback):
    """Stops training after the epoch that ends past `deadline` (time.time() seconds)."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        if time.time() >= self.deadline:
            self.model.stop_training = True
            self.stopped = True


class CappedRandomSearchOracle(keras_tuner.oracles.RandomSearchOracle):
    """KerasTuner's random search, whose first trial is the space's defaults (the run's own
    hyperparameters) and which starts no further trial once `deadline` (time.time() seconds)
    is past. The first trial always runs, so a search always has a result."""

    def __init__(self, deadline: float, **kwargs):
        super().__init__(**kwargs)
        self.deadline = deadline
        self.stopped_by_cap = False

    def populate_space(self, trial_id):
        if self.trials and time.time() >= self.deadline:
            self.stopped_by_cap = True
            logging.info("tuning: the %s-minute cap is reached: no trial after %d",
                         getattr(self, "max_minutes", "?"), len(self.trials))
            return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED, "values": None}
        if not self.trials:
            values = {p.name: p.default for p in self.hyperparameters.space}
            return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING, "values": values}
        return super().populate_space(trial_id)


class _SearchSpace(keras_tuner.HyperModel):
    """Declares `space` (models.search_space) in KerasTuner's terms; builds nothing (the
    tuner's `run_trial` builds each trial's model)."""

    def __init__(self, space):
        super().__init__()
        self.space = space

    def declare_hyperparameters(self, hp):
        for s in self.space:
            if s.kind == "log":
                hp.Float(s.name, s.low, s.high, sampling="log", default=s.default)
            elif s.kind == "float":
                hp.Float(s.name, s.low, s.high, step=s.step, default=s.default)
            else:
                hp.Choice(s.name, list(s.values), default=s.default)

    def build(self, hp):
        self.declare_hyperparameters(hp)


class MultiTaskTuner(base_tuner.BaseTuner):
    """Runs one trial: the run's model with the trial's values, early-stopped on
    `val_score`, scored by its best epoch."""

    def __init__(self, oracle, space, hp, tasks, problem, sizes, **kwargs):
        super().__init__(oracle=oracle, hypermodel=_SearchSpace(space), **kwargs)
        self.base_hp, self.base_tasks, self.problem, self.sizes = hp, tasks, problem, sizes

    def run_trial(self, trial, train, validation, epochs: int, patience: int,
                  deadline: float, **_):
        values = trial.hyperparameters.values
        hp, tasks = search_space.apply_tuned(self.base_hp, self.base_tasks, values)
        keras.backend.clear_session()
        keras.utils.set_random_seed(hp.seed)
        model = build_model(hp, self.sizes, tasks, self.problem)
        score = _Score([t.name for t in tasks])
        stop = _StopAt(deadline)
        started = time.perf_counter()
        model.fit(train, validation_data=validation, epochs=epochs, verbose=0, callbacks=[
            score,
            keras.callbacks.EarlyStopping(monitor=OBJECTIVE, mode="min", patience=patience),
            stop,
            TrainingProgress(),  # the current trial's epoch, step and loss on `mtl run`'s line
        ])
        if not score.scores:
            raise ValueError("the trial ended before its first epoch")
        best = min(score.scores)
        logging.info("tuning: trial %s: %s %.5f at epoch %d of %d (%.1f s%s): %s",
                     trial.trial_id, OBJECTIVE, best, score.scores.index(best) + 1,
                     len(score.scores), time.perf_counter() - started,
                     ", stopped by the cap" if stop.stopped else "",
                     search_space.describe(values))
        return {OBJECTIVE: best, "epochs_trained": float(len(score.scores)),
                "best_epoch": float(score.scores.index(best) + 1)}

    def save_model(self, trial_id, model, step=0):
        """Trials keep no model: the Trainer trains the chosen values afresh."""

    def load_model(self, trial):
        raise NotImplementedError("tuning trials keep no model; train the best values")


def tuner_fn(fn_args) -> TunerFnResult:
    """TFX Tuner entry point: the search of the run in `fn_args.custom_config` (spec,
    hyperparameters, tasks, `tuning` budget) over `fn_args.train_files` alone."""
    started = time.time()
    config = fn_args.custom_config or {}
    settings = tuning_settings(config)
    hp = trainer.hparams_from_custom_config(config)
    problem = trainer.spec_from_custom_config(config)
    tasks = trainer.tasks_from_custom_config(config)
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    sizes = trainer.vocab_sizes(tft_output, problem)
    space = search_space.search_space(hp, tasks)
    deadline = started + 60.0 * float(settings["max_minutes"])
    oracle = CappedRandomSearchOracle(
        deadline, objective=keras_tuner.Objective(OBJECTIVE, "min"),
        max_trials=int(settings["trials"]), seed=hp.seed)
    oracle.max_minutes = settings["max_minutes"]
    tuner = MultiTaskTuner(oracle, space, hp, tasks, problem, sizes,
                           directory=fn_args.working_dir, project_name="mtl_tuning",
                           overwrite=True)
    train, validation = trial_datasets(fn_args.train_files, tft_output, hp.batch_size, settings,
                                       hp.seed, tasks, problem)
    return TunerFnResult(tuner, {"train": train, "validation": validation,
                                 "epochs": int(settings["trial_epochs"]),
                                 "patience": int(settings["patience"]),
                                 "deadline": deadline})
