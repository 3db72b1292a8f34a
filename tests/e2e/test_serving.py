"""The serving contract on the model the small pipeline run pushed.

The clients of `mtl predict` are exercised over real sockets against `LocalModelServer`, a
stand-in implementing TF Serving's PredictionService proto and REST route (the
`tensorflow_model_server` binary cannot be installed here); a last test runs the same clients
against a real `tensorflow_model_server` when one is on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from tests.support import default_problem as features

pytestmark = pytest.mark.e2e

ROWS = [
    {"user_id": "u1", "item_id": "i3", "category": "c2", "device": "ios", "price": 9.5,
     "item_ctr_7d": 0.04, "user_age": 31, "hour": 20, "history_item_ids": ["i1", "i2"]},
    {"user_id": "never-seen-user", "item_id": "i7"},
    {},
]


@pytest.fixture(scope="module")
def rows():
    from pipeline.serving import clients as predict

    return [predict.complete_row(r, features.SPEC) for r in ROWS]


def _close(a: list[dict], b: list[dict], tol=1e-5) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert sorted(x) == sorted(y)
        for key in x:
            assert abs(x[key] - y[key]) <= tol * max(1.0, abs(x[key])), (key, x[key], y[key])


def test_score_is_the_fused_sum_and_raw_signature_matches_examples(small_run, rows):
    import tensorflow as tf

    from pipeline.serving import clients as predict

    config, summary = small_run
    model = tf.saved_model.load(summary.pushed_path)
    examples = tf.constant([predict.row_to_example(r, features.SPEC) for r in rows])
    out = {k: v.numpy() for k, v in model.signatures["serving_default"](examples=examples).items()}
    assert set(out) == {t.name for t in features.TASKS} | {"score"}
    weights = config.active_fusion_weights()
    expected = sum(weights[t.name] * out[t.name] for t in features.TASKS)
    np.testing.assert_allclose(out["score"], expected, rtol=1e-6)

    raw = model.signatures["serving_raw"]
    body = predict.rest_body(rows, features.SPEC)["instances"]
    inputs = {k: tf.constant([b[k] for b in body], dtype=spec.dtype)
              for k, spec in raw.structured_input_signature[1].items()}
    raw_out = {k: v.numpy() for k, v in raw(**inputs).items()}
    for key in out:
        np.testing.assert_allclose(raw_out[key], out[key], rtol=1e-6, err_msg=key)


def test_describe_model_prints_signatures_dtypes_and_score(small_run, capsys):
    from pipeline.cli.main import main

    config, _ = small_run
    assert main(["describe-model", str(config.serving_dir)]) == 0
    text = capsys.readouterr().out
    assert "signature 'serving_default'" in text and "signature 'serving_raw'" in text
    assert "    examples             string   [batch]" in text
    assert "    user_age             int64    [batch]" in text
    assert "    score                float32  [batch]" in text
    weights = config.active_fusion_weights()
    assert f"{weights['conversion']:g} * conversion" in text


@pytest.fixture(scope="module")
def local_server(small_run):
    from pipeline.serving.local_server import LocalModelServer

    config, _ = small_run
    server = LocalModelServer(config.serving_dir, config.model_name)
    grpc_port, rest_port = server.start_grpc(0), server.start_rest(0)
    yield server, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{rest_port}"
    server.stop()


def test_grpc_and_rest_clients_match_in_process_scores(small_run, local_server, rows):
    from pipeline.serving import clients as predict

    config, summary = small_run
    _, grpc_target, rest_url = local_server
    local = predict.InProcessClient(summary.pushed_path).predict(rows)
    over_grpc = predict.GrpcClient(grpc_target, config.model_name, spec=features.SPEC).predict(rows)
    over_rest = predict.RestClient(rest_url, config.model_name, spec=features.SPEC).predict(rows)
    _close(local, over_grpc)
    _close(local, over_rest)
    # Unknown ids and an empty row still get finite scores (OOV bucket, defaults).
    assert all(np.isfinite(list(p.values())).all() for p in local)
    version = int(os.path.basename(summary.pushed_path))
    pinned = predict.RestClient(rest_url, config.model_name, version=version,
                                spec=features.SPEC).predict(rows[:1])
    _close(local[:1], pinned)
    with pytest.raises(ConnectionError, match="NOT_FOUND"):
        predict.GrpcClient(grpc_target, config.model_name, version=version + 1,
                           spec=features.SPEC).predict(rows)
    with pytest.raises(ConnectionError, match="HTTP 404"):
        predict.RestClient(rest_url, "no_such_model", spec=features.SPEC).predict(rows)


def test_mtl_predict_scores_a_tfrecord_file_over_each_transport(small_run, local_server,
                                                               tmp_path):
    import glob

    from pipeline.cli.main import main

    config, summary = small_run
    _, grpc_target, rest_url = local_server
    (data,) = glob.glob(str(config.data_dir / "span-*" / "*.tfrecord.gz"))[:1]
    import tensorflow as tf

    sample = tmp_path / "sample.tfrecord.gz"
    with tf.io.TFRecordWriter(str(sample), options="GZIP") as writer:
        for record in tf.data.TFRecordDataset(data, compression_type="GZIP").take(20):
            writer.write(record.numpy())
    outputs = {}
    for name, flags in {"local": ["--model-dir", summary.pushed_path],
                        "grpc": ["--server", grpc_target],
                        "rest": ["--rest", rest_url]}.items():
        out = tmp_path / f"{name}.jsonl"
        assert main(["predict", str(sample), *flags, "--batch-size", "8", "--out", str(out)]) == 0
        outputs[name] = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(outputs[name]) == 20
    _close(outputs["local"], outputs["grpc"], tol=1e-5)
    _close(outputs["local"], outputs["rest"], tol=1e-5)


def test_version_labels_route_to_the_promoted_version(small_run, tmp_path, rows):
    """A copy of the serving folder with two versions: `canary` and `stable` pick each one."""
    from pipeline.serving import clients as predict
    from pipeline.serving import versions as serving
    from pipeline.serving.local_server import LocalModelServer

    config, summary = small_run
    serving_dir = tmp_path / "serving" / config.model_name
    version = int(os.path.basename(summary.pushed_path))
    shutil.copytree(summary.pushed_path, serving_dir / str(version))
    shutil.copytree(summary.pushed_path, serving_dir / str(version + 1))
    serving.promote(serving_dir, config.model_name, version)
    serving.promote(serving_dir, config.model_name, version + 1, label="canary")
    server = LocalModelServer(serving_dir, config.model_name)
    assert server.version_for(label="stable") == version
    assert server.version_for(label="canary") == version + 1
    port = server.start_grpc(0)
    try:
        canary = predict.GrpcClient(f"127.0.0.1:{port}", config.model_name,
                                    version_label="canary", spec=features.SPEC)
        _close(canary.predict(rows), predict.InProcessClient(summary.pushed_path).predict(rows))
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not on PATH (the TF Serving binary "
                           "cannot be installed on this machine)")
def test_real_tensorflow_model_server(small_run, rows):
    from pipeline.serving import clients as predict

    config, summary = small_run
    grpc_port, rest_port = _free_port(), _free_port()
    proc = subprocess.Popen([
        "tensorflow_model_server", f"--port={grpc_port}", f"--rest_api_port={rest_port}",
        f"--model_name={config.model_name}", f"--model_base_path={config.serving_dir}",
    ])
    try:
        rest = predict.RestClient(f"http://127.0.0.1:{rest_port}", config.model_name, spec=features.SPEC)
        for _ in range(120):
            try:
                over_rest = rest.predict(rows)
                break
            except ConnectionError:
                time.sleep(0.5)
        else:
            raise AssertionError("tensorflow_model_server did not answer within 60 s")
        local = predict.InProcessClient(summary.pushed_path).predict(rows)
        _close(local, over_rest)
        _close(local, predict.GrpcClient(f"127.0.0.1:{grpc_port}",
                                         config.model_name, spec=features.SPEC).predict(rows))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tflite_agrees_with_the_saved_model_on_the_same_transformed_inputs(small_run, tmp_path):
    import glob

    import tensorflow as tf

    from models import tflite
    from pipeline.cli.main import main

    config, summary = small_run
    out = tmp_path / "model.tflite"
    assert main(["export-tflite", summary.pushed_path, str(out)]) == 0
    flatbuffer = out.read_bytes()
    model = tf.saved_model.load(summary.pushed_path)
    files = glob.glob(str(config.data_dir / "span-*" / "*.tfrecord.gz"))
    examples = tf.constant([r.numpy() for r in tf.data.TFRecordDataset(
        files, compression_type="GZIP").take(64)])
    transformed = model.signatures["transform_features"](examples=examples)
    inputs = {k: transformed[k].numpy() for k in features.model_input_keys()}
    lite = tflite.run(flatbuffer, inputs, features.TASKS)
    saved = model.signatures["serving_default"](examples=examples)
    assert set(lite) == {t.name for t in features.TASKS}
    for name, values in lite.items():
        assert values.shape == (64,)
        np.testing.assert_allclose(values, saved[name].numpy(), atol=1e-4, rtol=0,
                                   err_msg=name)
