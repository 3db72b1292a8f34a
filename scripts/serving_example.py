"""Prints a gRPC and a REST request with their responses, for the serving guide (docs/guides/serving.md).

Starts `pipeline.serving.versions.LocalModelServer` (the stand-in for TF Serving) over a home's pushed
model and calls it with the clients of `mtl predict`:

    PYTHONPATH=. python scripts/serving_example.py --root /tmp/home
"""

from __future__ import annotations

import argparse
import json

from google.protobuf import json_format


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--model-name", default="mtl_model")
    args = parser.parse_args()

    import requests
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from pipeline.core.config import PipelineConfig
    from pipeline.serving import clients as predict
    from pipeline.serving.versions import LocalModelServer

    config = PipelineConfig(root=args.root, model_name=args.model_name)
    server = LocalModelServer(config.serving_dir, config.model_name)
    grpc_port, rest_port = server.start_grpc(0), server.start_rest(0)
    rows = [predict.complete_row({"user_id": "u1", "item_id": "i3", "category": "c2",
                                  "device": "ios", "price": 9.5, "item_ctr_7d": 0.04,
                                  "user_age": 31, "hour": 20,
                                  "history_item_ids": ["i1", "i2"]}),
            predict.complete_row({"user_id": "never-seen", "item_id": "i7"})]
    try:
        import grpc

        request = predict.grpc_request(rows, config.model_name)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        response = stub.Predict(request, timeout=30)
        shown = json_format.MessageToDict(request)
        shown["inputs"]["examples"]["stringVal"] = [
            f"<serialized tf.Example of row {i}>" for i in range(len(rows))]
        print("# gRPC PredictionService.Predict request (examples elided)")
        print(json.dumps(shown, indent=2))
        print("# gRPC response (values rounded to 4 places)")
        outputs = {k: [round(float(x), 4) for x in tf.make_ndarray(v)]
                   for k, v in sorted(response.outputs.items())}
        print(json.dumps({"model_spec": json_format.MessageToDict(response.model_spec),
                          "outputs": outputs}, indent=2))
        body = predict.rest_body(rows)
        url = f"http://localhost:8501/v1/models/{config.model_name}:predict"
        print(f"# REST POST {url}")
        print(json.dumps(body, indent=2))
        reply = requests.post(
            f"http://127.0.0.1:{rest_port}/v1/models/{config.model_name}:predict", json=body,
            timeout=30).json()
        print("# REST response (values rounded to 4 places)")
        print(json.dumps({"predictions": [{k: round(v, 4) for k, v in p.items()}
                                          for p in reply["predictions"]]}, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
