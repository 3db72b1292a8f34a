"""The `mtl` console script: the only module that reads flags or the environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys

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
    run.add_argument("--beam-arg", action="append", default=None, metavar="FLAG",
                     help="a Beam pipeline flag (repeatable); replaces the DirectRunner default")

    gen = sub.add_parser("generate-data", help="write the embedded synthetic dataset")
    gen.add_argument("--out", required=True, help="data folder (spans go to <out>/span-<N>/)")
    gen.add_argument("--examples", type=int, default=100_000, help="examples per span")
    gen.add_argument("--spans", type=int, default=1, help="number of spans to write")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--append-span", action="store_true",
                     help="write the next span(s) after the highest existing one")
    return parser


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
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "generate-data":
        from pipeline import data

        try:
            written = data.generate(args.out, args.examples, args.spans, args.seed,
                                    append=args.append_span)
        except (FileExistsError, ValueError) as e:
            print(f"mtl generate-data: {e}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
        return 0
    if args.command == "run":
        from pipeline import local_runner

        try:
            config = config_from_args(args)
        except ValueError as e:
            print(f"mtl run: {e}", file=sys.stderr)
            return 2
        from pipeline.lock import HomeLockedError

        try:
            summary = local_runner.run(config, wait_for_lock=args.wait)
        except HomeLockedError as e:
            print(f"mtl run: {e}", file=sys.stderr)
            return 2
        print(summary.format())
        # 0: the model was blessed; 3: the run completed but the gate refused the model.
        return 0 if summary.blessed else 3
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
