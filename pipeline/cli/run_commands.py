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
    or the home is in use."""
    try:
        config = config_from_args(args)
    except ValueError as e:
        print(f"mtl run: {e}", file=sys.stderr)
        return 2
    verbosity = 1 if args.verbose else -1 if args.quiet else 0
    try:
        result = local_runner.run_watched(config, wait_for_lock=args.wait, verbosity=verbosity,
                                            force=args.force)
    except (HomeLockedError, SpecError) as e:
        print(f"mtl run: {e}", file=sys.stderr)
        return 2
    except (BadSpanError, FileNotFoundError) as e:
        print(f"mtl run: {e}", file=sys.stderr)
        return 4
    except Exception as e:
        # Imported here, not first: the gate's executor imports TFX and TensorFlow, whose
        # import-time log lines belong in the run's log file, which the run opens.
        from components.anomalies_gate.executor import AnomaliesFoundError

        if not isinstance(e, AnomaliesFoundError):
            raise
        print(f"mtl run: {e}", file=sys.stderr)
        return 4
    if verbosity >= 0:
        print()
    if result.unchanged:
        print(result.unchanged)
        print()
    print(result.summary.format())
    return 0 if result.summary.blessed else 3


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
