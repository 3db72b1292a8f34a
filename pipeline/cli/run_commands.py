"""`mtl run` and `mtl schedule`."""

from __future__ import annotations

import argparse
import json
import sys

from models.spec import SpecError
from pipeline.cli.common import strip_dashes
from pipeline.cli.run_flags import add_run_flags, config_from_args, run_config
from pipeline.data.preflight import BadSpanError
from pipeline.runs import local as local_runner
from pipeline.runs import progress
from pipeline.runs import schedule as schedule_lib
from pipeline.runs.lock import HomeLockedError


def register(sub) -> None:
    run = sub.add_parser("run", help="run the whole pipeline locally (LocalDagRunner)")
    add_run_flags(run)
    run.set_defaults(handler=run_command)

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
    sched.set_defaults(handler=schedule_command)


def run_command(args: argparse.Namespace) -> int:
    """Exit codes: 0 blessed; 3 completed but not blessed; 4 the data was refused before
    training (nothing pushed); 2 bad usage, a spec that is invalid or does not match the data,
    or the home is in use; 1 the run stopped on another error. Whatever stops a run prints one
    message naming what went wrong; a traceback goes only to the run's log file."""
    try:
        config = config_from_args(args)
    except ValueError as e:
        print(f"mtl run: {e}", file=sys.stderr)
        return 2
    verbosity = 1 if args.verbose else -1 if args.quiet else 0
    log_path = progress.new_log_path(config.home)
    try:
        result = local_runner.run_watched(config, wait_for_lock=args.wait, verbosity=verbosity,
                                            force=args.force, log_path=log_path)
    except Exception as e:  # noqa: BLE001 - every error ends as a message and an exit code
        code = stopped_code(e)
        if code is None:
            print(f"mtl run: the run stopped: {one_line(e)} (the traceback is in {log_path})",
                  file=sys.stderr)
            return 1
        print(f"mtl run: {e}", file=sys.stderr)
        return code
    if verbosity >= 0:
        print()
    if result.unchanged:
        print(result.unchanged)
        print()
    print(result.summary.format())
    return 0 if result.summary.blessed else 3


def stopped_code(error: BaseException) -> int | None:
    """The exit code of an error that stops a run for a reason the user can act on: 2 the
    spec or the home (in use), 4 the data; None for any other error."""
    if isinstance(error, (HomeLockedError, SpecError)):
        return 2
    if isinstance(error, (BadSpanError, FileNotFoundError)):
        return 4
    # Not imported here: the gate's executor imports TFX and TensorFlow, whose import-time
    # log lines belong in the run's log file; a run whose gate ran has loaded it.
    gate = sys.modules.get("components.anomalies_gate.executor")
    return 4 if gate is not None and isinstance(error, gate.AnomaliesFoundError) else None


def one_line(error: BaseException) -> str:
    """`Type: the first line of the message` (a library's message may run to many lines)."""
    text = str(error).strip().splitlines()
    return type(error).__name__ + (f": {text[0]}" if text else "")


def schedule_command(args: argparse.Namespace) -> int:
    try:
        every = schedule_lib.parse_interval(args.every)
        config = run_config(strip_dashes(args.run_args))
    except ValueError as e:
        print(f"mtl schedule: {e}", file=sys.stderr)
        return 2
    records = schedule_lib.run_schedule(config, every, args.max_runs, always=args.always)
    for record in records:
        print(json.dumps(record, sort_keys=True))
    return 0 if all(r["outcome"] != "failed" for r in records) else 3
