"""The whole pipeline, end to end, on a small generated dataset."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from tests.support import default_problem as features

pytestmark = pytest.mark.e2e

COMPONENTS = {
    "ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate",
    "Transform",
    "Trainer", "latest_blessed_model_resolver", "Evaluator", "Pusher",
}


def _eval_examples(config, n=64, drop=()):
    import tensorflow as tf

    files = glob.glob(str(config.data_dir / "span-*" / "*.tfrecord.gz"))
    out = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(n):
        example = tf.train.Example.FromString(record.numpy())
        for key in features.LABEL_KEYS:
            if key in example.features.feature:  # an optional label may be absent
                del example.features.feature[key]
        for key in drop:
            del example.features.feature[key]
        out.append(example.SerializeToString())
    return out


def test_every_component_executed(small_run):
    _, summary = small_run
    states = {c.node_id: c.state for c in summary.components}
    assert set(states) == COMPONENTS
    assert all(state == "COMPLETE" for state in states.values()), states


def test_tfma_has_metrics_for_every_task(small_run):
    config, summary = small_run
    assert [tm.task.name for tm in summary.tasks] == [t.name for t in features.TASKS]
    for tm in summary.tasks:
        value = tm.gate_value
        assert value is not None and np.isfinite(value), tm.task.name
        assert tm.candidate["example_count"] > 500
        # Observed labels: every row for click, only clicked rows for the funnel tasks.
        observed = tm.candidate["weighted_example_count"]
        if tm.task.name == "click":
            assert observed == tm.candidate["example_count"]
        else:
            assert 0 < observed < tm.candidate["example_count"]
        assert {"device=android", "device=ios", "device=web"} <= set(tm.by_slice)
    gate = {tm.task.name: tm.gate_value for tm in summary.tasks}
    # Above chance even on 5,000 examples (about 1,000 observed conversion labels).
    assert gate["click"] > 0.6 and gate["conversion"] > 0.55 and gate["like"] > 0.5
    assert "mean_absolute_error" in summary.tasks[2].candidate


def test_the_evaluator_benchmark_reproduces_the_run_s_evaluation(small_run, capsys):
    """benchmarks/evaluator.py runs TFX's Evaluator executor again on the run's artifacts:
    the same evaluation examples and the same overall metrics as the run's own Evaluator."""
    import json

    from benchmarks import evaluator

    config, summary = small_run
    capsys.readouterr()
    assert evaluator.main(["--home", str(config.home), "--repeats", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    click = next(tm for tm in summary.tasks if tm.task.name == "click")
    assert figures["eval_examples"] == click.candidate["example_count"]
    for tm in summary.tasks:
        for name in ("example_count", "weighted_example_count", tm.task.metric):
            assert figures["metrics"][f"{tm.task.name}/{name}"] == pytest.approx(
                tm.candidate[name], rel=1e-9), (tm.task.name, name)
    assert figures["examples_per_second"] > 0


def test_model_is_blessed_and_pushed_in_the_tf_serving_layout(small_run):
    config, summary = small_run
    assert summary.blessed is True and summary.failures == []
    assert summary.pushed
    versions = os.listdir(config.serving_dir)
    assert len(versions) == 1 and versions[0].isdigit()
    assert summary.pushed_path == str(config.serving_dir / versions[0])
    assert os.path.exists(os.path.join(summary.pushed_path, "saved_model.pb"))
    text = summary.format()
    assert "Blessed: yes" in text and f"Pushed: {summary.pushed_path}" in text
    for task in features.TASKS:
        assert task.name in text


def test_serving_default_scores_unlabelled_examples(small_run):
    import tensorflow as tf

    config, summary = small_run
    model = tf.saved_model.load(summary.pushed_path)
    serve = model.signatures["serving_default"]
    examples = _eval_examples(config)
    outputs = serve(examples=tf.constant(examples))
    assert set(outputs) == {t.name for t in features.TASKS} | {"score"}  # score: fused
    for task in features.TASKS:
        values = outputs[task.name].numpy()
        assert values.shape == (len(examples),), task.name
        assert np.isfinite(values).all(), task.name
        if task.kind == "binary":
            assert ((values > 0) & (values < 1)).all()
            assert values.std() > 0  # not a constant
        else:
            assert (values >= 0).all()


def test_serving_fills_absent_features_with_defaults(small_run):
    import tensorflow as tf

    config, summary = small_run
    serve = tf.saved_model.load(summary.pushed_path).signatures["serving_default"]
    examples = _eval_examples(config, n=8, drop=("price", "device", "history_item_ids"))
    outputs = serve(examples=tf.constant(examples))
    for task in features.TASKS:
        assert np.isfinite(outputs[task.name].numpy()).all()
    empty = serve(examples=tf.constant([b""]))  # an empty tf.Example: every default
    assert all(np.isfinite(v.numpy()).all() for v in empty.values())


def test_rerun_with_unchanged_data_and_code_reuses_the_cache(tmp_path):
    """A second run on the same home and code reuses every upstream component from MLMD."""
    from models.hparams import ModelHParams
    from pipeline.runs import local as local_runner
    from tests.support.pipelines import small_config

    config = small_config(tmp_path, examples=2000,
                          hparams=ModelHParams(epochs=1, batch_size=128))
    first = local_runner.run(config)
    assert {c.state for c in first.components} == {"COMPLETE"}
    second = local_runner.run(config)
    assert second.run_id != first.run_id
    states = {c.node_id: c.state for c in second.components}
    for node in ("ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                 "AnomaliesGate", "Transform", "Trainer"):
        assert states[node] == "CACHED", states
