"""The real `tfx pipeline create` / `tfx run create --engine local` on pipeline/runs/local.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.pipelines import SMALL_DATA_THRESHOLDS, naive_flags, small_data_gates

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TFX = Path(sys.executable).with_name("tfx")
# Absolute bounds that 2,000 examples and 1 epoch clear: this test is about the orchestration.
LOOSE = {"click": 0.5, "conversion": 0.4, "watch_time": 500.0, "like": 0.4}


def _tfx(args: list[str], env: dict) -> str:
    proc = subprocess.run([str(TFX), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, f"tfx {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def test_tfx_cli_creates_and_runs_the_pipeline_with_the_mtl_run_configuration(tmp_path):
    from pipeline.cli import run_flags
    from pipeline.monitoring import summary as summary_lib

    assert set(LOOSE) == set(SMALL_DATA_THRESHOLDS)
    run_args = ["--examples", "2000", "--epochs", "1", "--batch-size", "128", "--seed", "7"]
    for task, bound in LOOSE.items():
        run_args += ["--threshold", f"{task}={bound}"]
    run_args += naive_flags(small_data_gates(LOOSE))  # the naive-baseline gate, on, loosened
    env = dict(os.environ, LOCAL_HOME=str(tmp_path / "tfx_local"), MTL_HOME=str(tmp_path / "home"),
               MTL_RUN_ARGS=" ".join(run_args),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    out = _tfx(["pipeline", "create", "--engine", "local",
                "--pipeline_path", "pipeline/cli/tfx_pipeline.py"], env)
    assert 'Pipeline "mtl" created successfully' in out
    # The CLI recorded the pipeline under LOCAL_HOME; creating it generated the first span.
    assert (tmp_path / "tfx_local" / "mtl" / "pipeline_args.json").exists()
    assert sorted(os.listdir(tmp_path / "home" / "data")) == ["span-1"]
    assert not (tmp_path / "home" / "metadata.db").exists()  # nothing ran yet

    _tfx(["run", "create", "--engine", "local", "--pipeline_name", "mtl"], env)

    config = run_flags.run_config(["--root", str(tmp_path / "home"), *run_args])
    summary = summary_lib.summarize_latest_run(config)
    assert {c.node_id for c in summary.components} >= {"Trainer", "Evaluator", "Pusher"}
    assert all(c.state == "COMPLETE" for c in summary.components), summary.format()
    assert summary.blessed is True and summary.pushed, summary.format()
    versions = os.listdir(config.serving_dir)
    assert len(versions) == 1 and summary.pushed_path == str(config.serving_dir / versions[0])
    # The Trainer ran with the hparams given in MTL_RUN_ARGS (1 epoch).
    [history] = (tmp_path / "home" / "pipeline_root" / "Trainer" / "model_run").glob("*/history.json")
    figures = json.loads(history.read_text())
    assert {len(v) for v in figures.values() if isinstance(v, list)} == {1}
    assert figures["training"]["epochs_run"] == 1
