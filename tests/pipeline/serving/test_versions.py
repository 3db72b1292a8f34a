"""Request building, input files, models.config labels and promote (no model needed)."""

from __future__ import annotations

import json

import pytest

from models.spec import default_spec
from pipeline.serving import clients as predict
from pipeline.serving import versions as serving

SPEC = default_spec()


def test_absent_features_take_the_documented_defaults():
    row = predict.complete_row({"user_id": "u1", "history_item_ids": "i1 i2"}, SPEC)
    assert row == {"user_id": "u1", "item_id": "", "category": "", "device": "",
                   "price": 0.0, "item_ctr_7d": 0.0, "user_age": 0, "hour": 0,
                   "history_item_ids": ["i1", "i2"]}


def test_bad_rows_name_the_place_and_feature(tmp_path):
    with pytest.raises(ValueError, match=r"row: feature 'price' must be a number, got 'cheap'"):
        predict.complete_row({"price": "cheap"}, SPEC)
    with pytest.raises(ValueError, match=r"unknown features \['colour'\]"):
        predict.complete_row({"colour": "red"}, SPEC)
    path = tmp_path / "rows.jsonl"
    path.write_text('{"user_id": "u1"}\n\n{"hour": 1.5}\n')
    with pytest.raises(ValueError, match=r"rows.jsonl:3: feature 'hour' must be an integer"):
        list(predict.read_rows(path, SPEC))
    path.write_text('{"user_id": "u1"}\nnot json\n')
    with pytest.raises(ValueError, match=r"rows.jsonl:2: not JSON"):
        list(predict.read_rows(path, SPEC))
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        list(predict.read_rows(tmp_path / "missing.jsonl", SPEC))


def test_tf_example_round_trip_drops_labels_and_keeps_history():
    import tensorflow as tf

    row = predict.complete_row({"user_id": "u9", "price": 2.5, "hour": 7,
                                "history_item_ids": ["a", "b", "c"]}, SPEC)
    example = tf.train.Example.FromString(predict.row_to_example(row, SPEC))
    example.features.feature["click"].int64_list.value.append(1)  # a label
    assert predict.example_to_row(example.SerializeToString(), SPEC) == row


def test_rest_body_is_plain_json_rows_for_the_raw_signature():
    rows = [predict.complete_row({"user_id": "u1", "history_item_ids": ["i1", "i2"]}, SPEC)]
    body = predict.rest_body(rows, SPEC)
    assert body["signature_name"] == "serving_raw"
    assert body["instances"][0]["history_item_ids"] == "i1 i2"
    assert body["instances"][0]["user_id"] == "u1" and body["instances"][0]["hour"] == 0
    json.dumps(body)  # plain JSON: no bytes


def test_grpc_request_carries_serialized_examples_to_serving_default():
    import tensorflow as tf

    rows = [predict.complete_row({"user_id": "u1"}, SPEC), predict.complete_row({"item_id": "i2"}, SPEC)]
    request = predict.grpc_request(rows, "mtl_model", version_label="canary", spec=SPEC)
    assert request.model_spec.name == "mtl_model"
    assert request.model_spec.signature_name == "serving_default"
    assert request.model_spec.version_label == "canary"
    examples = tf.make_ndarray(request.inputs["examples"])
    assert [predict.example_to_row(e, SPEC)["item_id"] for e in examples] == ["", "i2"]


def _versions(tmp_path, *names):
    serving_dir = tmp_path / "serving" / "mtl_model"
    for name in names:
        (serving_dir / str(name)).mkdir(parents=True)
    return serving_dir


def test_models_config_serves_the_labelled_versions():
    text = serving.models_config_text("mtl_model", "/models/mtl_model",
                                      {"stable": 3, "canary": 7})
    assert text == (
        'model_config_list {\n  config {\n    name: "mtl_model"\n'
        '    base_path: "/models/mtl_model"\n    model_platform: "tensorflow"\n'
        "    model_version_policy {\n      specific {\n        versions: 3\n"
        "        versions: 7\n      }\n    }\n"
        '    version_labels {\n      key: "canary"\n      value: 7\n    }\n'
        '    version_labels {\n      key: "stable"\n      value: 3\n    }\n  }\n}\n')


def test_promote_moves_labels_and_retires_a_graduated_canary(tmp_path):
    serving_dir = _versions(tmp_path, 3, 7)
    path, labels = serving.promote(serving_dir, "mtl_model", 3, base_path="/models/mtl_model")
    assert path == tmp_path / "serving" / "models.config" and labels == {"stable": 3}
    _, labels = serving.promote(serving_dir, "mtl_model", 7, label="canary")
    assert labels == {"stable": 3, "canary": 7}
    assert serving.read_models_config(path) == ("/models/mtl_model", {"stable": 3, "canary": 7})
    _, labels = serving.promote(serving_dir, "mtl_model", 7)
    assert labels == {"stable": 7}
    assert serving.read_models_config(path)[1] == {"stable": 7}
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_promote_refuses_a_version_that_was_not_pushed(tmp_path):
    serving_dir = _versions(tmp_path, 3)
    with pytest.raises(ValueError, match=r"version 4 is not pushed .* pushed versions: \[3\]"):
        serving.promote(serving_dir, "mtl_model", 4)


def test_cli_promote(tmp_path, capsys):
    from pipeline.cli.main import main

    _versions(tmp_path, 10, 11)
    assert main(["promote", "--root", str(tmp_path), "11", "--label", "canary"]) == 0
    assert "canary=11, stable=11" in capsys.readouterr().out
    assert main(["promote", "--root", str(tmp_path), "12"]) == 2
    assert "version 12 is not pushed" in capsys.readouterr().err
