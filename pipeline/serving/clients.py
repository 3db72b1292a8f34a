"""`mtl predict`: score a TFRecord or JSON-lines file in-process, over gRPC or over REST.

Three clients with one interface, `predict(rows) -> list[dict]` (one dict of outputs per row):

- `InProcessClient(model_dir)`: loads the SavedModel and calls `serving_default`;
- `GrpcClient("host:8500", model)`: TF Serving's `PredictionService.Predict` (the
  `tensorflow-serving-api` protos), `serving_default` with serialized tf.Examples;
- `RestClient("http://host:8501", model)`: TF Serving's REST route
  `POST /v1/models/<model>:predict` with `{"signature_name": "serving_raw", "instances": rows}`,
  plain JSON rows of raw features.

A row is a dict of raw features (`models.features.RAW_FEATURE_KEYS`); absent features take the
documented defaults (`SERVING_DEFAULTS`, empty history), labels are ignored.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import requests

from models import features
from models.signatures import RAW_SIGNATURE, SERVING_DEFAULT

_STRING = (*features.CATEGORICAL_FEATURES,)
_FLOAT = features.FLOAT_FEATURES
_INT = features.INT_FEATURES


def complete_row(row: dict, where: str = "row") -> dict:
    """The row with every raw feature, defaults filled; history as a list of ids."""
    unknown = sorted(set(row) - set(features.RAW_FEATURE_KEYS) - set(features.LABEL_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown features {unknown}; "
                         f"expected some of {list(features.RAW_FEATURE_KEYS)}")
    out = {}
    for key in _STRING:
        out[key] = str(row.get(key, features.SERVING_DEFAULTS[key]))
    for key in _FLOAT:
        value = row.get(key, features.SERVING_DEFAULTS[key])
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: feature {key!r} must be a number, got {value!r}") from None
    for key in _INT:
        value = row.get(key, features.SERVING_DEFAULTS[key])
        if isinstance(value, float) and not value.is_integer() or isinstance(value, str):
            raise ValueError(f"{where}: feature {key!r} must be an integer, got {value!r}")
        out[key] = int(value)
    history = row.get(features.HISTORY_FEATURE, [])
    if isinstance(history, str):
        history = history.split()
    out[features.HISTORY_FEATURE] = [str(h) for h in history]
    return out


def row_to_example(row: dict) -> bytes:
    """A serialized tf.Example of a (completed) row."""
    import tensorflow as tf

    row = complete_row(row)
    example = tf.train.Example()
    feature = example.features.feature
    for key in _STRING:
        feature[key].bytes_list.value.append(row[key].encode())
    for key in _FLOAT:
        feature[key].float_list.value.append(row[key])
    for key in _INT:
        feature[key].int64_list.value.append(row[key])
    feature[features.HISTORY_FEATURE].bytes_list.value.extend(
        h.encode() for h in row[features.HISTORY_FEATURE])
    return example.SerializeToString()


def example_to_row(serialized: bytes) -> dict:
    """The raw features of a serialized tf.Example as a completed row (labels dropped)."""
    import tensorflow as tf

    example = tf.train.Example.FromString(serialized)
    row = {}
    for key, value in example.features.feature.items():
        if key in features.LABEL_KEYS:
            continue
        kind = value.WhichOneof("kind")
        values = list(getattr(value, kind).value) if kind else []
        values = [v.decode() if isinstance(v, bytes) else v for v in values]
        if key == features.HISTORY_FEATURE:
            row[key] = values
        elif values:
            row[key] = values[0]
    return complete_row(row, where="tf.Example")


def read_rows(path: str | os.PathLike) -> Iterator[dict]:
    """Rows from a JSON-lines file (`.jsonl`/`.json`) or a (gzipped) TFRecord of tf.Examples."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    if path.suffix in (".jsonl", ".json") or path.name.endswith((".jsonl.gz", ".json.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{number}: not JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object of features")
                yield complete_row(row, where=f"{path}:{number}")
        return
    import tensorflow as tf

    compression = "GZIP" if path.suffix == ".gz" else ""
    for record in tf.data.TFRecordDataset(str(path), compression_type=compression):
        yield example_to_row(record.numpy())


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _plain(value):
    """A JSON-ready prediction: a float, or a list of floats (a multiclass task's classes)."""
    if isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) > 0:
        return [float(v) for v in value]
    return float(value)


def _rounded(value):
    """6 decimals, for a float or a multiclass task's list of class probabilities."""
    return [round(v, 6) for v in value] if isinstance(value, list) else round(value, 6)


def rounded_row(prediction: dict) -> dict:
    """A prediction as `mtl predict` prints it: every output to 6 decimals."""
    return {k: _rounded(v) for k, v in prediction.items()}


def _rows_of_columns(columns: dict) -> list[dict]:
    names = sorted(columns)
    count = len(columns[names[0]]) if names else 0
    return [{name: _plain(columns[name][i]) for name in names} for i in range(count)]


class InProcessClient:
    """`serving_default` of a SavedModel folder, called in this process."""

    def __init__(self, model_dir: str):
        import tensorflow as tf

        if not os.path.exists(os.path.join(model_dir, "saved_model.pb")):
            raise FileNotFoundError(f"{model_dir} is not a SavedModel folder (no saved_model.pb)")
        self._tf = tf
        self._serve = tf.saved_model.load(model_dir).signatures[SERVING_DEFAULT]

    def predict(self, rows: list[dict]) -> list[dict]:
        examples = self._tf.constant([row_to_example(r) for r in rows])
        outputs = self._serve(examples=examples)
        return _rows_of_columns({k: v.numpy() for k, v in outputs.items()})


def grpc_request(rows: list[dict], model_name: str, version: int | None = None,
                 version_label: str | None = None):
    """The PredictRequest TF Serving receives: serialized tf.Examples to `serving_default`."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = SERVING_DEFAULT
    if version is not None:
        request.model_spec.version.value = int(version)
    elif version_label:
        request.model_spec.version_label = version_label
    request.inputs["examples"].CopyFrom(
        tf.make_tensor_proto([row_to_example(r) for r in rows], dtype=tf.string))
    return request


class GrpcClient:
    """TF Serving's PredictionService over gRPC (`host:8500`)."""

    def __init__(self, target: str, model_name: str, version: int | None = None,
                 version_label: str | None = None, timeout: float = 30.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self._channel = grpc.insecure_channel(target)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.model_name, self.version, self.version_label = model_name, version, version_label
        self.timeout = timeout
        self.target = target

    def predict(self, rows: list[dict]) -> list[dict]:
        import grpc
        import tensorflow as tf

        request = grpc_request(rows, self.model_name, self.version, self.version_label)
        try:
            response = self._stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ConnectionError(f"gRPC Predict to {self.target} (model {self.model_name!r}) "
                                  f"failed: {e.code().name}: {e.details()}") from None
        return _rows_of_columns({k: tf.make_ndarray(v) for k, v in response.outputs.items()})

    def close(self) -> None:
        self._channel.close()


def rest_body(rows: list[dict]) -> dict:
    """The REST request body: plain JSON rows to the `serving_raw` signature."""
    instances = []
    for row in rows:
        instance = dict(row)
        instance[features.HISTORY_FEATURE] = " ".join(row[features.HISTORY_FEATURE])
        instances.append(instance)
    return {"signature_name": RAW_SIGNATURE, "instances": instances}


class RestClient:
    """TF Serving's REST API (`http://host:8501`), row ("instances") format."""

    def __init__(self, base_url: str, model_name: str, version: int | None = None,
                 version_label: str | None = None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        path = f"/v1/models/{model_name}"
        if version is not None:
            path += f"/versions/{int(version)}"
        elif version_label:
            path += f"/labels/{version_label}"
        self.url = f"{self.base_url}{path}:predict"
        self.timeout = timeout

    def predict(self, rows: list[dict]) -> list[dict]:
        try:
            response = requests.post(self.url, json=rest_body(rows), timeout=self.timeout)
        except requests.RequestException as e:
            raise ConnectionError(f"REST predict to {self.url} failed: {e}") from None
        if response.status_code != 200:
            raise ConnectionError(f"REST predict to {self.url} failed: HTTP "
                                  f"{response.status_code}: {response.text[:500]}")
        predictions = response.json()["predictions"]
        return [{k: _plain(v) for k, v in sorted(p.items())} for p in predictions]


def predict_file(client, path: str | os.PathLike, batch_size: int = 256) -> Iterator[dict]:
    """Scores every row of `path` with `client`, in batches, in file order."""
    for batch in _batches(read_rows(path), batch_size):
        yield from client.predict(batch)
