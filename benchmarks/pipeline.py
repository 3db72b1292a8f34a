"""Pipeline benchmark: per-component wall time of a cold `mtl run`, peak memory, cached re-run.

For each size, the embedded data are generated once (timed apart), then each repeat runs
`mtl run` cold in a fresh home (a child process, so the peak memory is the run's own), reads
every component's wall time from ML Metadata, then runs `mtl run` twice more on the same home.
Both re-runs have the cold run's spans, configuration and code: `mtl run` finds them unchanged
(pipeline.runs.unchanged) and launches nothing, so no new run appears in ML Metadata
(`*_unchanged`: true, `*_executed`: []). Before that check existed, the second run's Evaluator
re-evaluated run 1's blessed model against itself (its new baseline), and only the third was
fully cached. `rerun_*` and `cached_*` report the process wall and CPU seconds of both.
On a shared machine compare CPU seconds too: wall seconds follow the other jobs' load.

    python -m benchmarks.pipeline                       # 20,000 and 100,000
    python -m benchmarks.pipeline --sizes 100000 --repeats 3
    python -m benchmarks.pipeline --sizes 1000000 --repeats 1   # the 1M run
    python -m benchmarks.pipeline --beam-arg=--runner=FnApiRunner ...
    python -m benchmarks.pipeline --sizes 100000 --no-cached --profile

`--profile` runs the cold runs under a per-component cProfile ($MTL_PROFILE_DIR, see
pipeline/runs/progress.py; slower, so its seconds are not comparable) and adds each long
component's top functions by own time (`profile`: {component: [[function, own s, cum s]]}).

Prints one JSON line: {"sizes": {N: {medians and every repeat's figures}}, ...}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks import common

COMPONENTS = ("ImportExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform",
              "Trainer", "Evaluator", "Pusher")


def bench_size(workdir: Path, examples: int, repeats: int, extra: list[str],
               beam_args: list[str] | None, cached: bool = True,
               profile: bool = False) -> dict:
    """Cold runs (and cached re-runs) of `mtl run` on `examples` examples; medians and raws."""
    data_dir = workdir / f"data_{examples}"
    gen_seconds = common.generate_data(data_dir, examples)
    runs = []
    for i in range(repeats):
        home = workdir / f"home_{examples}_{i}"
        common.fresh_home(home, data_dir)
        cmd = common.mtl_run_cmd(home, examples, extra, beam_args)
        profile_dir = workdir / f"profile_{examples}_{i}"
        if profile:
            os.environ["MTL_PROFILE_DIR"] = str(profile_dir)
        try:
            cold = common.run_tree(cmd, workdir / f"cold_{examples}_{i}.log")
        finally:
            os.environ.pop("MTL_PROFILE_DIR", None)
        if cold["returncode"] not in (0, 3):
            raise RuntimeError(f"mtl run failed ({cold['returncode']}); see "
                               f"{workdir / f'cold_{examples}_{i}.log'}")
        components = common.component_seconds(home)
        run = {
            "process_seconds": round(cold["seconds"], 2),
            "process_cpu_seconds": round(cold["cpu_seconds"], 1),
            "pipeline_seconds": round(sum(components.values()), 2),
            "components": components,
            "peak_tree_gib": round(cold["peak_tree_gib"], 3),
            "peak_tree_pss_gib": round(cold["peak_tree_pss_gib"], 3),
            "peak_tree_seconds": cold["peak_tree_seconds"],
            "peak_single_gib": round(cold["peak_single_gib"], 3),
            "blessed": cold["returncode"] == 0,
        }
        if profile:
            run["profile"] = {p.stem: common.top_functions(p) for p in sorted(profile_dir.glob("*.prof"))
                              if components.get(p.stem, 0) >= 5}
        if cached:
            # Re-run 2 finds a new latest blessed model (run 1's), so the Evaluator's baseline
            # input changed and it re-executes; re-run 3 has every input unchanged.
            for name in ("rerun", "cached"):
                runs_before = run_count(home)
                again = common.run_tree(cmd, workdir / f"{name}_{examples}_{i}.log")
                launched = run_count(home) > runs_before
                states = common.component_states(home) if launched else {}
                run[f"{name}_process_seconds"] = round(again["seconds"], 2)
                run[f"{name}_cpu_seconds"] = round(again["cpu_seconds"], 1)
                run[f"{name}_unchanged"] = not launched
                run[f"{name}_executed"] = sorted(
                    node for node, state in states.items() if state != "CACHED"
                    and node != "latest_blessed_model_resolver")
        runs.append(run)
    out = {
        "data_generation_seconds": round(gen_seconds, 2),
        "pipeline_seconds": common.median([r["pipeline_seconds"] for r in runs]),
        "process_seconds": common.median([r["process_seconds"] for r in runs]),
        "process_cpu_seconds": common.median([r["process_cpu_seconds"] for r in runs]),
        "components": {
            c: common.median([r["components"].get(c, 0.0) for r in runs]) for c in COMPONENTS
        },
        "peak_tree_gib": max(r["peak_tree_gib"] for r in runs),
        "runs": runs,
    }
    if cached:
        for name in ("rerun", "cached"):
            for figure in ("process_seconds", "cpu_seconds"):
                out[f"{name}_{figure}"] = common.median([r[f"{name}_{figure}"] for r in runs])
    return out


def run_count(home: Path) -> int:
    """How many pipeline runs the home's ML Metadata records (0 before the first)."""
    from pipeline.core import metadata

    path = home / "metadata.db"
    return len(metadata.runs_oldest_first(metadata.readonly_store(path))) if path.exists() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--repeats", type=int, default=1, help="cold runs per size (median)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--beam-arg", action="append", default=None,
                        help="Beam flag passed to `mtl run` (repeatable; default: the config's)")
    parser.add_argument("--run-arg", action="append", default=[], metavar="FLAG",
                        help="a flag passed to `mtl run` (repeatable), e.g. "
                             "--run-arg=--beam-processes --run-arg=1")
    parser.add_argument("--no-cached", action="store_true", help="skip the cached re-run")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each component of the cold runs (see the docstring)")
    parser.add_argument("--workdir", default=None,
                        help="scratch folder (default: a new temp folder, kept for inspection)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mtl_bench_pipeline_"))
    workdir.mkdir(parents=True, exist_ok=True)
    extra = ["--epochs", str(args.epochs)]
    if args.batch_size:
        extra += ["--batch-size", str(args.batch_size)]
    extra += args.run_arg
    figures = {
        "benchmark": "pipeline",
        "cpus": os.cpu_count(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "epochs": args.epochs,
        "beam_args": args.beam_arg or "default",
        "run_args": args.run_arg,
        "repeats": args.repeats,
        "workdir": str(workdir),
        "sizes": {},
    }
    for size in args.sizes:
        figures["sizes"][str(size)] = bench_size(workdir, size, args.repeats, extra,
                                                 args.beam_arg, cached=not args.no_cached,
                                                 profile=args.profile)
    figures["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
