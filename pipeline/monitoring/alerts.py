"""Alerts on the latest run: a task whose gating metric is on the wrong side of its bound (AUC
below, RMSE above), or that got worse than the previous run by more than an allowed drop (by
default the task's `max_change`, the gate's own tolerance)."""

from __future__ import annotations

import dataclasses

from models.spec import Task
from pipeline.monitoring.history import TaskRow


@dataclasses.dataclass
class Alert:
    task: str
    run_id: str
    message: str

    def __str__(self) -> str:
        return f"ALERT task {self.task!r} (run {self.run_id}): {self.message}"


def worse_by(task: Task, previous: float, current: float) -> float:
    """How much worse `current` is than `previous` in the metric's units (negative: better)."""
    return previous - current if task.higher_is_better else current - previous


def check(rows: list[TaskRow], max_drops: dict[str, float] | None = None,
          thresholds: dict[str, float] | None = None) -> list[Alert]:
    """Alerts for the latest run: a gate metric past its bound or worse than the previous run.

    `thresholds` overrides the bound recorded for the run ({task: value}); `max_drops` the
    largest tolerated degradation against the previous run that evaluated the task (default:
    the task's `max_change`). A latest run without metrics (its Evaluator did not run) alerts
    too: nothing vouches for the model's quality.
    """
    max_drops = max_drops or {}
    thresholds = thresholds or {}
    if not rows:
        return []
    latest_run = rows[-1].run_id
    alerts: list[Alert] = []
    for row in (r for r in rows if r.run_id == latest_run):
        task = row.task
        if row.value is None:
            alerts.append(Alert(task.name, latest_run,
                                f"no {task.metric} in the latest run (its Evaluator did not run)"))
            continue
        bound = thresholds.get(task.name, row.threshold)
        if task.higher_is_better and row.value < bound:
            alerts.append(Alert(task.name, latest_run,
                                f"{task.metric} {row.value:.4f} below its threshold {bound:g}"))
        elif not task.higher_is_better and row.value > bound:
            alerts.append(Alert(task.name, latest_run,
                                f"{task.metric} {row.value:.4f} above its threshold {bound:g}"))
        previous = [r for r in rows if r.task.name == task.name and r.run_id != latest_run
                    and r.value is not None]
        if previous:
            prev = previous[-1]
            allowed = max_drops.get(task.name, task.max_change)
            drop = worse_by(task, prev.value, row.value)
            if drop > allowed:
                direction = "dropped" if task.higher_is_better else "rose"
                alerts.append(Alert(
                    task.name, latest_run,
                    f"{task.metric} {direction} from {prev.value:.4f} (run {prev.run_id}) to "
                    f"{row.value:.4f}: worse by {drop:.4f}, more than the allowed {allowed:g}"))
    return alerts


