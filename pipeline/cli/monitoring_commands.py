"""`mtl metrics` and `mtl report`."""

from __future__ import annotations

import argparse
import logging
import sys

from models.spec import default_spec
from pipeline.cli.common import add_home, parse_overrides
from pipeline.core.config import PipelineConfig
from pipeline.monitoring import alerts as alerts_lib
from pipeline.monitoring import formats, history, report


def register(sub) -> None:
    metrics = sub.add_parser("metrics", help="every task's metrics, one row per run and task")
    add_home(metrics)
    metrics.add_argument("--format", default="table", choices=tuple(formats.FORMATS))
    metrics.add_argument("--check", action="store_true",
                         help="exit 1 and name the task when the latest run's metric is past its "
                              "threshold or worse than the previous run by more than --max-drop")
    metrics.set_defaults(handler=metrics_command)
    rep = sub.add_parser("report", help="write a self-contained HTML report with charts")
    add_home(rep)
    rep.add_argument("--out", default="report.html", help="HTML file (default report.html)")
    rep.set_defaults(handler=report_command)
    for p in (metrics, rep):
        p.add_argument("--threshold", action="append", default=[], metavar="TASK=VALUE",
                       help="check against this bound instead of the one the run gated with")
        p.add_argument("--max-drop", action="append", default=[], metavar="TASK=VALUE",
                       help="largest tolerated degradation vs. the previous run, in the "
                            "metric's units (default: the task's max_change)")


def _rows(args: argparse.Namespace, prog: str):
    """(rows, thresholds, max_drops, config), or an exit code for bad usage.

    Listing a home without runs is not an error: the message goes to stderr and the rows are
    empty, so a scraper sees "no data" rather than a failure.
    """
    # Reading metadata imports TFMA and Beam, whose INFO chatter would bury the answer.
    logging.getLogger().setLevel(logging.WARNING)
    thresholds = parse_overrides(args.threshold, "--threshold")
    max_drops = parse_overrides(args.max_drop, "--max-drop")
    config = PipelineConfig(root=args.root)
    if not config.home.is_dir():
        print(f"{prog}: no home folder at {config.home}", file=sys.stderr)
        return 2
    try:
        rows = history.collect(config)
    except history.NoRunsError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        rows = []
    # The tasks are those of the specs the home's runs recorded (the default problem's before
    # any run).
    known = {r.task.name for r in rows} or {t.name for t in default_spec().tasks}
    for flag, overrides in (("--threshold", thresholds), ("--max-drop", max_drops)):
        unknown = sorted(set(overrides) - known)
        if unknown:
            print(f"{prog}: {flag}: unknown task {unknown[0]!r}; the runs of {config.home} "
                  f"trained {sorted(known)}", file=sys.stderr)
            return 2
    return rows, thresholds, max_drops, config


def metrics_command(args: argparse.Namespace) -> int:
    """Exit codes: 0 fine; 1 `--check` raised an alert, or there is no run to check; 2 bad
    usage (no such home folder, unknown task)."""
    prog = "mtl metrics"
    got = _rows(args, prog)
    if isinstance(got, int):
        return got
    rows, thresholds, max_drops, _ = got
    text = formats.render(rows, args.format)
    if text:
        print(text, end="" if text.endswith("\n") else "\n")
    if not args.check:
        return 0
    if not rows:
        print(f"{prog} --check: no run to check", file=sys.stderr)
        return 1
    alerts = alerts_lib.check(rows, max_drops, thresholds)
    for alert in alerts:
        print(alert, file=sys.stderr)
    if not alerts:
        print(f"{prog} --check: ok: every task of run {rows[-1].run_id} is within its threshold "
              "and its allowed drop", file=sys.stderr)
    return 1 if alerts else 0


def report_command(args: argparse.Namespace) -> int:
    """Exit codes: 0 written; 1 nothing to report (no run yet); 2 bad usage."""
    prog = "mtl report"
    got = _rows(args, prog)
    if isinstance(got, int):
        return got
    rows, thresholds, max_drops, config = got
    if not rows:
        print(f"{prog}: nothing to report; no file written", file=sys.stderr)
        return 1
    alerts = alerts_lib.check(rows, max_drops, thresholds)
    path = report.write_report(rows, alerts, str(config.home), args.out)
    runs = len({r.run_id for r in rows})
    print(f"wrote {path} ({runs} runs, {len(alerts)} alerts)")
    return 0
