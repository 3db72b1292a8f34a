"""GatedPusher: construction, push library, and executor `Do()` on a tiny saved model."""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components.gated_pusher import executor as executor_lib
from components.gated_pusher import push
from components.gated_pusher.component import GatedPusher
from components.gated_pusher.latency import summarize
from tests.support.tiny_model import save_tiny_model


def _tiny_model(path, scale: float = 2.0) -> str:
    """A SavedModel whose serving_default maps serialized examples to scale * price."""
    return save_tiny_model(path, scale)


def _examples_artifact(root) -> standard_artifacts.Examples:
    split = root / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for i in range(12):
            example = tf.train.Example()
            example.features.feature["price"].float_list.value.append(float(i))
            writer.write(example.SerializeToString())
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = '["eval"]'
    return artifact


def _run(tmp_path, name, model_uri, blessed=True, budget=1000.0):
    model = standard_artifacts.Model()
    model.uri = model_uri
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", int(blessed))
    examples_root = tmp_path / f"examples_{name}"
    out = standard_artifacts.PushedModel()
    out.uri = str(tmp_path / f"pushed_{name}")
    executor_lib.Executor().Do(
        {"model": [model], "model_blessing": [blessing],
         "examples": [_examples_artifact(examples_root)]},
        {"pushed_model": [out]},
        {"serving_dir": str(tmp_path / "serving" / "m"), "latency_budget_ms": budget,
         "latency_samples": 5, "latency_split": "eval"},
    )
    with open(os.path.join(out.uri, "push_record.json")) as f:
        return out, json.load(f)


def _trainer_output(tmp_path, name, scale):
    # TFX's Model artifact layout: <uri>/Format-Serving/ holds the SavedModel.
    uri = tmp_path / name
    _tiny_model(uri / "Format-Serving", scale)
    return str(uri)


def test_percentiles_are_hand_computed():
    figures = summarize([float(v) for v in range(1, 101)])  # 1..100 ms
    assert figures.samples == 100
    assert figures.p50_ms == pytest.approx(50.5)
    assert figures.p99_ms == pytest.approx(99.01)
    assert figures.max_ms == 100.0


def test_versions_ignore_hidden_and_non_numeric_folders(tmp_path):
    for name in ("3", "12", ".tmp-13-abc", "notes", "7"):
        (tmp_path / name).mkdir()
    (tmp_path / "99").write_text("a file, not a version")
    assert push.versions(tmp_path) == [3, 7, 12]
    assert push.next_version(tmp_path, now=5) == 13
    assert push.next_version(tmp_path, now=1000) == 1000


def test_atomic_push_leaves_no_temp_folder_and_refuses_to_overwrite(tmp_path):
    model = _tiny_model(tmp_path / "model")
    final = push.atomic_push(model, tmp_path / "serving", version=5)
    assert sorted(os.listdir(tmp_path / "serving")) == ["5"]
    assert push.model_digest(final) == push.model_digest(model)
    with pytest.raises(FileExistsError, match="5"):
        push.atomic_push(model, tmp_path / "serving", version=5)
    assert sorted(os.listdir(tmp_path / "serving")) == ["5"]


def test_failed_copy_leaves_nothing_visible(tmp_path):
    with pytest.raises(FileNotFoundError):
        push.atomic_push(tmp_path / "missing", tmp_path / "serving", version=1)
    assert os.listdir(tmp_path / "serving") == []


def test_executor_pushes_then_skips_the_same_model_then_pushes_a_new_one(tmp_path):
    first = _trainer_output(tmp_path, "model_a", 2.0)
    out, record = _run(tmp_path, "1", first)
    assert record["decision"] == "pushed"
    assert out.get_int_custom_property("pushed") == 1
    version = out.get_string_custom_property("pushed_version")
    assert push.versions(tmp_path / "serving" / "m") == [int(version)]
    assert out.get_float_custom_property("latency_p99_ms") == pytest.approx(
        record["latency"]["p99_ms"])
    assert record["latency"]["samples"] == 5
    # The served copy answers like the candidate: 2 * price.
    served = tf.saved_model.load(out.get_string_custom_property("pushed_destination"))
    example = tf.train.Example()
    example.features.feature["price"].float_list.value.append(1.5)
    got = served.signatures["serving_default"](examples=tf.constant([example.SerializeToString()]))
    assert got["click"].numpy().tolist() == [3.0]

    # The same model again (a cached Trainer blessed against itself): nothing new is pushed.
    out, record = _run(tmp_path, "2", first)
    assert record["decision"] == "already_served"
    assert out.get_int_custom_property("pushed") == 0
    assert out.get_string_custom_property("served_version") == version
    assert push.versions(tmp_path / "serving" / "m") == [int(version)]

    # A different model is pushed as a newer version.
    out, record = _run(tmp_path, "3", _trainer_output(tmp_path, "model_b", 3.0))
    assert record["decision"] == "pushed"
    first, second = push.versions(tmp_path / "serving" / "m")
    assert first == int(version) and second > first
    assert record["pushed_version"] == second


def test_executor_does_not_push_unblessed_or_slow_models(tmp_path):
    model = _trainer_output(tmp_path, "model", 2.0)
    out, record = _run(tmp_path, "unblessed", model, blessed=False)
    assert record["decision"] == "not_blessed" and "latency" not in record
    assert out.get_int_custom_property("pushed") == 0
    out, record = _run(tmp_path, "slow", model, budget=1e-6)
    assert record["decision"] == "latency_over_budget"
    assert "over the 1e-06 ms budget" in record["reason"]
    assert out.get_float_custom_property("latency_p99_ms") > 1e-6
    assert not (tmp_path / "serving" / "m").exists() or push.versions(tmp_path / "serving" / "m") == []


def test_component_wires_channels_and_validates_parameters():
    from tfx import types

    model = types.Channel(type=standard_artifacts.Model)
    blessing = types.Channel(type=standard_artifacts.ModelBlessing)
    examples = types.Channel(type=standard_artifacts.Examples)
    component = GatedPusher(model, blessing, examples, serving_dir="/s/m", latency_budget_ms=20)
    assert component.exec_properties["latency_budget_ms"] == 20.0
    assert component.exec_properties["serving_dir"] == "/s/m"
    assert component.outputs["pushed_model"].type == standard_artifacts.PushedModel
    with pytest.raises(ValueError, match="latency_budget_ms"):
        GatedPusher(model, blessing, examples, serving_dir="/s/m", latency_budget_ms=0)
