"""Hand-built `mtl metrics` rows for the monitoring tests."""

from __future__ import annotations

import datetime as dt

from pipeline.monitoring.history import TaskRow
from tests.support.default_problem import task_by_name


def make_row(run: int, task: str, value: float, *, examples=400.0, observed=100.0, baseline=None,
         threshold=None, blessed=True, version=None, slices=None) -> TaskRow:
    t = task_by_name(task)
    candidate = {t.metric: value, "example_count": examples, "weighted_example_count": observed}
    if t.kind == "regression":
        candidate["mean_absolute_error"] = value / 2
    return TaskRow(
        run_id=f"2026-11-0{run}T00:00:00",
        run_time=dt.datetime(2026, 11, run, 12, 0, tzinfo=dt.timezone.utc),
        spans=(run,),
        task=t,
        candidate=candidate,
        baseline={t.metric: baseline} if baseline is not None else {},
        by_slice=slices or {},
        threshold=t.threshold if threshold is None else threshold,
        blessed=blessed,
        pushed_version=version,
        model_run_uri=None,
    )


def two_runs():
    """click and watch_time over two runs, the second compared with the first."""
    return [
        make_row(1, "click", 0.70, observed=400.0, version="1700000001"),
        make_row(1, "watch_time", 40.0, version="1700000001"),
        make_row(2, "click", 0.71, observed=400.0, baseline=0.70, version="1700000002"),
        make_row(2, "watch_time", 41.0, baseline=40.0, version="1700000002"),
    ]
