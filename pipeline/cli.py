"""The `mtl` console script: the only module that reads flags or the environment."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from models.features import OPTIONAL_TASKS
from models.hparams import MODEL_NAMES, WEIGHTING_NAMES, ModelHParams


def _add_home(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=os.environ.get("MTL_HOME", "mtl_home"),
                        help="home folder (data/, pipeline_root/, metadata.db, serving/); "
                             "default ./mtl_home or $MTL_HOME")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtl", description="Multi-task learning TFX pipeline")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the whole pipeline locally (LocalDagRunner)")
    _add_home(run)
    run.add_argument("--examples", type=int, default=100_000,
                     help="examples to generate when the data folder is empty (default 100000)")
    run.add_argument("--seed", type=int, default=42, help="data and training seed (default 42)")
    run.add_argument("--model", default=ModelHParams.model, choices=MODEL_NAMES,
                     help=f"architecture (default {ModelHParams.model})")
    run.add_argument("--weighting", default=ModelHParams.weighting, choices=WEIGHTING_NAMES,
                     help=f"loss weighting (default {ModelHParams.weighting})")
    run.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    run.add_argument("--epochs", type=int, default=ModelHParams.epochs)
    run.add_argument("--steps-per-epoch", type=int, default=None,
                     help="cap each epoch at this many batches (smoke runs)")
    run.add_argument("--batch-size", type=int, default=ModelHParams.batch_size)
    run.add_argument("--learning-rate", type=float, default=ModelHParams.learning_rate)
    run.add_argument("--no-cache", action="store_true", help="disable ML Metadata caching")
    run.add_argument("--wait", action="store_true",
                     help="wait for another run on the same home to finish instead of exiting")
    run.add_argument("--threshold", action="append", default=[], metavar="TASK=VALUE",
                     help="override a task's absolute bound (AUC lower / RMSE upper)")
    run.add_argument("--allow-anomalies", action="store_true",
                     help="go on (with warnings) when the data fails validation against the "
                          "curated schema: for people who know what they are doing")
    run.add_argument("--schema", default=None,
                     help="curated schema file (default config/schema.pbtxt when it exists)")
    run.add_argument("--beam-arg", action="append", default=None, metavar="FLAG",
                     help="a Beam pipeline flag (repeatable); replaces the DirectRunner default")
    run.add_argument("--train-spans", type=int, default=1, metavar="K",
                     help="train on the latest K spans (rolling window); evaluate on the newest")
    run.add_argument("--with-task", action="append", default=[], metavar="TASK",
                     choices=[t.name for t in OPTIONAL_TASKS],
                     help="also train this optional task (repeatable): "
                          + ", ".join(f"{t.name} ({t.kind}, {t.num_classes} classes)"
                                      for t in OPTIONAL_TASKS)
                          + "; generated data then carries its label")
    run.add_argument("--strategy", default="default",
                     choices=("default", "mirrored", "multi_worker_mirrored"),
                     help="Trainer's tf.distribute strategy")

    sched = sub.add_parser(
        "schedule", help="retrain every interval, one run at a time per home; logs each outcome",
        usage="mtl schedule --every 24h [--max-runs N] [-- RUN FLAGS (as for mtl run)]")
    sched.add_argument("--every", default="24h", help="interval, e.g. 24h, 30m, 10s (default 24h)")
    sched.add_argument("--max-runs", type=int, default=None,
                       help="stop after this many runs (default: run forever)")
    sched.add_argument("--always", action="store_true",
                       help="run even when no span arrived since the last completed run")
    sched.add_argument("run_args", nargs=argparse.REMAINDER,
                       help="after --: the flags of `mtl run` (--root, --train-spans, ...)")

    from pipeline import kfp_client

    kfp_client.add_parser(sub)

    gen = sub.add_parser("generate-data", help="write the embedded synthetic dataset")
    gen.add_argument("--out", required=True, help="data folder (spans go to <out>/span-<N>/)")
    gen.add_argument("--examples", type=int, default=100_000, help="examples per span")
    gen.add_argument("--spans", type=int, default=1, help="number of spans to write")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--engagement-level", action="store_true",
                     help="add the optional multiclass label engagement_level (0/1/2, -1 missing)")
    gen.add_argument("--append-span", action="store_true",
                     help="write the next span(s) after the highest existing one")
    _add_monitoring_parsers(sub)
    schema = sub.add_parser("schema", help="the curated schema")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    freeze = schema_sub.add_parser(
        "freeze", help="infer the schema from a home's newest statistics, curate it (domains, "
                       "ranges, presence, drift comparators) and write it for review")
    _add_home(freeze)
    freeze.add_argument("--out", default=None,
                        help="schema file to write (default: the repository's config/schema.pbtxt)")
    _add_serving_commands(sub)
    return parser


def _add_monitoring_parsers(sub) -> None:
    """`mtl metrics` and `mtl report` (pipeline.monitoring, pipeline.report)."""
    metrics = sub.add_parser("metrics", help="every task's metrics, one row per run and task")
    _add_home(metrics)
    metrics.add_argument("--format", default="table",
                         choices=("table", "json", "csv", "prometheus"))
    metrics.add_argument("--check", action="store_true",
                         help="exit 1 and name the task when the latest run's metric is past its "
                              "threshold or worse than the previous run by more than --max-drop")
    report = sub.add_parser("report", help="write a self-contained HTML report with charts")
    _add_home(report)
    report.add_argument("--out", default="report.html", help="HTML file (default report.html)")
    for p in (metrics, report):
        p.add_argument("--threshold", action="append", default=[], metavar="TASK=VALUE",
                       help="check against this bound instead of the one the run gated with")
        p.add_argument("--max-drop", action="append", default=[], metavar="TASK=VALUE",
                       help="largest tolerated degradation vs. the previous run, in the "
                            "metric's units (default: the task's max_change)")


def _add_serving_commands(sub) -> None:
    """describe-model, predict, promote, serve-local, export-tflite (pipeline/serving.py,
    pipeline/predict.py, models/tflite.py)."""
    describe = sub.add_parser("describe-model", help="print a SavedModel's serving signatures")
    describe.add_argument("dir", help="a SavedModel folder, or a serving folder (newest version)")

    predict = sub.add_parser("predict", help="score a TFRecord or JSON-lines file")
    predict.add_argument("input", help="*.tfrecord[.gz] of tf.Examples, or *.jsonl of rows")
    where = predict.add_mutually_exclusive_group(required=True)
    where.add_argument("--model-dir", help="score in-process with this SavedModel folder")
    where.add_argument("--server", help="TF Serving gRPC address, e.g. localhost:8500")
    where.add_argument("--rest", help="TF Serving REST address, e.g. http://localhost:8501")
    predict.add_argument("--model-name", default="mtl_model", help="served model name")
    predict.add_argument("--version", type=int, default=None, help="served version")
    predict.add_argument("--label", default=None, help="served version label (stable/canary)")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.add_argument("--out", default=None, help="write JSON lines here (default stdout)")

    promote = sub.add_parser("promote", help="point a version label of models.config at VERSION")
    _add_home(promote)
    promote.add_argument("version", type=int, help="a pushed version under serving/<model>/")
    promote.add_argument("--label", default="stable", choices=["stable", "canary"])
    promote.add_argument("--model-name", default="mtl_model")
    promote.add_argument("--base-path", default=None,
                         help="model base path as TF Serving sees it (e.g. /models/mtl_model); "
                              "default the serving folder, or the existing config's")

    lite = sub.add_parser("export-tflite", help="convert a SavedModel's network to TFLite "
                                                "(transformed features in; tf.Transform stays out)")
    lite.add_argument("dir", help="a pushed SavedModel folder")
    lite.add_argument("out", help="the .tflite file to write")

    serve = sub.add_parser("serve-local", help="a local stand-in for TF Serving's gRPC and REST "
                                               "Predict APIs over serving/<model>/")
    _add_home(serve)
    serve.add_argument("--model-name", default="mtl_model")
    serve.add_argument("--grpc-port", type=int, default=8500)
    serve.add_argument("--rest-port", type=int, default=8501)


def _serving_command(args: argparse.Namespace) -> int:
    from pipeline import predict, serving

    if args.command == "predict":
        return predict.main(args)
    try:
        if args.command == "describe-model":
            print(serving.describe_model(args.dir))
        elif args.command == "export-tflite":
            from models import tflite

            flatbuffer = tflite.convert_saved_model(args.dir)
            tmp = f"{args.out}.tmp"
            with open(tmp, "wb") as f:
                f.write(flatbuffer)
            os.replace(tmp, args.out)
            print(f"wrote {args.out} ({len(flatbuffer)} bytes)")
        elif args.command == "promote":
            serving_dir = os.path.join(os.path.abspath(args.root), "serving", args.model_name)
            path, labels = serving.promote(serving_dir, args.model_name, args.version,
                                           args.label, args.base_path)
            print(f"{path}: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
        elif args.command == "serve-local":
            import time

            serving_dir = os.path.join(os.path.abspath(args.root), "serving", args.model_name)
            server = serving.LocalModelServer(serving_dir, args.model_name)
            server.version_for()  # fail now if nothing is pushed
            grpc_port = server.start_grpc(args.grpc_port)
            rest_port = server.start_rest(args.rest_port)
            print(f"serving {serving_dir}: gRPC 127.0.0.1:{grpc_port}, "
                  f"REST http://127.0.0.1:{rest_port}", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                server.stop()
    except (FileNotFoundError, ValueError, LookupError) as e:
        print(f"mtl {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


def _parse_overrides(pairs: list[str], flag: str) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"mtl: {flag} expects TASK=VALUE, got {pair!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise SystemExit(f"mtl: {flag} {pair!r}: {value!r} is not a number") from None
    return out


def config_from_args(args: argparse.Namespace):
    from pipeline.config import DEFAULT_BEAM_ARGS, PipelineConfig

    hparams = ModelHParams(
        model=args.model,
        weighting=args.weighting,
        jit_compile=args.jit_compile,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    return PipelineConfig(
        root=args.root,
        examples=args.examples,
        seed=args.seed,
        hparams=hparams,
        thresholds=_parse_overrides(args.threshold, "--threshold"),
        beam_pipeline_args=tuple(args.beam_arg) if args.beam_arg else DEFAULT_BEAM_ARGS,
        enable_cache=not args.no_cache,
        train_spans=args.train_spans,
        distribution_strategy=args.strategy,
        schema_path=args.schema,
        allow_anomalies=args.allow_anomalies,
        extra_tasks=tuple(dict.fromkeys(args.with_task)),
    )


def run_config(run_args: list[str]):
    """The `PipelineConfig` that `mtl run RUN_ARGS` would use."""
    return config_from_args(build_parser().parse_args(["run", *run_args]))


def config_from_environment(environ=None):
    """The config of the TFX CLI runner (pipeline/local_runner.py): `$MTL_RUN_ARGS` holds
    `mtl run` flags (e.g. "--examples 5000 --epochs 3 --train-spans 3"), `$MTL_HOME` the home."""
    import shlex

    environ = os.environ if environ is None else environ
    run_args = shlex.split(environ.get("MTL_RUN_ARGS", ""))
    if "MTL_HOME" in environ and "--root" not in run_args:
        run_args = ["--root", environ["MTL_HOME"], *run_args]
    return run_config(run_args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "generate-data":
        from pipeline import data

        try:
            written = data.generate(args.out, args.examples, args.spans, args.seed,
                                    append=args.append_span,
                                    engagement_level=args.engagement_level)
        except (FileExistsError, ValueError) as e:
            print(f"mtl generate-data: {e}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
        return 0
    if args.command in ("describe-model", "predict", "promote", "serve-local", "export-tflite"):
        return _serving_command(args)
    if args.command == "run":
        from pipeline import local_runner

        try:
            config = config_from_args(args)
        except ValueError as e:
            print(f"mtl run: {e}", file=sys.stderr)
            return 2
        from components.anomalies_gate.executor import AnomaliesFoundError
        from pipeline.lock import HomeLockedError
        from pipeline.preflight import BadSpanError

        try:
            summary = local_runner.run(config, wait_for_lock=args.wait)
        except HomeLockedError as e:
            print(f"mtl run: {e}", file=sys.stderr)
            return 2
        except (AnomaliesFoundError, BadSpanError, FileNotFoundError) as e:
            # 4: the data was refused before training; nothing was pushed.
            print(f"mtl run: {e}", file=sys.stderr)
            return 4
        print(summary.format())
        # 0: the model was blessed; 3: the run completed but the gate refused the model.
        return 0 if summary.blessed else 3
    if args.command in ("metrics", "report"):
        from pipeline import monitoring

        return monitoring.main(args.command, args.root, getattr(args, "format", "table"),
                               check_alerts=getattr(args, "check", False),
                               out=getattr(args, "out", None),
                               thresholds=_parse_overrides(args.threshold, "--threshold"),
                               max_drops=_parse_overrides(args.max_drop, "--max-drop"))
    if args.command == "schedule":
        from pipeline import schedule

        run_args = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
        try:
            every = schedule.parse_interval(args.every)
            config = run_config(run_args)
        except ValueError as e:
            print(f"mtl schedule: {e}", file=sys.stderr)
            return 2
        records = schedule.run_schedule(config, every, args.max_runs, always=args.always)
        for record in records:
            print(json.dumps(record, sort_keys=True))
        return 0 if all(r["outcome"] != "failed" for r in records) else 3
    if args.command == "kfp":
        from pipeline import kfp_client

        return kfp_client.main(args)
    if args.command == "schema":
        from pipeline import schema as schema_lib

        try:
            written = schema_lib.freeze(args.root, args.out)
        except (FileNotFoundError, LookupError, KeyError) as e:
            print(f"mtl schema freeze: {e}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
