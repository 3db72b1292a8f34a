"""The benchmarks run as modules (`python -m benchmarks.NAME`) from a checkout, with nothing on
PYTHONPATH, and share their helpers through `benchmarks.common` only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p for p in (REPO / "benchmarks").glob("*.py") if p.name != "__init__.py")
# Every benchmark with a command line (peers.py runs through `quality --benchmark peers`).
COMMANDS = sorted(p.stem for p in BENCHMARKS if "\nif __name__ == \"__main__\":" in p.read_text())


def test_every_command_is_there():
    assert COMMANDS == ["ablation", "evaluator", "pipeline", "quality", "real_data", "scaling",
                        "serving", "span_check", "text_cost", "text_quality",
                        "train_throughput", "trainer_variant", "tuning", "window", "zoo_sweep"]


@pytest.mark.parametrize("name", COMMANDS)
def test_runs_as_a_module_without_pythonpath(name):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--help"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "--help" in done.stdout


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_no_path_edits_and_no_private_names_from_other_modules(path):
    source = path.read_text()
    assert "sys.path" not in source and "noqa: E402" not in source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{path.name} imports {private} from {node.module}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchmarks."):
            assert node.module == "benchmarks.common", (
                f"{path.name} imports from {node.module}: shared helpers live in "
                f"benchmarks.common")
