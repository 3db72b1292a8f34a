"""A local stand-in for TF Serving's gRPC and REST Predict APIs.

`LocalModelServer`: TF Serving's `PredictionService.Predict` (gRPC, the `tensorflow-serving-api`
protos) and `POST /v1/models/<name>[/versions/N|/labels/L]:predict` (REST, row and column
formats) over the versions under a serving folder, in this process. The
`tensorflow_model_server` binary cannot be installed on every machine; this stand-in lets the
clients in `pipeline.serving.clients` be tested over real sockets. It is a test and demo server,
not a production one (no batching, no model reloading while running).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from components.gated_pusher import push
from models.export import load_saved_model
from models.signatures import SERVING_DEFAULT
from pipeline.serving.versions import MODELS_CONFIG, read_models_config


class LocalModelServer:
    """TF Serving's Predict API over gRPC and REST for the versions under `serving_dir`.

    Versions are loaded on first use; with no version in a request, the newest is used, and a
    version label is looked up in `<serving_dir>/../models.config` (as TF Serving does).
    """

    def __init__(self, serving_dir: str | os.PathLike, model_name: str):
        self.serving_dir = Path(serving_dir)
        self.model_name = model_name
        self._models: dict[int, object] = {}
        self._lock = threading.Lock()
        self._grpc = None
        self._http = None

    def version_for(self, version: int | None = None, label: str | None = None) -> int:
        if version:
            if int(version) not in push.versions(self.serving_dir):
                raise LookupError(f"version {version} of {self.model_name!r} is not available; "
                                  f"versions: {push.versions(self.serving_dir)}")
            return int(version)
        if label:
            config = self.serving_dir.parent / MODELS_CONFIG
            labels = read_models_config(config)[1] if config.exists() else {}
            if label not in labels:
                raise LookupError(f"no version labelled {label!r} for {self.model_name!r} "
                                  f"in {config}")
            return labels[label]
        latest = push.latest_version(self.serving_dir)
        if latest is None:
            raise LookupError(f"no version of {self.model_name!r} under {self.serving_dir}")
        return latest

    def _model(self, version: int):

        with self._lock:
            if version not in self._models:
                self._models[version] = load_saved_model(self.serving_dir / str(version))
            return self._models[version]

    def run(self, signature_name: str, inputs: dict, version: int) -> dict:
        """Calls a signature with numpy inputs; returns numpy outputs."""
        import tensorflow as tf

        model = self._model(version)
        name = signature_name or SERVING_DEFAULT
        if name not in model.signatures:
            raise KeyError(f"signature {name!r} not found; available: {sorted(model.signatures)}")
        fn = model.signatures[name]
        expected = fn.structured_input_signature[1]
        missing = sorted(set(expected) - set(inputs))
        extra = sorted(set(inputs) - set(expected))
        if missing or extra:
            raise ValueError(f"signature {name!r} expects inputs {sorted(expected)}; "
                             f"missing {missing}, unexpected {extra}")
        tensors = {k: tf.constant(v, dtype=expected[k].dtype) for k, v in inputs.items()}
        return {k: v.numpy() for k, v in fn(**tensors).items()}

    # gRPC ---------------------------------------------------------------------------------------
    def start_grpc(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Starts the gRPC PredictionService; returns the bound port."""
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionServicer(self), server)
        bound = server.add_insecure_port(f"{host}:{port}")
        server.start()
        self._grpc = server
        return bound

    # REST ---------------------------------------------------------------------------------------
    def start_rest(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Starts the REST server in a thread; returns the bound port."""
        server = ThreadingHTTPServer((host, port), _rest_handler(self))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._http = server
        return server.server_address[1]

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None)
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None


def _predictionservice_base():
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    return prediction_service_pb2_grpc.PredictionServiceServicer


class _PredictionServicer(_predictionservice_base()):
    def __init__(self, server: LocalModelServer):
        self.server = server

    def Predict(self, request, context):  # noqa: N802 - the gRPC method name
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        if request.model_spec.name != self.server.model_name:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: {request.model_spec.name!r}")
        try:
            version = self.server.version_for(
                request.model_spec.version.value if request.model_spec.HasField("version")
                else None,
                request.model_spec.version_label or None)
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            signature = request.model_spec.signature_name or SERVING_DEFAULT
            outputs = self.server.run(signature, inputs, version)
        except LookupError as e:
            context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        except (KeyError, ValueError, tf.errors.InvalidArgumentError) as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.server.model_name
        response.model_spec.version.value = version
        response.model_spec.signature_name = signature
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response


_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|"
                    r"/labels/(?P<label>[^/:]+))?:predict$")


def _decode(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _json(value):
    """An output value as TF Serving's REST API writes it: numbers and lists as they are,
    strings as UTF-8 text, bytes that are not UTF-8 as {"b64": ...}."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode()}
    return value


def _rest_handler(server: LocalModelServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _reply(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 - http.server's method name
            match = _ROUTE.match(self.path)
            if not match or match["name"] != server.model_name:
                self._reply(404, {"error": f"Servable not found for request: {self.path}"})
                return
            try:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                version = server.version_for(match["version"], match["label"])
                signature = request.get("signature_name", SERVING_DEFAULT)
                if "instances" in request:
                    rows = request["instances"]
                    if rows and isinstance(rows[0], dict):
                        inputs = {k: [_decode(r[k]) for r in rows] for k in rows[0]}
                    else:  # a single-input signature: each instance is that input's value
                        inputs = {"examples": [_decode(r) for r in rows]}
                    outputs = server.run(signature, inputs, version)
                    names = sorted(outputs)
                    count = len(next(iter(outputs.values())))
                    predictions = [{n: _json(outputs[n][i]) for n in names}
                                   for i in range(count)]
                    self._reply(200, {"predictions": predictions})
                elif "inputs" in request:
                    inputs = {k: _decode(v) for k, v in request["inputs"].items()}
                    outputs = server.run(signature, inputs, version)
                    self._reply(200, {"outputs": {k: _json(v) for k, v in outputs.items()}})
                else:
                    self._reply(400, {"error": "request body needs 'instances' or 'inputs'"})
            except LookupError as e:
                self._reply(404, {"error": str(e)})
            except Exception as e:  # noqa: BLE001 - reported to the client like TF Serving
                self._reply(400, {"error": f"{type(e).__name__}: {e}"})

    return Handler
