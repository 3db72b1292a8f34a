"""The optional multiclass task through the whole pipeline: `mtl run --with-task
engagement_level` generates data with the label, trains the softmax head, gates accuracy in
TFMA, pushes, serves class probabilities and fuses the expected level into `score`."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.support import default_problem as features

pytestmark = pytest.mark.e2e

ENGAGEMENT = "engagement_level"


@pytest.fixture(scope="module")
def multiclass_run(tmp_path_factory):
    from pipeline.runs import local as local_runner
    from tests.support.pipelines import SMALL_DATA_THRESHOLDS, small_config, small_hparams

    # Accuracy above the uniform guess (1/3): small data learns the level only a little.
    thresholds = {**SMALL_DATA_THRESHOLDS, ENGAGEMENT: 0.36}
    config = small_config(tmp_path_factory.mktemp("multiclass_home"),
                          hparams=small_hparams(),
                          extra_tasks=(ENGAGEMENT,), thresholds=thresholds)
    return config, local_runner.run(config)


def test_the_data_carries_the_optional_label(multiclass_run):
    import tensorflow as tf

    config, _ = multiclass_run
    (path,) = sorted((config.data_dir / "span-1").glob("*.tfrecord.gz"))
    record = next(iter(tf.data.TFRecordDataset(str(path), compression_type="GZIP")))
    example = tf.train.Example.FromString(record.numpy())
    level = example.features.feature[ENGAGEMENT].int64_list.value
    assert len(level) == 1 and level[0] in (-1, 0, 1, 2)


def test_accuracy_is_gated_and_top_k_reported(multiclass_run):
    _, summary = multiclass_run
    assert summary.blessed is True and summary.failures == [], summary.format()
    assert summary.pushed
    (tm,) = [tm for tm in summary.tasks if tm.task.name == ENGAGEMENT]
    accuracy, top2 = tm.candidate["accuracy"], tm.candidate["top_2_accuracy"]
    assert 0.36 <= accuracy <= top2 <= 1.0
    # Only observed labels count: clicked rows with the label, not every evaluated row.
    assert 0 < tm.candidate["weighted_example_count"] < 0.5 * tm.candidate["example_count"]
    assert "engagement_level" in summary.format()
    # The naive-baseline gate, computed by TFMA on the same observed labels: the majority
    # class's share of three real classes, and the accuracy's margin over it.
    share = tm.candidate["majority_share"]
    assert 1 / 3 < share < 0.5
    assert tm.candidate["accuracy_over_majority"] == pytest.approx(accuracy - share, abs=1e-9)


def test_serving_returns_class_probabilities_and_fuses_the_expected_level(multiclass_run):
    import tensorflow as tf

    config, summary = multiclass_run
    loaded = tf.saved_model.load(summary.pushed_path)
    rows = [{"user_id": b"u1", "item_id": b"i5", "price": 9.5},
            {"user_id": b"u2", "item_id": b"i7", "price": 120.0, "device": b"web"}]
    examples = []
    for row in rows:
        feature = {}
        for key, value in row.items():
            if isinstance(value, bytes):
                feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
            else:
                feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        examples.append(tf.train.Example(
            features=tf.train.Features(feature=feature)).SerializeToString())
    outputs = {k: v.numpy() for k, v in loaded.signatures["serving_default"](
        examples=tf.constant(examples)).items()}
    names = [t.name for t in features.select_tasks([ENGAGEMENT])]
    assert sorted(outputs) == sorted(names + ["score"])
    probabilities = outputs[ENGAGEMENT]
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    with open(os.path.join(summary.pushed_path, "assets.extra", "serving_contract.json")) as f:
        contract = json.load(f)
    weights = contract["fusion_weights"]
    assert contract["tasks"][ENGAGEMENT] == "multiclass" and weights[ENGAGEMENT] == 0.25
    expected = sum(weights[n] * outputs[n] for n in names if n != ENGAGEMENT)
    expected = expected + weights[ENGAGEMENT] * probabilities @ np.arange(3)
    np.testing.assert_allclose(outputs["score"], expected, rtol=1e-5)


def test_metrics_history_lists_the_task(multiclass_run, capsys):
    from pipeline.cli.main import main

    config, _ = multiclass_run
    assert main(["metrics", "--root", str(config.root), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (row,) = [r for r in rows if r["task"] == ENGAGEMENT]
    assert row["gate_metric"] == "accuracy" and row["accuracy"] == row["candidate"]
    assert row["threshold"] == 0.36 and row["blessed"] is True
