"""The Trainer's input path: transformed TFRecords in, (inputs, labels, masks) batches out.

Five hand-written transformed examples (example i carries the value i in every scalar
feature) are written as gzipped TFRecords split over two files; the expected batches follow
from that numbering.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import trainer
from tests.support import default_problem as features


class FakeTransformOutput:
    """Stands in for `tft.TFTransformOutput`: `input_fn` only reads the transformed spec."""

    def transformed_feature_spec(self) -> dict:
        spec = {}
        for key in features.CATEGORICAL_FEATURES:
            spec[features.transformed_name(key)] = tf.io.FixedLenFeature([], tf.int64)
        for key in features.FLOAT_FEATURES + features.INT_FEATURES:
            spec[features.transformed_name(key)] = tf.io.FixedLenFeature([], tf.float32)
        spec[features.transformed_name(features.HISTORY_FEATURE)] = tf.io.FixedLenFeature(
            [features.HISTORY_LENGTH], tf.int64)
        for task in features.TASKS:
            spec[features.label_name(task)] = tf.io.FixedLenFeature([], tf.float32)
            spec[features.weight_name(task)] = tf.io.FixedLenFeature([], tf.float32)
        return spec


def _example(i: int, spec: dict) -> bytes:
    feats = {}
    for key, value in spec.items():
        n = value.shape[0] if value.shape else 1
        if value.dtype == tf.int64:
            feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[i] * n))
        else:
            feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)] * n))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


@pytest.fixture()
def record_files(tmp_path):
    spec = FakeTransformOutput().transformed_feature_spec()
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    paths = []
    for part, ids in enumerate([(0, 1, 2), (3, 4)]):
        path = str(tmp_path / f"transformed_examples-0000{part}-of-00002.gz")
        with tf.io.TFRecordWriter(path, options) as writer:
            for i in ids:
                writer.write(_example(i, spec))
        paths.append(path)
    return tmp_path, paths


def test_unshuffled_batches_interleave_files_and_split_inputs_labels_masks(record_files):
    folder, _ = record_files
    dataset = trainer.input_fn([str(folder / "*.gz")], None, FakeTransformOutput(),
                               batch_size=2, shuffle=False)
    batches = list(dataset)
    assert len(batches) == 3
    user = features.transformed_name("user_id")
    # Files (0, 1, 2) and (3, 4) are read in parallel, one record from each in turn.
    assert [b[0][user].numpy().tolist() for b in batches] == [[0, 3], [1, 4], [2]]
    inputs, labels, masks = batches[1]
    assert sorted(inputs) == sorted(features.model_input_keys())
    assert sorted(labels) == sorted(masks) == sorted(t.name for t in features.TASKS)
    history = inputs[features.transformed_name(features.HISTORY_FEATURE)].numpy()
    assert history.shape == (2, features.HISTORY_LENGTH)
    assert history[1].tolist() == [4] * features.HISTORY_LENGTH
    assert labels["click"].numpy().tolist() == [1.0, 4.0]
    assert masks["watch_time"].dtype == tf.float32


def test_shuffled_epoch_yields_every_example_once_and_is_seeded(record_files):
    _, paths = record_files

    def ids(seed):
        dataset = trainer.input_fn(paths, None, FakeTransformOutput(), batch_size=2, seed=seed)
        return np.concatenate(
            [b[0][features.transformed_name("item_id")].numpy() for b in dataset]).tolist()

    first = ids(3)
    assert sorted(first) == [0, 1, 2, 3, 4]
    assert ids(3) == first


def test_no_matching_file_names_the_pattern(tmp_path):
    pattern = str(tmp_path / "missing" / "*.gz")
    with pytest.raises(FileNotFoundError, match="missing"):
        trainer.input_fn([pattern], None, FakeTransformOutput(), batch_size=2)


def test_sampling_weights_follow_sizes_temperature_or_nothing():
    counts = {"a": 900.0, "b": 100.0, "c": 0.0}
    assert trainer.sampling_weights(counts, "proportional") == pytest.approx({"a": 0.9, "b": 0.1})
    flat = trainer.sampling_weights(counts, "proportional", temperature=2.0)
    assert flat == pytest.approx({"a": 30 / 40, "b": 10 / 40})
    assert trainer.sampling_weights(counts, "uniform") == {"a": 0.5, "b": 0.5}
    with pytest.raises(ValueError, match="no task has a labelled example"):
        trainer.sampling_weights({"a": 0.0}, "uniform")


def test_sampled_batches_draw_each_task_from_its_labelled_examples(tmp_path):
    """Task 0 is labelled on 90 examples, task 1 on 10: uniform sampling gives each about half
    of the sampled examples, every one labelled for the task it was drawn for."""
    from models.hparams import ModelHParams
    from models.spec import default_spec

    spec = FakeTransformOutput().transformed_feature_spec()
    first, second = features.TASKS[0], features.TASKS[1]
    path = str(tmp_path / "part.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for i in range(100):
            example = tf.train.Example.FromString(_example(i, spec))
            f = example.features.feature
            for task in features.TASKS:
                f[features.weight_name(task)].float_list.value[:] = [0.0]
            f[features.weight_name(first if i < 90 else second)].float_list.value[:] = [1.0]
            writer.write(example.SerializeToString())
    hp = ModelHParams(task_sampling="uniform", batch_size=50)
    data = trainer.sampled_input_fn(path, FakeTransformOutput(), 50, 40, hp, features.TASKS,
                                    default_spec())
    masks = np.concatenate([m[second.name].numpy() for _, _, m in data])
    first_masks = np.concatenate([m[first.name].numpy() for _, _, m in data])
    assert len(masks) == 2000
    assert 0.45 < masks.mean() < 0.55
    assert (masks + first_masks == 1).all()
    assert trainer.count_records(path) == 100


class SizedTransformOutput(FakeTransformOutput):
    """Also answers the vocabulary sizes the model's tables need."""

    def vocabulary_size_by_name(self, name: str) -> int:
        return 5


def _varied_example(i: int, spec: dict) -> bytes:
    """Ids in 0..4, small floats, binary labels i % 2, watch time i % 13, every label seen."""
    labels = {features.label_name(t): t for t in features.TASKS}
    feats = {}
    for key, value in spec.items():
        n = value.shape[0] if value.shape else 1
        if value.dtype == tf.int64:
            feats[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 5] * n))
            continue
        if key in labels:
            x = float(i % 13) if labels[key].kind == "regression" else float(i % 2)
        elif key.endswith("_weight") or key.startswith("weight"):
            x = 1.0
        else:
            x = (i % 11) / 10.0
        feats[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[x] * n))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


@pytest.fixture()
def training_files(tmp_path):
    spec = FakeTransformOutput().transformed_feature_spec()
    weight_keys = {features.weight_name(t) for t in features.TASKS}
    assert all(k.endswith("_weight") or k.startswith("weight") for k in weight_keys)
    path = str(tmp_path / "train-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for i in range(400):
            writer.write(_varied_example(i, spec))
    return [path]


def _train(tmp_path, files, monkeypatch, **hparams):
    import json
    import types

    monkeypatch.setattr(trainer, "export_serving_model", lambda *a, **k: None)
    monkeypatch.setattr(trainer, "save_warm_start", lambda *a, **k: None)
    monkeypatch.setattr(trainer.tft, "TFTransformOutput", lambda _: SizedTransformOutput())
    hp = {"batch_size": 64, "bottom_units": [8], "tower_units": [4], "embedding_scale": 0.25,
          **hparams}
    fn_args = types.SimpleNamespace(
        custom_config={"hparams": hp}, transform_output="unused", train_files=files,
        eval_files=files, data_accessor=None, eval_steps=None, base_model=None,
        model_run_dir=str(tmp_path / "run"), serving_model_dir=str(tmp_path / "model" / "s"))
    trainer.train_and_export(fn_args, tf.distribute.get_strategy())
    return json.loads((tmp_path / "run" / "history.json").read_text())


def test_epochs_n_runs_exactly_n_epochs_and_says_so(tmp_path, training_files, monkeypatch):
    from models.early_stopping import STOP_ASKED

    history = _train(tmp_path, training_files, monkeypatch, epochs=3)
    assert len(history["loss"]) == len(history["val_loss"]) == 3
    assert history["training"] == {"epochs": 3, "epochs_run": 3, "best_epoch": 3,
                                   "stop_reason": STOP_ASKED}


def test_auto_fits_all_but_the_validation_slice_and_records_how_it_stopped(
        tmp_path, training_files, monkeypatch):
    from models import early_stopping

    history = _train(tmp_path, training_files, monkeypatch, max_epochs=4, patience=1,
                     step_size_cuts=0)
    training = history["training"]
    n_fit, n_validation = trainer.split_counts(training_files)
    assert n_fit + n_validation == 400 and 10 <= n_validation <= 80
    assert (training["train_examples"], training["validation_examples"]) == (n_fit,
                                                                             n_validation)
    assert training["epochs"] == "auto" and training["max_epochs"] == 4
    run, best = training["epochs_run"], training["best_epoch"]
    assert 1 <= best <= run <= 4
    assert len(history["loss"]) == len(history[early_stopping.OBJECTIVE]) == run
    assert best == int(np.argmin(history[early_stopping.OBJECTIVE])) + 1
    # Patience 1: it stopped the epoch after its best, unless the budget came first.
    assert training["stop_reason"] == (early_stopping.stop_reason_patience(1) if run > best
                                       else early_stopping.stop_reason_budget(4))
    assert run == 4 or run == best + 1
    # The slice is the one `models.validation` carves: training batches never include it.
    fit = trainer.input_fn(training_files, None, SizedTransformOutput(), 400, shuffle=False,
                           part=trainer.FIT)
    held = trainer.input_fn(training_files, None, SizedTransformOutput(), 400, shuffle=False,
                            part=trainer.VALIDATION)
    assert sum(int(b[2]["click"].shape[0]) for b in fit) == n_fit
    assert sum(int(b[2]["click"].shape[0]) for b in held) == n_validation
