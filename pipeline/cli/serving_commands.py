"""describe-model, predict, promote, serve-local, export-tflite."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from models.spec import default_spec, load_spec
from pipeline.cli.common import add_home
from pipeline.serving import clients, versions


def register(sub) -> None:
    describe = sub.add_parser("describe-model", help="print a SavedModel's serving signatures")
    describe.add_argument("dir", help="a SavedModel folder, or a serving folder (newest version)")
    describe.set_defaults(handler=describe_command)

    predict = sub.add_parser("predict", help="score a TFRecord or JSON-lines file")
    predict.add_argument("input", help="*.tfrecord[.gz] of tf.Examples, or *.jsonl of rows")
    where = predict.add_mutually_exclusive_group(required=True)
    where.add_argument("--model-dir", help="score in-process with this SavedModel folder")
    where.add_argument("--server", help="TF Serving gRPC address, e.g. localhost:8500")
    where.add_argument("--rest", help="TF Serving REST address, e.g. http://localhost:8501")
    predict.add_argument("--model-name", default="mtl_model", help="served model name")
    predict.add_argument("--version", type=int, default=None, help="served version")
    predict.add_argument("--label", default=None, help="served version label (stable/canary)")
    predict.add_argument("--spec", default=None, metavar="FILE",
                         help="with --server / --rest: the problem spec of the served model "
                              "(default: the embedded problem's); --model-dir reads the "
                              "model's own")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.add_argument("--out", default=None, help="write JSON lines here (default stdout)")
    predict.set_defaults(handler=predict_command)

    promote = sub.add_parser("promote", help="point a version label of models.config at VERSION")
    add_home(promote)
    promote.add_argument("version", type=int, help="a pushed version under serving/<model>/")
    promote.add_argument("--label", default=versions.STABLE,
                         choices=[versions.STABLE, versions.CANARY])
    promote.add_argument("--model-name", default="mtl_model")
    promote.add_argument("--base-path", default=None,
                         help="model base path as TF Serving sees it (e.g. /models/mtl_model); "
                              "default the serving folder, or the existing config's")
    promote.set_defaults(handler=promote_command)

    lite = sub.add_parser("export-tflite", help="convert a SavedModel's network to TFLite "
                                                "(transformed features in; tf.Transform stays out)")
    lite.add_argument("dir", help="a pushed SavedModel folder")
    lite.add_argument("out", help="the .tflite file to write")
    lite.set_defaults(handler=export_tflite_command)

    serve = sub.add_parser("serve-local", help="a local stand-in for TF Serving's gRPC and REST "
                                               "Predict APIs over serving/<model>/")
    add_home(serve)
    serve.add_argument("--model-name", default="mtl_model")
    serve.add_argument("--grpc-port", type=int, default=8500)
    serve.add_argument("--rest-port", type=int, default=8501)
    serve.set_defaults(handler=serve_local_command)


def _refused(args: argparse.Namespace, e: Exception) -> int:
    print(f"mtl {args.command}: {e}", file=sys.stderr)
    return 2


def describe_command(args: argparse.Namespace) -> int:
    try:
        print(versions.describe_model(args.dir))
    except (FileNotFoundError, ValueError, LookupError) as e:
        return _refused(args, e)
    return 0


def predict_command(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec) if args.spec else default_spec()
        if args.model_dir:
            client = clients.InProcessClient(args.model_dir)
        elif args.server:
            client = clients.GrpcClient(args.server, args.model_name, args.version, args.label,
                                        spec=spec)
        else:
            client = clients.RestClient(args.rest, args.model_name, args.version, args.label,
                                        spec=spec)
        out = open(args.out, "w") if args.out else sys.stdout
        try:
            for prediction in clients.predict_file(client, args.input, args.batch_size):
                out.write(json.dumps(clients.rounded_row(prediction)) + "\n")
        finally:
            if args.out:
                out.close()
    except (FileNotFoundError, ValueError, ConnectionError) as e:
        return _refused(args, e)
    return 0


def promote_command(args: argparse.Namespace) -> int:
    serving_dir = os.path.join(os.path.abspath(args.root), "serving", args.model_name)
    try:
        path, labels = versions.promote(serving_dir, args.model_name, args.version, args.label,
                                        args.base_path)
    except (FileNotFoundError, ValueError, LookupError) as e:
        return _refused(args, e)
    print(f"{path}: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    return 0


def export_tflite_command(args: argparse.Namespace) -> int:
    # Lazy: models.tflite imports TensorFlow (seconds), which no other command needs up front.
    from models import tflite

    try:
        flatbuffer = tflite.convert_saved_model(args.dir)
    except (FileNotFoundError, ValueError, LookupError) as e:
        return _refused(args, e)
    tmp = f"{args.out}.tmp"
    with open(tmp, "wb") as f:
        f.write(flatbuffer)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({len(flatbuffer)} bytes)")
    return 0


def serve_local_command(args: argparse.Namespace) -> int:
    # Lazy: the server's gRPC servicer class derives from TF Serving's generated base class, so
    # importing the module loads TensorFlow (seconds) that the other commands do not need.
    from pipeline.serving.local_server import LocalModelServer

    serving_dir = os.path.join(os.path.abspath(args.root), "serving", args.model_name)
    server = LocalModelServer(serving_dir, args.model_name)
    try:
        server.version_for()  # fail now if nothing is pushed
    except (FileNotFoundError, ValueError, LookupError) as e:
        return _refused(args, e)
    grpc_port = server.start_grpc(args.grpc_port)
    rest_port = server.start_rest(args.rest_port)
    print(f"serving {serving_dir}: gRPC 127.0.0.1:{grpc_port}, "
          f"REST http://127.0.0.1:{rest_port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0
