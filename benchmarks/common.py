"""Helpers shared by the benchmarks: child-process runs with peak memory, medians, data copies,
the newest artifacts of a home, the masked metrics and mean ± std of the quality benchmarks.

Every benchmark runs the pipeline in a child process (`python -m pipeline.cli run ...`), so
the memory it reports is the run's own and not the benchmark driver's, and polls the whole
process tree (Beam's multi-process workers included) for its resident set size.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent


def quiet_tensorflow() -> None:
    """TensorFlow's native INFO and WARNING lines off for this process (call before it loads)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def child_env() -> dict[str, str]:
    """The environment of a child run: this checkout first on PYTHONPATH, TF logs quiet.

    Beam's multi-process workers are started by the child and inherit PYTHONPATH, which is
    how they import `models.preprocessing` and the rest of the project's code.
    """
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_tree(cmd: list[str], log_path: Path, poll: float = 0.2) -> dict[str, float]:
    """Runs `cmd`: wall and CPU seconds, exit code and peak RSS of its process tree (GiB).

    `peak_tree_gib` sums the RSS of the child and all its descendants at each poll;
    `peak_child_gib` is the largest single process (getrusage's RUSAGE_CHILDREN ru_maxrss
    covers only waited-for children, so it is read as well when the child has exited).
    `peak_tree_pss_gib` sums their proportional set sizes instead (Linux): a page shared by
    several processes (the TensorFlow libraries every Beam worker maps) counts once in all,
    where the RSS sum counts it in each; it is the tree's memory, the RSS sum an upper bound.
    `peak_tree_seconds` is when the RSS peak was reached (seconds from the start).
    """
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = psutil.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env(),
                            cwd=str(REPO))
        peak_tree = peak_single = peak_pss = 0
        peak_at = 0.0
        cpu_by_pid: dict[int, float] = {}
        last_note = start
        while proc.poll() is None:
            try:
                procs = [proc, *proc.children(recursive=True)]
                rss, pss = [], []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss)
                        pss.append(getattr(p.memory_full_info(), "pss", 0))
                        times = p.cpu_times()
                        cpu_by_pid[p.pid] = times.user + times.system
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                if sum(rss) > peak_tree:
                    peak_tree, peak_at = sum(rss), time.perf_counter() - start
                peak_pss = max(peak_pss, sum(pss))
                peak_single = max(peak_single, max(rss, default=0))
            except psutil.NoSuchProcess:
                pass
            time.sleep(poll)
            if time.perf_counter() - last_note > 10:
                # Progress note beside the log: the figures so far survive a killed run.
                note = {"seconds": time.perf_counter() - start, "peak_tree_gib": peak_tree / 2**30,
                        "peak_tree_pss_gib": peak_pss / 2**30, "peak_tree_seconds": peak_at,
                        "cpu_seconds": sum(cpu_by_pid.values())}
                log_path.with_suffix(".progress.json").write_text(json.dumps(note))
                last_note = time.perf_counter()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        # CPU time of every process seen in the tree (to its last poll).
        "cpu_seconds": sum(cpu_by_pid.values()),
        "returncode": proc.returncode,
        "peak_tree_gib": peak_tree / 2**30,
        "peak_tree_pss_gib": peak_pss / 2**30,
        "peak_tree_seconds": round(peak_at, 1),
        "peak_single_gib": peak_single / 2**30,
    }


def mtl_run_cmd(home: Path, examples: int, extra: list[str] | None = None,
                beam_args: list[str] | None = None) -> list[str]:
    """The `mtl run` command line for `home` (1 epoch by default, overridable by `extra`)."""
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--root", str(home),
           "--examples", str(examples), *(extra or [])]
    for arg in beam_args or []:
        cmd.append(f"--beam-arg={arg}")
    return cmd


def generate_data(data_dir: Path, examples: int, seed: int = 42) -> float:
    """Writes the embedded dataset once (reused by every run of that size); returns seconds."""
    if (data_dir / "span-1").exists():
        return 0.0
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline.cli", "generate-data", "--out",
                    str(data_dir), "--examples", str(examples), "--seed", str(seed)],
                   check=True, env=child_env(), cwd=str(REPO), stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_home(home: Path, data_dir: Path) -> None:
    """An empty home whose data/ holds hard links to the shared, pre-generated spans."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copytree(data_dir, home / "data", copy_function=os.link)


def component_seconds(home: Path) -> dict[str, float]:
    """{component: wall seconds} of the newest run in `home`'s ML Metadata."""
    from pipeline.core.config import PipelineConfig
    from pipeline.monitoring.summary import summarize_latest_run

    summary = summarize_latest_run(PipelineConfig(root=str(home)))
    return {c.node_id: round(c.seconds, 2) for c in summary.components}


def component_states(home: Path) -> dict[str, str]:
    """{component: execution state} (COMPLETE, CACHED, ...) of the newest run in `home`."""
    from pipeline.core.config import PipelineConfig
    from pipeline.monitoring.summary import summarize_latest_run

    summary = summarize_latest_run(PipelineConfig(root=str(home)))
    return {c.node_id: c.state for c in summary.components}


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def emit(figures: dict) -> None:
    """Prints the benchmark's one JSON line."""
    print(json.dumps(figures, sort_keys=False), flush=True)


def transformed_home(home: str | None, examples: int, run_args: list[str],
                     prefix: str) -> tuple[Path, float]:
    """(home, seconds spent): `home` as given, or a new one where a one-step `mtl run` (on
    `examples` generated examples, with `run_args`) left the Transform output the quality
    benchmarks train from. Its one-step model is not blessed (exit code 3), which is expected."""
    if home is not None:
        return Path(home), 0.0
    started = time.time()
    home = tempfile.mkdtemp(prefix=prefix)
    cmd = mtl_run_cmd(Path(home), examples, [*run_args, "--epochs", "1", "--steps-per-epoch", "1"])
    result = subprocess.run(cmd, env=child_env(), cwd=str(REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if result.returncode not in (0, 3):
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit code {result.returncode}")
    return Path(home), time.time() - started


def latest_artifact_dir(home: Path, component: str, output: str) -> Path:
    """The newest `<pipeline_root>/<component>/<output>/<execution id>` folder of `home`."""
    base = home / "pipeline_root" / component / output
    ids = sorted((p for p in base.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not ids:
        raise FileNotFoundError(f"no {component} {output} under {base}: run `mtl run` first")
    return ids[-1]


def latest_pushed(home: Path, model_name: str = "mtl_model") -> Path:
    """The newest pushed model version folder of `home` (what TF Serving loads)."""
    base = home / "serving" / model_name
    versions = sorted((p for p in base.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise FileNotFoundError(f"no pushed model under {base}: run `mtl run` (blessed) first")
    return versions[-1]


def top_functions(prof_path: Path, n: int = 12) -> list[list]:
    """The `n` functions with the most own time in a cProfile dump: [name, own s, cum s]."""
    import pstats

    stats = pstats.Stats(str(prof_path)).stats
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:n]
    out = []
    for (filename, line, name), (_, _, own, cum, _) in rows:
        short = filename.split("site-packages/")[-1] if filename != "~" else ""
        out.append([f"{short}:{line}({name})" if short else name, round(own, 2), round(cum, 2)])
    return out


def masked_auc(labels, scores, mask=None) -> float:
    """ROC AUC over the rows where `mask` is non-zero (all rows when mask is None).

    The Mann-Whitney statistic: the probability that a random positive scores above a random
    negative, ties counting one half (average ranks). NaN when the selected rows hold only one
    class.
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if mask is not None:
        keep = np.asarray(mask).reshape(-1) > 0
        labels, scores = labels[keep], scores[keep]
    positive = labels > 0.5
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average rank (1-based) of every run of equal scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + 1 + end) / 2.0
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def masked_rmse(labels, predictions, mask) -> float:
    """Root mean squared error over the rows where `mask` is non-zero."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    keep = np.asarray(mask).reshape(-1) > 0
    if not keep.any():
        return float("nan")
    return float(np.sqrt(np.mean((predictions[keep] - labels[keep]) ** 2)))


def mean_std(values: list[float]) -> dict[str, float]:
    """{"mean", "std"} (population std), rounded to 4 places: a quality figure over seeds."""
    return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)}
