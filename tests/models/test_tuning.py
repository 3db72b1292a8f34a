"""The tuner's search space, how its values reach training, the validation slice and the cap.

The search space is checked against the table of docs/guides/tuning.md, so the page and the
code cannot drift apart. The searches here run the real model (small widths) on fake batches
of the default problem: they are about the mechanics (first trial = the run's values, the
wall-clock cap, the best trial's values), not quality.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models import search_space, tuning
from models.hparams import ModelHParams
from tests.support import default_problem as features
from tests.support.model_batches import SMALL, VOCAB, fake_batch

DOCS = Path(__file__).resolve().parents[2] / "docs" / "guides" / "tuning.md"


def _docs_table() -> dict[str, tuple[str, str]]:
    """{name: (kind, range)} from the page's "What is searched" table."""
    text = DOCS.read_text()
    section = text.split("## What is searched", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def test_the_search_space_is_the_documented_one():
    hp = ModelHParams()  # learning_rate 2e-3, embedding lr 2e-2, (128, 64), (32,), scale 2
    space = {s.name: s for s in search_space.search_space(hp, features.TASKS)}
    documented = _docs_table()
    names = set(space) - {n for n in space if n.startswith(search_space.LOSS_WEIGHT_PREFIX)}
    assert names | {"loss_weight_<task>"} == set(documented)
    assert documented["learning_rate"] == ("log-uniform", "1e-4 .. 1e-2")
    assert (space["learning_rate"].low, space["learning_rate"].high) == (1e-4, 1e-2)
    assert documented["embedding_learning_rate"] == ("log-uniform", "1e-3 .. 1e-1")
    assert (space["embedding_learning_rate"].low, space["embedding_learning_rate"].high) == (
        1e-3, 1e-1)
    assert documented["l2"] == ("log-uniform", "1e-7 .. 1e-3")
    assert (space["l2"].low, space["l2"].high) == (1e-7, 1e-3)
    assert documented["dropout"] == ("uniform, steps of 0.05", "0 .. 0.5")
    assert (space["dropout"].low, space["dropout"].high, space["dropout"].step) == (0, 0.5, 0.05)
    # Widths and embedding sizes: the run's own x 0.5, x 1, x 2.
    assert "x 0.5, x 1, x 2" in documented["bottom_units"][1]
    assert space["bottom_units"].values == ("64,32", "128,64", "256,128")
    assert space["tower_units"].values == ("16", "32", "64")
    assert space["embedding_scale"].values == (1.0, 2.0, 4.0)
    # Loss weights: every task but the first, the spec's weight x 0.25 .. x 4.
    assert documented["loss_weight_<task>"][1] == "the spec's weight x 0.25 .. x 4"
    weights = {n: s for n, s in space.items() if n.startswith(search_space.LOSS_WEIGHT_PREFIX)}
    assert sorted(weights) == sorted(f"loss_weight_{t.name}" for t in features.TASKS[1:])
    watch = features.task_by_name("watch_time")
    assert (weights["loss_weight_watch_time"].low, weights["loss_weight_watch_time"].high) == (
        watch.loss_weight * 0.25, watch.loss_weight * 4)


def test_defaults_are_the_runs_own_values_and_ranges_widen_to_hold_them():
    hp = ModelHParams(learning_rate=0.05, l2=0.0, dropout=0.15, bottom_units=(100,),
                      embedding_learning_rate=None, weighting="uncertainty")
    space = {s.name: s for s in search_space.search_space(hp, features.TASKS)}
    assert space["learning_rate"].default == 0.05 and space["learning_rate"].high == 0.05
    assert space["l2"].default == 1e-7  # a log range cannot hold 0: its low end
    assert space["dropout"].default == 0.15
    assert space["bottom_units"].default == "100"
    assert "embedding_learning_rate" not in space
    # Learned weighting: the loss weights are not searched.
    assert not [n for n in space if n.startswith(search_space.LOSS_WEIGHT_PREFIX)]


def test_tuned_values_are_laid_over_the_run_and_its_task_weights():
    hp = ModelHParams(epochs=3)
    values = {"learning_rate": 0.0031, "bottom_units": "256,128", "tower_units": "16",
              "embedding_scale": 4.0, "dropout": 0.15000000000000002, "l2": 1e-6,
              "loss_weight_watch_time": 2.0}
    tuned, tasks = search_space.apply_tuned(hp, features.TASKS, values)
    assert tuned == dataclasses.replace(hp, learning_rate=0.0031, bottom_units=(256, 128),
                                        tower_units=(16,), embedding_scale=4.0, dropout=0.15,
                                        l2=1e-6)
    assert {t.name: t.loss_weight for t in tasks} == {
        t.name: (2.0 if t.name == "watch_time" else t.loss_weight) for t in features.TASKS}
    # TFX hands the Trainer KerasTuner's config, {"space": [...], "values": {...}}.
    assert search_space.values_of({"space": [], "values": values}) == values
    assert search_space.values_of(None) == {}


def test_a_value_of_another_problem_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'loss_weight_rating'"):
        search_space.apply_tuned(ModelHParams(), features.TASKS, {"loss_weight_rating": 1.0})


def _batches(n_batches: int, seed: int) -> tf.data.Dataset:
    batches = [fake_batch(32, seed=seed + i) for i in range(n_batches)]
    def gen():
        yield from batches
    inputs, labels, masks = batches[0]
    signature = tuple({k: tf.TensorSpec((None, *np.shape(v)[1:]), tf.as_dtype(v.dtype))
                       for k, v in part.items()} for part in (inputs, labels, masks))
    return tf.data.Dataset.from_generator(gen, output_signature=signature)


def _tuner(tmp_path, deadline: float, trials: int):
    hp = ModelHParams(**SMALL)
    space = search_space.search_space(hp, features.TASKS)
    oracle = tuning.CappedRandomSearchOracle(
        deadline, objective=tuning.keras_tuner.Objective(tuning.OBJECTIVE, "min"),
        max_trials=trials, seed=1)
    tuner = tuning.MultiTaskTuner(oracle, space, hp, features.TASKS, features.SPEC, VOCAB,
                                  directory=str(tmp_path), project_name="t", overwrite=True)
    return tuner, space


def test_a_search_starts_with_the_runs_values_and_returns_the_best_trial(tmp_path):
    from models.progress import listening

    tuner, space = _tuner(tmp_path, time.time() + 3600, trials=2)
    seen = []
    with listening(seen.append):  # what `mtl run`'s live line shows while a trial trains
        tuner.search(train=_batches(3, 0), validation=_batches(2, 100), epochs=2, patience=1,
                     deadline=time.time() + 3600)
    assert {p.epochs for p in seen} == {2} and any(p.epoch_done for p in seen)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert len(trials) == 2
    assert trials[0].hyperparameters.values == search_space.default_values(space)
    assert trials[1].hyperparameters.values != trials[0].hyperparameters.values
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.score == min(t.score for t in trials)
    assert tuner.get_best_hyperparameters()[0].values == best.hyperparameters.values


def test_the_cap_stops_starting_trials_and_stops_the_running_one(tmp_path):
    # The cap has already passed: the first trial (the run's own values) still runs, for one
    # epoch only, and no other trial starts although 5 were asked for.
    past = time.time() - 1
    tuner, space = _tuner(tmp_path, past, trials=5)
    tuner.search(train=_batches(3, 0), validation=_batches(2, 100), epochs=4, patience=3,
                 deadline=past)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 1
    assert trials[0].hyperparameters.values == search_space.default_values(space)
    assert tuner.oracle.stopped_by_cap
    assert trials[0].score is not None
    # 4 epochs asked, patience 3: only the cap stops it after its first epoch.
    assert trials[0].metrics.get_last_value("epochs_trained") == 1


def test_tuning_settings_refuse_an_unknown_knob():
    assert tuning.tuning_settings({"tuning": {"trials": 3}})["trials"] == 3
    with pytest.raises(ValueError, match="'trial_count'"):
        tuning.tuning_settings({"tuning": {"trial_count": 3}})


def test_the_score_leaves_the_loss_weights_out():
    score = tuning._Score(["click", "watch_time"])  # pylint: disable=protected-access
    logs = {"val_click_loss": 0.5, "val_watch_time_loss": 1.25, "val_loss": 99.0}
    score.on_epoch_end(0, logs)
    assert logs[tuning.OBJECTIVE] == 1.75
    with pytest.raises(ValueError, match="val_like_loss"):
        tuning._Score(["like"]).on_epoch_end(0, {"val_loss": 1.0})


def test_docs_table_lists_only_known_names():
    # Each documented name is a ModelHParams field or the per-task loss weight.
    fields = {f.name for f in dataclasses.fields(ModelHParams)}
    for name in _docs_table():
        assert name in fields or re.fullmatch(r"loss_weight_<task>", name), name
