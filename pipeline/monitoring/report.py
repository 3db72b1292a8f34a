"""A self-contained HTML report of every task's quality across runs.

Charts are matplotlib PNGs embedded as base64 `data:` URIs and the CSS is inline, so the file
opens offline, attaches to an e-mail and needs no JavaScript. Per task: the gating metric's
trend across runs with the bound the Evaluator used drawn in (and the baseline it was compared
with, the naive predictor's value on the same observed labels and the naive-baseline bound),
the latest run's metric per slice of the problem's slice features, and the Trainer's
per-epoch curves (loss, the task's metric, its loss weight) read from `history.json` in the
run's ModelRun folder. One chart shows label coverage (observed labels / rows) per task and
run, and a table lists every row of `mtl metrics`. Alerts from `monitoring.check` head the page.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
from collections.abc import Sequence

from pipeline.monitoring.alerts import Alert
from pipeline.monitoring.formats import format_table
from pipeline.monitoring.history import METRIC_NAMES, TaskRow, read_history

COVERAGE_RUNS = 6
_GOOD, _BAD, _BASE, _BOUND = "#1b7f3b", "#c0392b", "#7f8c8d", "#d35400"
_NAIVE = "#8e44ad"


def _figure(width: float = 6.0, height: float = 3.2, columns: int = 1):
    """A new matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    return plt.subplots(1, columns, figsize=(width, height), dpi=96)


def _png(fig) -> str:
    from matplotlib import pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(png_b64: str, chart_id: str, alt: str) -> str:
    return (f'<img class="chart" id="{html.escape(chart_id)}" alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{png_b64}">')


def _run_label(row: TaskRow) -> str:
    spans = ",".join(str(s) for s in row.spans) or "?"
    return f"{row.run_time:%m-%d %H:%M}\nspan {spans}"


def trend_chart(task_rows: Sequence[TaskRow]) -> str:
    """The gating metric across runs (candidate, baseline), the gate bound drawn in, and the
    naive predictor's value on the same observed labels with the bound the naive gate set."""
    task = task_rows[0].task
    metric = METRIC_NAMES[task.metric].upper()
    fig, ax = _figure()
    xs = list(range(len(task_rows)))
    values = [r.value for r in task_rows]
    pts = [(x, v) for x, v in zip(xs, values) if v is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color="#34495e", zorder=1)
        for x, v in pts:
            blessed = task_rows[x].blessed
            ax.scatter([x], [v], s=60, zorder=3,
                       color=_GOOD if blessed else _BAD, edgecolor="black")
    base = [(x, r.baseline_value) for x, r in zip(xs, task_rows) if r.baseline_value is not None]
    if base:
        ax.scatter([b[0] for b in base], [b[1] for b in base], marker="_", s=300, color=_BASE,
                   zorder=2, label="baseline (last blessed)")
    ax.step([x - 0.5 for x in xs] + [xs[-1] + 0.5],
            [r.threshold for r in task_rows] + [task_rows[-1].threshold],
            where="post", linestyle="--", color=_BOUND,
            label=f"threshold ({'min' if task.higher_is_better else 'max'})")
    naive = [(x, r.naive, r.naive_bound) for x, r in zip(xs, task_rows) if r.naive is not None]
    if naive:
        predictor = task_rows[0].gate.naive_predictor
        ax.plot([n[0] for n in naive], [n[1] for n in naive], ":", marker="x", color=_NAIVE,
                label=f"naive ({predictor})")
        ax.plot([n[0] for n in naive], [n[2] for n in naive], "-.", color=_NAIVE, alpha=0.7,
                label="naive-baseline bound")
    ax.scatter([], [], color=_GOOD, edgecolor="black", label="blessed")
    ax.scatter([], [], color=_BAD, edgecolor="black", label="not blessed")
    every = max(1, math.ceil(len(xs) / 12))  # at most ~12 labels on a home with many runs
    ax.set_xticks(xs[::every], [_run_label(r) for r in task_rows][::every], fontsize=7)
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_ylabel(metric)
    ax.set_title(f"{task.name}: {metric} per run ({'higher' if task.higher_is_better else 'lower'}"
                 " is better)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def slice_chart(row: TaskRow) -> str | None:
    """The latest run's gating metric per slice, with the overall value and bound."""
    slices = sorted((name, values[row.metric]) for name, values in row.by_slice.items()
                    if row.metric in values)
    if not slices:
        return None
    metric = METRIC_NAMES[row.metric].upper()
    fig, ax = _figure(5.0, 3.0)
    names = [name.split("=", 1)[-1] for name, _ in slices]
    ax.bar(names, [v for _, v in slices], color="#2e86c1")
    if row.value is not None:
        ax.axhline(row.value, color="#34495e", linewidth=1, label="overall")
    ax.axhline(row.threshold, color=_BOUND, linestyle="--", label="threshold")
    if row.task.higher_is_better:
        low = min([v for _, v in slices] + [row.threshold])
        ax.set_ylim(max(0.0, low - 0.05), None)
    ax.set_ylabel(metric)
    ax.set_title(f"{row.task.name}: {metric} by slice (run {row.run_id})", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def curves_chart(row: TaskRow, history: dict[str, list[float]]) -> str | None:
    """The Trainer's per-epoch loss and metric for one task, training and validation."""
    name = row.task.name
    keys = [k for k in (f"{name}_loss", f"val_{name}_loss") if k in history]
    metric_keys = [k for k in history
                   if k.removeprefix("val_").startswith(f"{name}_")
                   and k.removeprefix("val_") not in (f"{name}_loss", f"{name}_loss_weight")]
    weight_key = f"{name}_loss_weight"
    if not keys:
        return None
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_metric) = _figure(7.5, 3.0, columns=2)
    for key in keys:
        epochs = list(range(1, len(history[key]) + 1))
        ax_loss.plot(epochs, history[key], "o-", label=key)
    if weight_key in history:
        ax_loss.plot(range(1, len(history[weight_key]) + 1), history[weight_key], "s:",
                     color="#7f8c8d", label=f"{weight_key}")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title(f"{name}: loss by epoch (run {row.run_id})", fontsize=9)
    ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    for key in sorted(metric_keys):
        ax_metric.plot(range(1, len(history[key]) + 1), history[key], "o-", label=key)
    ax_metric.set_xlabel("epoch")
    epochs = max(len(v) for v in history.values())
    for ax in (ax_loss, ax_metric):
        if epochs <= 20:
            ax.set_xticks(range(1, epochs + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, epochs + 0.5)
    ax_metric.set_title(f"{name}: training metrics", fontsize=9)
    if metric_keys:
        ax_metric.legend(fontsize=7)
    ax_metric.grid(alpha=0.3)
    return _png(fig)


def coverage_chart(rows: Sequence[TaskRow]) -> str | None:
    """Fraction of evaluated rows with an observed label, per task, one bar per run (the
    last `COVERAGE_RUNS` runs)."""
    tasks = list(dict.fromkeys(r.task.name for r in rows))
    runs = list(dict.fromkeys(r.run_id for r in rows))[-COVERAGE_RUNS:]
    rows = [r for r in rows if r.run_id in runs]
    cov = {(r.task.name, r.run_id): r.coverage for r in rows}
    if all(v is None for v in cov.values()):
        return None
    fig, ax = _figure(7.0, 3.0)
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        xs = [t + i * width - 0.4 + width / 2 for t in range(len(tasks))]
        spans = ",".join(str(s) for s in next(r.spans for r in rows if r.run_id == run))
        ax.bar(xs, [cov.get((task, run)) or 0.0 for task in tasks], width,
               label=f"{run[:16]} (span {spans or '?'})")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("observed / rows")
    ax.set_title("Label coverage per task (eval split)", fontsize=10)
    ax.legend(fontsize=6, ncol=min(len(runs), 3), loc="upper right")
    return _png(fig)


_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
.alerts { background: #fdecea; border: 1px solid #c0392b; padding: 0.5em 1em; }
.ok { background: #eafaf1; border: 1px solid #1b7f3b; padding: 0.5em 1em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
img.chart { border: 1px solid #ddd; }
pre { font-size: 0.75em; overflow-x: auto; background: #f7f7f7; padding: 0.5em; }
.muted { color: #777; }
"""


def render_html(rows: Sequence[TaskRow], alerts: Sequence[Alert], home: str) -> str:
    """The report's HTML for `rows` (oldest run first) and the latest run's `alerts`."""
    if not rows:
        raise ValueError("no rows to report")
    runs = list(dict.fromkeys(r.run_id for r in rows))
    tasks = list(dict.fromkeys(r.task.name for r in rows))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>Multi-task model monitoring</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>Multi-task model monitoring</h1>",
        f'<p class="muted">Home {html.escape(home)}: {len(runs)} run(s), tasks '
        f"{html.escape(', '.join(tasks))}; latest run {html.escape(runs[-1])}.</p>",
    ]
    if alerts:
        parts.append('<div class="alerts" id="alerts"><b>Alerts (latest run)</b><ul>')
        parts += [f"<li>{html.escape(str(a))}</li>" for a in alerts]
        parts.append("</ul></div>")
    else:
        parts.append('<div class="ok" id="alerts">No alert: every task of the latest run is '
                     "within its threshold and its allowed drop.</div>")
    for task in tasks:
        task_rows = [r for r in rows if r.task.name == task]
        latest = task_rows[-1]
        parts.append(f'<h2 id="task-{html.escape(task)}">Task {html.escape(task)}</h2>')
        parts.append('<div class="charts">')
        if any(r.value is not None for r in task_rows):
            parts.append(_img(trend_chart(task_rows), f"trend-{task}",
                              f"{task} {METRIC_NAMES[latest.metric]} trend across runs"))
        else:
            parts.append('<p class="muted">No evaluation recorded for this task.</p>')
        evaluated = [r for r in task_rows if r.by_slice]
        if evaluated:
            png = slice_chart(evaluated[-1])
            if png:
                parts.append(_img(png, f"slices-{task}", f"{task} metric by slice"))
        trained = [r for r in task_rows if r.model_run_uri]
        if trained:
            png = curves_chart(trained[-1], read_history(trained[-1].model_run_uri))
            if png:
                parts.append(_img(png, f"curves-{task}", f"{task} training curves"))
        parts.append("</div>")
    coverage = coverage_chart(rows)
    if coverage:
        parts.append('<h2 id="coverage">Label coverage</h2>')
        parts.append(_img(coverage, "coverage-chart", "label coverage per task and run"))
    parts.append('<h2 id="table">Every run and task</h2>')
    parts.append(f"<pre>{html.escape(format_table(list(rows)))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(rows: Sequence[TaskRow], alerts: Sequence[Alert], home: str, out: str) -> str:
    """Writes the report to `out` atomically (temporary file in the same folder, then rename)."""
    text = render_html(rows, alerts, home)
    out = os.path.abspath(out)
    folder = os.path.dirname(out)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out
