"""`mtl schedule`: retrain on a fixed interval, one run at a time per home, each outcome logged.

Every `every` seconds (measured start to start; a run longer than the interval is followed by
the next one at once) the loop takes the home's lock (`pipeline.runs.lock`), runs the whole pipeline
on the spans present under `<home>/data` and appends one JSON line to `<home>/schedule.jsonl`:

  {"run": 1, "started": "...Z", "finished": "...Z", "seconds": 61.2,
   "outcome": "pushed" | "refused" | "skipped_locked" | "skipped_no_new_span" | "failed",
   "newest_span": 3, "run_id": ..., "blessed": ..., "pushed_path": ..., "failures": [...],
   "error": ...}

"refused" means the run completed but the Evaluator did not bless the candidate (nothing was
pushed); "skipped_locked" means another process (a manual `mtl run`, a cron-started run) held
the home. A failed run is logged and the loop goes on: the next span may fix it.

Retraining is on NEW data: when the newest span is the one the last completed run (pushed or
refused) already saw, the run is skipped ("skipped_no_new_span"; `always=True` runs anyway).
Otherwise every component would come from the cache except the Evaluator, which would compare
the model with itself, bless it and push the same model again as a new version.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from pipeline.core.config import PipelineConfig
from pipeline.data.layout import existing_spans
from pipeline.runs.local import run_unlocked
from pipeline.runs.lock import HomeLockedError, home_lock

LOG_NAME = "schedule.jsonl"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """'24h', '30m', '1.5h', '10s', '2d' or plain seconds ('90') -> seconds (positive)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"interval {text!r}: expected a number with an optional unit s/m/h/d, "
                         f"e.g. 24h")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"interval {text!r} must be positive")
    return seconds


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def append_log(path: Path, record: dict) -> None:
    """Appends one JSON line with a single O_APPEND write, so concurrent writers never
    interleave within a line."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_log(home: str | os.PathLike) -> list[dict]:
    """The schedule log's records, oldest first ([] when there is none yet)."""
    path = Path(home) / LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _newest_span(config: PipelineConfig) -> int | None:
    spans = existing_spans(config.data_dir)
    return spans[-1] if spans else None


def last_completed_span(home: str | os.PathLike) -> int | None:
    """The newest span of the last logged run that completed (pushed or refused)."""
    for record in reversed(read_log(home)):
        if record.get("outcome") in ("pushed", "refused"):
            return record.get("newest_span")
    return None


def run_once(config: PipelineConfig, run_fn: Callable | None = None, number: int = 1,
             always: bool = False) -> dict:
    """One scheduled retraining under the home's lock; returns (and logs) its record.

    `run_fn(config)` runs the pipeline with the lock already held and returns a
    `summary.RunSummary` (default: `local_runner.run_unlocked`). Without `always`, the run is
    skipped when no span arrived since the last completed run.
    """
    if run_fn is None:
        run_fn = run_unlocked
    record: dict = {"run": number, "started": _now(), "home": str(config.home)}
    start = time.monotonic()
    newest = _newest_span(config)
    if not always and newest is not None and newest == last_completed_span(config.home):
        record.update(outcome="skipped_no_new_span",
                      error=f"span {newest} was already used by the last completed run")
        return _finish(config, record, start)
    try:
        with home_lock(config.home):
            summary = run_fn(config)
        record.update(
            outcome="pushed" if summary.pushed else "refused",
            run_id=summary.run_id,
            blessed=summary.blessed,
            pushed_path=summary.pushed_path,
            failures=list(summary.failures),
        )
    except HomeLockedError as e:
        record.update(outcome="skipped_locked", error=str(e))
    except Exception as e:  # noqa: BLE001 - a scheduled loop logs a failed run and goes on
        logging.exception("scheduled run %d failed", number)
        record.update(outcome="failed", error=f"{type(e).__name__}: {e}",
                      traceback=traceback.format_exc(limit=5))
    return _finish(config, record, start)


def _finish(config: PipelineConfig, record: dict, start: float) -> dict:
    record["newest_span"] = _newest_span(config)
    record["finished"] = _now()
    record["seconds"] = round(time.monotonic() - start, 3)
    config.home.mkdir(parents=True, exist_ok=True)
    append_log(config.home / LOG_NAME, record)
    logging.info("scheduled run %d: %s", record["run"], record["outcome"])
    return record


def run_schedule(
    config: PipelineConfig,
    every: float,
    max_runs: int | None = None,
    run_fn: Callable | None = None,
    sleep: Callable[[float], None] = time.sleep,
    always: bool = False,
) -> list[dict]:
    """Runs `run_once` every `every` seconds, `max_runs` times (None: forever); returns the
    records of this loop's runs."""
    if every <= 0:
        raise ValueError(f"every must be positive, got {every}")
    if max_runs is not None and max_runs < 1:
        raise ValueError(f"max_runs must be at least 1, got {max_runs}")
    records = []
    number = 0
    while max_runs is None or number < max_runs:
        number += 1
        started = time.monotonic()
        records.append(run_once(config, run_fn, number, always=always))
        if max_runs is not None and number >= max_runs:
            break
        sleep(max(0.0, every - (time.monotonic() - started)))
    return records
