"""Scaling benchmark: Transform and Evaluator time as the data grow 10x, and by Beam mode.

For each Beam mode (`MODE:WORKERS`, e.g. `in_memory:1`, `multi_processing:2`) and each size
(`--base` and 10x `--base`), runs `mtl run` cold in a fresh home on the same pre-generated
data (training capped by `--steps-per-epoch`, since the Trainer is not what is measured here)
and reads every component's wall time from ML Metadata. Reports, per Beam component:

- `growth`: time at 10x the data / time at 1x (10.0 is linear; less means fixed costs weigh);
- `speedup`: time with the first mode / time with each other mode, at the same size;
- `cpu_utilisation`: the run's CPU seconds (the child process tree's user + system time) /
  its wall seconds, a number in [0, cores] that shows whether both cores were busy.

    python -m benchmarks.scaling --base 10000 \
        --modes in_memory:1 multi_processing:2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks import common

BEAM_COMPONENTS = ("ImportExampleGen", "StatisticsGen", "Transform", "Evaluator")


def beam_args(mode: str) -> list[str]:
    """FnApiRunner flags for `MODE:WORKERS`."""
    running_mode, _, workers = mode.partition(":")
    if running_mode not in ("in_memory", "multi_threading", "multi_processing"):
        raise ValueError(f"Beam mode {mode!r}: expected in_memory|multi_threading|"
                         f"multi_processing[:WORKERS]")
    return ["--runner=FnApiRunner", f"--direct_running_mode={running_mode}",
            f"--direct_num_workers={int(workers or 1)}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=10_000, help="the 1x size (10x also runs)")
    parser.add_argument("--modes", nargs="+", default=["in_memory:1", "multi_processing:2"])
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mtl_bench_scaling_"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [args.base, args.base * 10]
    seconds: dict[str, dict[str, dict[str, float]]] = {}
    utilisation: dict[str, dict[str, float]] = {}
    for mode in args.modes:
        seconds[mode], utilisation[mode] = {}, {}
        for size in sizes:
            data_dir = workdir / f"data_{size}"
            common.generate_data(data_dir, size)
            home = workdir / f"home_{mode.replace(':', '_')}_{size}"
            common.fresh_home(home, data_dir)
            cmd = common.mtl_run_cmd(home, size, ["--epochs", "1", "--steps-per-epoch",
                                                  str(args.steps_per_epoch)], beam_args(mode))
            run = common.run_tree(cmd, workdir / f"run_{mode.replace(':', '_')}_{size}.log")
            if run["returncode"] not in (0, 3):
                raise RuntimeError(f"mode {mode} size {size}: mtl run failed; see {workdir}")
            comps = common.component_seconds(home)
            seconds[mode][str(size)] = {c: comps.get(c, 0.0) for c in BEAM_COMPONENTS}
            seconds[mode][str(size)]["process"] = round(run["seconds"], 2)
            utilisation[mode][str(size)] = round(run["cpu_seconds"] / run["seconds"], 2)
    small, large = str(sizes[0]), str(sizes[1])
    first = args.modes[0]
    growth = {m: {c: round(seconds[m][large][c] / max(seconds[m][small][c], 1e-9), 2)
                  for c in BEAM_COMPONENTS} for m in args.modes}
    speedup = {m: {s: {c: round(seconds[first][s][c] / max(seconds[m][s][c], 1e-9), 2)
                       for c in BEAM_COMPONENTS} for s in (small, large)}
               for m in args.modes[1:]}
    common.emit({
        "benchmark": "scaling",
        "sizes": sizes,
        "modes": args.modes,
        "seconds": seconds,
        "growth_10x": growth,
        f"speedup_vs_{first}": speedup,
        "cpu_utilisation": utilisation,
        "cpus": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "workdir": str(workdir),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
