"""The flags of `mtl run`, and the one place a `PipelineConfig` is built from flags.

`mtl schedule`, `mtl kfp ...` and the TFX CLI pipeline file (`MTL_RUN_ARGS`) take the same
flags, so they all build their configuration here.
"""

from __future__ import annotations

import argparse
import os
import shlex

from models.hparams import (
    MODEL_NAMES,
    TASK_SAMPLING,
    WEIGHTING_NAMES,
    ModelHParams,
    parse_epochs,
)
from models.spec import ProblemSpec, default_spec, resolve_spec, task_by_name
from pipeline.cli.common import add_home, parse_overrides
from pipeline.core.config import (
    AUTO_BEAM_PROCESSES_MIN_EXAMPLES,
    DEFAULT_BEAM_ARGS,
    DEFAULT_MIN_SPAN_EXAMPLES,
    DEFAULT_TUNE_MINUTES,
    DEFAULT_TUNE_TRIALS,
    PipelineConfig,
)


def add_run_flags(run: argparse.ArgumentParser) -> None:
    add_home(run)
    run.add_argument("--spec", default=None, metavar="FILE",
                     help="the problem spec (YAML or JSON: features, tasks, gates), or the name "
                          "of a problem shipped with the package (recommendation, text); "
                          "default: the embedded recommendation problem")
    run.add_argument("--data", default=None, metavar="DIR",
                     help="the folder holding the span-<N>/ folders (default HOME/data, where "
                          "the default problem's embedded data is generated when empty)")
    run.add_argument("--examples", type=int, default=None,
                     help="examples to generate when the data folder is empty (default: the "
                          "problem's, 100000 for recommendation, 20000 for text)")
    run.add_argument("--seed", type=int, default=42, help="data and training seed (default 42)")
    # Model flags default to None: the spec's `model.hparams`, then ModelHParams' defaults.
    run.add_argument("--model", default=None, choices=MODEL_NAMES,
                     help=f"architecture (default: the spec's, else {ModelHParams.model})")
    run.add_argument("--weighting", default=None, choices=WEIGHTING_NAMES,
                     help=f"loss weighting (default: the spec's, else {ModelHParams.weighting})")
    run.add_argument("--task-sampling", default=None, choices=TASK_SAMPLING,
                     help="how batches mix the tasks: natural (as the data comes; default), "
                          "proportional (per-task sampling by size, see --task-temperature) "
                          "or uniform")
    run.add_argument("--task-temperature", type=float, default=None,
                     help="proportional sampling: task t drawn with probability ~ "
                          "n_t ** (1 / T) (default 1)")
    run.add_argument("--jit-compile", action="store_true", default=None,
                     help="compile the train step with XLA")
    run.add_argument("--epochs", type=epochs_flag, default=None, metavar="N|auto",
                     help="auto: train until the loss on a validation slice of the train split "
                          "stops improving and keep the best epoch; N: exactly N passes over "
                          f"the whole train split (default: the spec's, else "
                          f"{ModelHParams.epochs})")
    run.add_argument("--steps-per-epoch", type=int, default=None,
                     help="cap each epoch at this many batches (smoke runs)")
    run.add_argument("--batch-size", type=int, default=None,
                     help=f"default: the spec's, else {ModelHParams.batch_size}")
    run.add_argument("--learning-rate", type=float, default=None,
                     help=f"default: the spec's, else {ModelHParams.learning_rate}")
    run.add_argument("--tune", type=int, nargs="?", const=DEFAULT_TUNE_TRIALS, default=None,
                     metavar="TRIALS",
                     help="search the learning rates, widths, embedding sizes, dropout / L2 "
                          "and task loss weights with TFX's Tuner before training (default "
                          f"{DEFAULT_TUNE_TRIALS} trials), scored on a validation slice of "
                          "the train split; later runs of the same spec and flags reuse the "
                          "result (docs/guides/tuning.md)")
    run.add_argument("--tune-minutes", type=float, default=DEFAULT_TUNE_MINUTES, metavar="M",
                     help="with --tune: start no trial after M minutes of search (default "
                          f"{DEFAULT_TUNE_MINUTES:g})")
    run.add_argument("--no-cache", action="store_true", help="disable ML Metadata caching")
    run.add_argument("--force", action="store_true",
                     help="run even when the spans, configuration and code are those of the "
                          "last completed run (by default such a run launches nothing and "
                          "says so; the components' cache still applies)")
    run.add_argument("--wait", action="store_true",
                     help="wait for another run on the same home to finish instead of exiting")
    run.add_argument("--threshold", action="append", default=[], metavar="TASK=VALUE",
                     help="override a task's absolute bound (AUC lower / RMSE upper)")
    run.add_argument("--naive", action="append", default=[], metavar="TASK=VALUE",
                     help="override a task's naive-baseline bound: the largest RMSE / mean "
                          "predictor's RMSE of a regression task (default 0.95), the smallest "
                          "margin of AUC over 0.5 or of accuracy over the majority share "
                          "(default 0.01)")
    run.add_argument("--allow-anomalies", action="store_true",
                     help="go on (with warnings) when the data fails validation against the "
                          "curated schema: for people who know what they are doing")
    run.add_argument("--min-span-examples", type=int, default=DEFAULT_MIN_SPAN_EXAMPLES,
                     metavar="N",
                     help="refuse a span with fewer examples than N before validating its "
                          f"distributions or training (default {DEFAULT_MIN_SPAN_EXAMPLES}; "
                          "0: no minimum)")
    schema = run.add_mutually_exclusive_group()
    schema.add_argument("--schema", default=None,
                        help="curated schema file (default: the home's own, written by "
                             "`mtl schema freeze`, else the one shipped with the package)")
    schema.add_argument("--infer-schema", action="store_true",
                        help="validate against a schema SchemaGen infers from the span itself "
                             "instead of a curated one (weaker: bad data shapes its own schema)")
    run.add_argument("--beam-arg", action="append", default=None, metavar="FLAG",
                     help="a Beam pipeline flag (repeatable); replaces the DirectRunner default")
    run.add_argument("--beam-workers", default=None, metavar="pool:HOST:PORT",
                     help="run the Beam stages on Beam's portability framework: the embedded "
                          "job service, SDK workers started by the worker pool at HOST:PORT "
                          "(python -m apache_beam.runners.worker.worker_pool_main "
                          "--service_port=PORT); --beam-arg flags are added")
    run.add_argument("--beam-processes", type=beam_processes, default="auto", metavar="N|auto",
                     help="worker processes of the local Beam runner for ExampleGen, "
                          "StatisticsGen, Transform and Evaluator (default auto: one per core "
                          f"from {AUTO_BEAM_PROCESSES_MIN_EXAMPLES:,} examples in the newest "
                          "span, else 1; ignored with --beam-arg or --beam-workers)")
    run.add_argument("--train-spans", type=int, default=1, metavar="K",
                     help="train on the latest K spans (rolling window); evaluate on the newest")
    run.add_argument("--with-task", action="append", default=[], metavar="TASK",
                     help="also train this optional task of the spec (repeatable); the "
                          "default problem's: " + ", ".join(
                              f"{t.name} ({t.kind}, {t.num_classes} classes)"
                              for t in default_spec().optional_tasks)
                          + " (its generated data then carries the label)")
    noise = run.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true",
                       help="stream the full logs (absl, Beam, TensorFlow) to the terminal too")
    noise.add_argument("-q", "--quiet", action="store_true",
                       help="print only the summary (the logs still go to HOME/logs/)")
    run.add_argument("--strategy", default="default",
                     choices=("default", "mirrored", "multi_worker_mirrored"),
                     help="Trainer's tf.distribute strategy")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="with --strategy multi_worker_mirrored: train in N local worker "
                          "processes (chief + N-1 workers on 127.0.0.1); in a cluster that "
                          "sets TF_CONFIG the cluster's workers are used instead")


def epochs_flag(value: str) -> int | str:
    """`--epochs`: "auto" or a whole number >= 1."""
    try:
        return parse_epochs(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def beam_processes(value: str) -> int | str:
    """`--beam-processes`: "auto" or a positive number."""
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number >= 1, got {value!r}")
    return int(value)


def portable_beam_args(spec: str) -> tuple[str, ...]:
    """The Beam flags of `--beam-workers pool:HOST:PORT`: Beam's portable runner with its
    embedded job service, whose SDK workers the external worker pool at HOST:PORT starts
    (the pool runs them with the `python` first on its PATH). The embedded job service asks
    for one SDK worker per Beam job; parallelism on a cluster is the runner's own flag."""
    kind, _, rest = spec.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "pool" or not host or not port.isdigit():
        raise ValueError(f"--beam-workers {spec!r}: expected pool:HOST:PORT")
    return ("--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
            f"--environment_config={host}:{port}")


def beam_args(beam_workers: str | None, beam_arg: list[str] | None) -> tuple[str, ...]:
    """`beam_pipeline_args` from --beam-workers and --beam-arg (the FnApiRunner default when
    neither is given)."""
    if beam_workers:
        return portable_beam_args(beam_workers) + tuple(beam_arg or ())
    return tuple(beam_arg) if beam_arg else DEFAULT_BEAM_ARGS


def spec_from_args(args: argparse.Namespace) -> ProblemSpec:
    """The problem of `--spec FILE` (a `SpecError`, a ValueError, names the file and field),
    or the default problem."""
    return resolve_spec(args.spec) if args.spec else default_spec()


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The `PipelineConfig` of parsed `mtl run` flags (ValueError on an invalid combination)."""
    spec = spec_from_args(args)
    flags = {"model": args.model, "weighting": args.weighting, "jit_compile": args.jit_compile,
             "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch,
             "batch_size": args.batch_size, "learning_rate": args.learning_rate,
             "task_sampling": args.task_sampling, "task_temperature": args.task_temperature}
    hparams = ModelHParams.from_dict(
        dict(spec.hparams) | {k: v for k, v in flags.items() if v is not None}
        | {"seed": args.seed})
    return PipelineConfig(
        root=args.root,
        spec=spec,
        data_root=args.data,
        examples=args.examples,
        seed=args.seed,
        hparams=hparams,
        thresholds=parse_overrides(args.threshold, "--threshold"),
        gates=naive_gates(parse_overrides(args.naive, "--naive"), spec),
        beam_pipeline_args=beam_args(args.beam_workers, args.beam_arg),
        beam_processes=args.beam_processes,
        enable_cache=not args.no_cache,
        train_spans=args.train_spans,
        distribution_strategy=args.strategy,
        local_workers=args.workers,
        schema_path=args.schema,
        infer_schema=args.infer_schema,
        allow_anomalies=args.allow_anomalies,
        min_span_examples=args.min_span_examples,
        extra_tasks=tuple(dict.fromkeys(args.with_task)),
        tune_trials=args.tune,
        tune_minutes=args.tune_minutes,
    )


def naive_gates(bounds: dict[str, float], spec: ProblemSpec | None = None) -> dict[str, dict]:
    """`--naive TASK=VALUE` pairs as `PipelineConfig.gates` overrides: `naive_ratio` for a
    regression task, `naive_margin` for the others (see pipeline.evaluation.gates)."""
    spec = spec or default_spec()
    gates = {}
    for name, value in bounds.items():
        try:
            task = task_by_name(name, spec.tasks)
        except KeyError as e:
            raise SystemExit(f"mtl: --naive {name}={value:g}: {e.args[0]}") from None
        field = "naive_ratio" if task.kind == "regression" else "naive_margin"
        gates[name] = {field: value}
    return gates


def run_config(run_args: list[str], prog: str = "mtl run") -> PipelineConfig:
    """The `PipelineConfig` that `mtl run RUN_ARGS` would use."""
    parser = argparse.ArgumentParser(prog=prog)
    add_run_flags(parser)
    return config_from_args(parser.parse_args(run_args))


def config_from_environment(environ=None) -> PipelineConfig:
    """The config of the TFX CLI pipeline file (pipeline/cli/tfx_pipeline.py): `$MTL_RUN_ARGS`
    holds `mtl run` flags (e.g. "--examples 5000 --epochs 3 --train-spans 3"), `$MTL_HOME` the
    home."""
    environ = os.environ if environ is None else environ
    run_args = shlex.split(environ.get("MTL_RUN_ARGS", ""))
    if "MTL_HOME" in environ and "--root" not in run_args:
        run_args = ["--root", environ["MTL_HOME"], *run_args]
    return run_config(run_args, prog="MTL_RUN_ARGS")
