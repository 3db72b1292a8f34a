"""The span check benchmark runs on a small span and prints its one JSON line of figures."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.common import REPO, child_env


def test_span_check_benchmark_prints_its_figures(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.span_check", "--examples", "300",
                           "--repeats", "1", "--data", str(tmp_path)],
                          cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600,
                          check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["benchmark"], figures["examples"], figures["repeats"]) == (
        "span_check", 300, 1)
    for name in ("count", "span_check", "types_decoder", "types_python"):
        assert figures[f"{name}_s"] > 0 and figures[f"{name}_cpu_s"] > 0
