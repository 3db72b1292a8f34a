"""Rolling-window benchmark: what a daily run costs as the window grows, full and incremental.

For each training mode, a fresh home receives span 1, then one more span before each
following run (a run per appended span, `--train-spans K_MAX`, so run k trains on a window of
k spans); each run's per-component wall seconds (ML Metadata), pipeline seconds (their sum),
peak memory of the run's process tree and the Evaluator's gate metric of every task on the
newest span's eval split are recorded. Both modes read the same spans and are gated alike, so
the per-run metrics compare incremental against full retraining day by day (mean ± std over
the days with a window of more than one span). Optionally one window of 3 spans of 1,000,000
examples (`--large-examples`), for the memory at that size.

    python -m benchmarks.window                                   # K = 1..10, 100,000 per span
    python -m benchmarks.window --max-spans 4 --examples 50000 --large-examples 0

Prints one JSON line: {"modes": {mode: {"runs": [...], "ratios": {...}}}, "quality": {...}}.
Ratios compare each run with the same mode's K = 1 run, measured side by side in the same benchmark run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks import common

COMPONENTS = ("ImportExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator",
              "Pusher")


def span_metrics(home: Path) -> tuple[dict[str, float], bool | None]:
    """{task: gate metric on the newest span} of the newest run, and whether it was blessed."""
    from pipeline.core.config import PipelineConfig
    from pipeline.monitoring.summary import summarize_latest_run

    summary = summarize_latest_run(PipelineConfig(root=str(home)))
    return ({tm.task.name: round(tm.gate_value, 4) for tm in summary.tasks
             if tm.gate_value is not None}, summary.blessed)


def link_span(data_dir: Path, home: Path, span: int) -> None:
    """Appends span `span` of the shared data to the home's data folder (hard links)."""
    target = home / "data" / f"span-{span}"
    target.mkdir(parents=True)
    for f in (data_dir / f"span-{span}").iterdir():
        os.link(f, target / f.name)


def bench_mode(workdir: Path, data_dir: Path, mode: str, spans: int, examples: int,
               extra: list[str], train_spans: int | None = None) -> dict:
    home = workdir / f"home_{mode}_{examples}"
    home.mkdir(parents=True)
    runs = []
    for k in range(1, spans + 1):
        link_span(data_dir, home, k)
        window = ["--train-spans", str(max(spans, 2)), "--train-mode", mode] \
            if train_spans is None \
            else ["--train-spans", str(train_spans)]
        cmd = common.mtl_run_cmd(home, examples, [*window, *extra])
        log = workdir / f"{mode}_{examples}_{k}.log"
        run = common.run_tree(cmd, log)
        if run["returncode"] not in (0, 3):
            raise RuntimeError(f"mtl run failed ({run['returncode']}); see {log}")
        components = common.component_seconds(home)
        metrics, blessed = span_metrics(home)
        runs.append({
            "spans": k,
            "pipeline_seconds": round(sum(components.values()), 2),
            "process_seconds": round(run["seconds"], 2),
            "cpu_seconds": round(run["cpu_seconds"], 1),
            "components": {c: components.get(c, 0.0) for c in COMPONENTS},
            "peak_tree_gib": round(run["peak_tree_gib"], 3),
            "peak_tree_pss_gib": round(run["peak_tree_pss_gib"], 3),
            "metrics": metrics,
            "mode": mode,
            "blessed": blessed,
        })
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    first = runs[0]
    ratios = {f"K{r['spans']}": {
        "pipeline": round(r["pipeline_seconds"] / first["pipeline_seconds"], 3),
        "Transform": round(r["components"]["Transform"] / first["components"]["Transform"], 3),
        "Trainer": round(r["components"]["Trainer"] / first["components"]["Trainer"], 3),
    } for r in runs}
    return {"runs": runs, "ratios": ratios,
            "peak_tree_gib": max(r["peak_tree_gib"] for r in runs)}


def quality(results: dict) -> dict:
    """Per task: mean ± std over the days with a window of more than one span, per mode."""
    out = {}
    for mode, result in results.items():
        days = [r["metrics"] for r in result["runs"] if r["spans"] > 1]
        if not days:
            continue
        tasks = sorted({t for d in days for t in d})
        out[mode] = {t: {"mean": round(statistics.mean(d[t] for d in days), 4),
                         "std": round(statistics.stdev(d[t] for d in days), 4)
                         if len(days) > 1 else 0.0,
                         "days": [d[t] for d in days]} for t in tasks}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="examples per span")
    parser.add_argument("--max-spans", type=int, default=10, help="the largest window K")
    parser.add_argument("--modes", nargs="+", default=["full", "incremental"])
    parser.add_argument("--large-examples", type=int, default=1_000_000,
                        help="examples per span of the 3-span large window (0: skip it)")
    parser.add_argument("--large-spans", type=int, default=3)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further `mtl run` flags, e.g. --epochs 1")
    parser.add_argument("--skip-no-window", action="store_true",
                        help="leave out the run without a window (--train-spans 1)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mtl_window_bench_"))
    data_dir = workdir / f"data_{args.examples}"
    gen = common.generate_spans(data_dir, args.examples, args.max_spans)
    # The same first span without a window (--train-spans 1): Transform materializes, the
    # Trainer parses transformed examples; against the window's K = 1 run (nothing
    # materialized, the graph applied while training) it prices the two designs.
    single = None if args.skip_no_window else bench_mode(
        workdir, data_dir, "single", 1, args.examples, args.extra, train_spans=1)
    results = {mode: bench_mode(workdir, data_dir, mode, args.max_spans, args.examples,
                                args.extra) for mode in args.modes}
    figures = {"examples_per_span": args.examples, "max_spans": args.max_spans,
               "data_generation_seconds": round(gen, 1), "no_window_k1": single and single["runs"][0],
               "modes": results,
               "quality": quality(results)}
    if args.large_examples:
        large_dir = workdir / f"data_{args.large_examples}"
        common.generate_spans(large_dir, args.large_examples, args.large_spans)
        large = bench_mode(workdir, large_dir, "incremental", args.large_spans,
                           args.large_examples, args.extra)
        figures["large"] = {"examples_per_span": args.large_examples, **large}
    common.emit(figures)


if __name__ == "__main__":
    main()
