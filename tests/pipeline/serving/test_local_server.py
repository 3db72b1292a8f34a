"""The gRPC and REST clients against the local TF Serving stand-in, on a tiny model.

The tiny model scores `click = 2 * price` from either signature, so every transport's answer
is known by hand; the whole-pipeline version of these tests is tests/e2e/test_serving.py.
"""

from __future__ import annotations

import pytest

from models.spec import default_spec
from pipeline.serving import clients as predict
from pipeline.serving.local_server import LocalModelServer
from tests.support.tiny_model import save_tiny_model

SPEC = default_spec()


def _tiny_model(path, scale: float) -> None:
    save_tiny_model(path, scale, with_raw=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    serving_dir = tmp_path_factory.mktemp("serving") / "m"
    _tiny_model(serving_dir / "1", 2.0)
    _tiny_model(serving_dir / "2", 3.0)
    server = LocalModelServer(serving_dir, "m")
    grpc_port, rest_port = server.start_grpc(0), server.start_rest(0)
    yield f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{rest_port}"
    server.stop()


ROWS = [predict.complete_row({"price": 1.5}, SPEC), predict.complete_row({"user_id": "u1"}, SPEC)]


def test_grpc_scores_the_newest_version_or_the_one_asked_for(server):
    grpc_target, _ = server
    assert predict.GrpcClient(grpc_target, "m", spec=SPEC).predict(ROWS) == [{"click": 4.5}, {"click": 0.0}]
    assert predict.GrpcClient(grpc_target, "m", version=1, spec=SPEC).predict(ROWS[:1]) == [{"click": 3.0}]
    with pytest.raises(ConnectionError, match="NOT_FOUND.*version 7"):
        predict.GrpcClient(grpc_target, "m", version=7, spec=SPEC).predict(ROWS)
    with pytest.raises(ConnectionError, match="NOT_FOUND"):
        predict.GrpcClient(grpc_target, "other", spec=SPEC).predict(ROWS)


def test_rest_takes_plain_json_rows(server):
    _, rest_url = server
    assert predict.RestClient(rest_url, "m", spec=SPEC).predict(ROWS) == [{"click": 4.5}, {"click": 0.0}]
    assert predict.RestClient(rest_url, "m", version=1, spec=SPEC).predict(ROWS[:1]) == [{"click": 3.0}]
    with pytest.raises(ConnectionError, match="HTTP 404"):
        predict.RestClient(rest_url, "m", version_label="canary", spec=SPEC).predict(ROWS)


def test_rest_reports_a_bad_request_like_tf_serving(server):
    import requests

    _, rest_url = server
    reply = requests.post(f"{rest_url}/v1/models/m:predict",
                          json={"signature_name": "serving_raw", "instances": [{"price": 1.0}]},
                          timeout=30)
    assert reply.status_code == 400
    assert "missing ['category', 'device'" in reply.json()["error"]


def test_mtl_predict_jsonl_in_process(tmp_path, capsys):
    from pipeline.cli.main import main

    model = tmp_path / "model"
    _tiny_model(model, 2.0)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"price": 1.25}\n{"price": 4, "device": "ios"}\n')
    assert main(["predict", str(rows), "--model-dir", str(model)]) == 0
    assert capsys.readouterr().out.splitlines() == ['{"click": 2.5}', '{"click": 8.0}']
    assert main(["predict", str(tmp_path / "none.jsonl"), "--model-dir", str(model)]) == 2
    assert "none.jsonl does not exist" in capsys.readouterr().err
