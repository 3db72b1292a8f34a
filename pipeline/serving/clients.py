"""`mtl predict`: score a TFRecord or JSON-lines file in-process, over gRPC or over REST.

Three clients with one interface, `predict(rows) -> list[dict]` (one dict of outputs per row):

- `InProcessClient(model_dir)`: loads the SavedModel and calls `serving_default`;
- `GrpcClient("host:8500", model)`: TF Serving's `PredictionService.Predict` (the
  `tensorflow-serving-api` protos), `serving_default` with serialized tf.Examples;
- `RestClient("http://host:8501", model)`: TF Serving's REST route
  `POST /v1/models/<model>:predict` with `{"signature_name": "serving_raw", "instances": rows}`,
  plain JSON rows of raw features.

A row is a dict of the raw features of the model's problem spec (`models.spec`); an optional
feature (`Feature.optional`) may be absent (left out, or null; a float may be NaN): it stays
absent in the request (left out of the tf.Example; its absent value in a `serving_raw` row) and
the model imputes it as in training. Other absent features take the spec's serving defaults (a
sequence: empty); labels are ignored. The
in-process client reads the spec the model was trained on from the model itself
(`assets.extra/problem_spec.json`); the remote clients take one (`mtl predict --spec FILE`),
the default problem's otherwise.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import requests

from models.signatures import RAW_SIGNATURE, SERVING_DEFAULT
from models.spec import ProblemSpec, default_spec, load_model_spec


def model_spec(model_dir: str) -> ProblemSpec:
    """The problem spec a SavedModel was trained on (the default problem's for a model
    exported before models carried one)."""
    found = load_model_spec(model_dir)
    return found[0] if found else default_spec()


def complete_row(row: dict, where: str = "row", spec: ProblemSpec | None = None) -> dict:
    """The row with every raw feature, defaults filled; a sequence as a list of ids; an
    optional feature that is absent (left out, null, a NaN float) as None."""
    spec = spec or default_spec()
    known = set(spec.raw_feature_keys)
    unknown = sorted(set(row) - known - set(spec.label_keys))
    if unknown:
        raise ValueError(f"{where}: unknown features {unknown}; "
                         f"expected some of {list(spec.raw_feature_keys)}")
    out = {}
    for feature in spec.features:
        key = feature.name
        value = row.get(key, None if feature.optional else feature.serving_default)
        if feature.optional and (value is None or isinstance(value, float) and math.isnan(value)):
            out[key] = None
            continue
        if feature.kind == "sequence":
            if isinstance(value, str):
                value = value.split()
            values = [str(v) for v in value]
            if feature.dtype == "int":
                try:
                    values = [int(v) for v in values]
                except ValueError:
                    raise ValueError(f"{where}: feature {key!r} must hold integer ids, got "
                                     f"{value!r}") from None
            out[key] = values
        elif feature.dtype == "string":
            out[key] = str(value)
        elif feature.dtype == "float":
            try:
                out[key] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: feature {key!r} must be a number, got "
                                 f"{value!r}") from None
        else:
            if (isinstance(value, float) and not value.is_integer() or isinstance(value, str)
                    or value is None):
                raise ValueError(f"{where}: feature {key!r} must be an integer, got {value!r}")
            out[key] = int(value)
    return out


def row_to_example(row: dict, spec: ProblemSpec | None = None) -> bytes:
    """A serialized tf.Example of a (completed) row."""
    import tensorflow as tf

    spec = spec or default_spec()
    row = complete_row(row, spec=spec)
    example = tf.train.Example()
    feature = example.features.feature
    for spec_feature in spec.features:
        key = spec_feature.name
        if row[key] is None:
            continue  # an optional feature left absent
        values = row[key] if spec_feature.kind == "sequence" else [row[key]]
        if spec_feature.kind == "sequence" and spec.input_format == "csv":
            # As CsvExampleGen wrote the training examples: one whitespace-separated string.
            feature[key].bytes_list.value.append(" ".join(str(v) for v in values).encode())
        elif spec_feature.dtype == "string":
            feature[key].bytes_list.value.extend(str(v).encode() for v in values)
        elif spec_feature.dtype == "float":
            feature[key].float_list.value.extend(values)
        else:
            feature[key].int64_list.value.extend(values)
    return example.SerializeToString()


def example_to_row(serialized: bytes, spec: ProblemSpec | None = None) -> dict:
    """The raw features of a serialized tf.Example as a completed row (labels dropped)."""
    import tensorflow as tf

    spec = spec or default_spec()
    sequences = {f.name for f in spec.sequences}
    example = tf.train.Example.FromString(serialized)
    row = {}
    for key, value in example.features.feature.items():
        if key in spec.label_keys:
            continue
        kind = value.WhichOneof("kind")
        values = list(getattr(value, kind).value) if kind else []
        values = [v.decode() if isinstance(v, bytes) else v for v in values]
        if key in sequences:
            row[key] = (values[0].split() if spec.input_format == "csv" and len(values) == 1
                        and isinstance(values[0], str) else values)
        elif values:
            row[key] = values[0]
    return complete_row(row, where="tf.Example", spec=spec)


def read_rows(path: str | os.PathLike, spec: ProblemSpec | None = None) -> Iterator[dict]:
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
                yield complete_row(row, where=f"{path}:{number}", spec=spec)
        return
    import tensorflow as tf

    compression = "GZIP" if path.suffix == ".gz" else ""
    for record in tf.data.TFRecordDataset(str(path), compression_type=compression):
        yield example_to_row(record.numpy(), spec)


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
    """A JSON-ready prediction: a number, a string, or (nested) lists of them (a multiclass
    task's classes, a text task's per-token outputs)."""
    if isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) > 0:
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    if hasattr(value, "dtype") and value.dtype.kind in "iu" or isinstance(value, int):
        return int(value)
    return float(value)


def _rounded(value):
    """6 decimals for floats, at any depth of lists; other values as they are."""
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 6) if isinstance(value, float) else value


def rounded_row(prediction: dict) -> dict:
    """A prediction as `mtl predict` prints it: every output to 6 decimals."""
    return {k: _rounded(v) for k, v in prediction.items()}


def text_answers(prediction: dict, spec: ProblemSpec | None) -> dict:
    """A prediction with each text task's outputs as `mtl predict` prints them: a
    sequence_labeling task's entities as [{"start", "end", "type"}] (characters of the text,
    end exclusive), a span task's answer as {"start", "end", "text", "score"} (or null); the
    per-token distributions are left out."""
    if spec is None:
        return prediction
    out = dict(prediction)
    for task in spec.tasks:
        name = task.name
        if task.kind == "sequence_labeling" and f"{name}_start" in out:
            starts, ends, types = (out.pop(f"{name}_{k}") for k in ("start", "end", "type"))
            out.pop(name, None)
            out[name] = [{"start": s, "end": e, "type": t}
                         for s, e, t in zip(starts, ends, types) if s >= 0]
        elif task.kind == "span" and f"{name}_start" in out:
            answer = {k: out.pop(f"{name}_{k}") for k in ("start", "end", "text", "score")}
            out.pop(name, None)
            out[name] = answer if answer["start"] >= 0 else None
    return out


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
        self.spec = model_spec(model_dir)
        from models.export import load_saved_model

        self._serve = load_saved_model(model_dir).signatures[SERVING_DEFAULT]

    def predict(self, rows: list[dict]) -> list[dict]:
        examples = self._tf.constant([row_to_example(r, self.spec) for r in rows])
        outputs = self._serve(examples=examples)
        return _rows_of_columns({k: v.numpy() for k, v in outputs.items()})


def grpc_request(rows: list[dict], model_name: str, version: int | None = None,
                 version_label: str | None = None, spec: ProblemSpec | None = None):
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
        tf.make_tensor_proto([row_to_example(r, spec) for r in rows], dtype=tf.string))
    return request


class GrpcClient:
    """TF Serving's PredictionService over gRPC (`host:8500`)."""

    def __init__(self, target: str, model_name: str, version: int | None = None,
                 version_label: str | None = None, timeout: float = 30.0,
                 spec: ProblemSpec | None = None):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self._channel = grpc.insecure_channel(target)
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.model_name, self.version, self.version_label = model_name, version, version_label
        self.timeout = timeout
        self.target = target
        self.spec = spec or default_spec()

    def predict(self, rows: list[dict]) -> list[dict]:
        import grpc
        import tensorflow as tf

        request = grpc_request(rows, self.model_name, self.version, self.version_label,
                               self.spec)
        try:
            response = self._stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ConnectionError(f"gRPC Predict to {self.target} (model {self.model_name!r}) "
                                  f"failed: {e.code().name}: {e.details()}") from None
        return _rows_of_columns({k: tf.make_ndarray(v) for k, v in response.outputs.items()})

    def close(self) -> None:
        self._channel.close()


def rest_body(rows: list[dict], spec: ProblemSpec | None = None) -> dict:
    """The REST request body: plain JSON rows to the `serving_raw` signature (a sequence as
    one whitespace-separated string)."""
    spec = spec or default_spec()
    instances = []
    for row in rows:
        instance = dict(row)
        for feature in spec.features:
            if row[feature.name] is None:
                instance[feature.name] = feature.absent_value
            elif feature.kind == "sequence":
                instance[feature.name] = " ".join(str(v) for v in row[feature.name])
        instances.append(instance)
    return {"signature_name": RAW_SIGNATURE, "instances": instances}


class RestClient:
    """TF Serving's REST API (`http://host:8501`), row ("instances") format."""

    def __init__(self, base_url: str, model_name: str, version: int | None = None,
                 version_label: str | None = None, timeout: float = 30.0,
                 spec: ProblemSpec | None = None):
        self.spec = spec or default_spec()
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
            # NaN (an absent float) is a JSON number literal for TF Serving's REST API, not
            # for `requests`' strict JSON encoder.
            response = requests.post(self.url, data=json.dumps(rest_body(rows, self.spec)),
                                     headers={"Content-Type": "application/json"},
                                     timeout=self.timeout)
        except requests.RequestException as e:
            raise ConnectionError(f"REST predict to {self.url} failed: {e}") from None
        if response.status_code != 200:
            raise ConnectionError(f"REST predict to {self.url} failed: HTTP "
                                  f"{response.status_code}: {response.text[:500]}")
        predictions = response.json()["predictions"]
        return [{k: _plain(v) for k, v in sorted(p.items())} for p in predictions]


def predict_file(client, path: str | os.PathLike, batch_size: int = 256) -> Iterator[dict]:
    """Scores every row of `path` with `client`, in batches, in file order."""
    spec = getattr(client, "spec", None)
    for batch in _batches(read_rows(path, spec), batch_size):
        for prediction in client.predict(batch):
            yield text_answers(prediction, spec)
