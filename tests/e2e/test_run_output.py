"""What `mtl run` prints (pipeline.runs.progress), its log file, and an unchanged re-run
(pipeline.runs.unchanged), on a run made with the CLI in-process (2,000 examples, 1 epoch)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.core import metadata

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RUN_ARGS = ["--examples", "2000", "--epochs", "1", "--batch-size", "128",
            "--threshold", "click=0.5", "--threshold", "conversion=0.5",
            "--threshold", "watch_time=1000", "--threshold", "like=0.4"]

# The lines of a cold run, seconds replaced by "S" (pipeline.runs.progress.format_line).
EXPECTED_COLD = [
    "[ 1/10] start   ImportExampleGen",
    "[ 1/10] done    ImportExampleGen                    S s",
    "[ 2/10] start   ImportSchemaGen",
    "[ 2/10] done    ImportSchemaGen                     S s",
    "[ 3/10] start   latest_blessed_model_resolver",
    "[ 3/10] done    latest_blessed_model_resolver       S s",
    "[ 4/10] start   StatisticsGen",
    "[ 4/10] done    StatisticsGen                       S s  2,000 rows (train 1,606, eval 394)",
    "[ 5/10] start   ExampleValidator",
    "[ 5/10] done    ExampleValidator                    S s",
    "[ 6/10] start   AnomaliesGate",
    "[ 6/10] done    AnomaliesGate                       S s",
    "[ 7/10] start   Transform",
    "[ 7/10] done    Transform                           S s",
    "[ 8/10] start   Trainer",
    "[ 8/10] done    Trainer                             S s  1 epoch (as asked), last epoch kept",
    "[ 9/10] start   Evaluator",
    "[ 9/10] done    Evaluator                           S s",
    "[10/10] start   Pusher",
    "[10/10] done    Pusher                              S s",
]


def _normalized(line: str) -> str:
    line = re.sub(r"\s+\d+\.\d s", lambda m: " " * (len(m.group()) - 3) + "S s", line)
    return re.sub(r"loss \d+\.\d{4}", "loss L", line)


def _runs(home) -> int:
    return len(metadata.runs_oldest_first(metadata.readonly_store(home / "metadata.db")))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli_home")
    return home


def test_cold_run_prints_one_line_per_component_start_and_end(cli_run, capsys):
    home = cli_run
    code = main(["run", "--root", str(home), *RUN_ARGS])
    out, err = capsys.readouterr()
    assert code in (0, 3), out + err
    lines = out.splitlines()
    [log] = sorted((home / "logs").glob("*.log"))
    assert lines[0] == f"mtl run: {home}; full logs in {log}"
    assert lines[1] == "no span under " + str(home / "data") + ": generating 2,000 examples (seed 42)"
    assert [_normalized(x) for x in lines[2:22]] == [_normalized(x) for x in EXPECTED_COLD]
    assert lines[22] == ""
    assert lines[23].startswith("Run mtl-") or lines[23].startswith("Run ")
    assert "Components (wall seconds):" in out and "Blessed:" in out
    # No library noise on the terminal: it is all in the log file.
    assert "absl" not in out and "tensorflow" not in out.lower() and err == ""
    text = log.read_text()
    assert "Component Trainer is running." in text and "Component Pusher is finished." in text
    assert "tfx_ephemeral" not in text  # no sdist of TFX for the in-process runner


def test_unchanged_rerun_launches_nothing_and_says_why(cli_run, capsys):
    home = cli_run
    runs_before = _runs(home)
    code = main(["run", "--root", str(home), *RUN_ARGS])
    out, _ = capsys.readouterr()
    assert code in (0, 3)
    assert _runs(home) == runs_before
    [unchanged] = [x for x in out.splitlines() if x.startswith("unchanged:")]
    assert unchanged.startswith("unchanged: same data (span-1), configuration and code as run ")
    assert unchanged.endswith("Nothing was re-run.")
    assert "start" not in out.split("unchanged:")[0].split("full logs in")[1]


def test_changed_configuration_runs_again(cli_run, capsys):
    home = cli_run
    runs_before = _runs(home)
    code = main(["run", "--root", str(home), "-q", *RUN_ARGS, "--threshold", "like=0.41"])
    out, _ = capsys.readouterr()
    assert code in (0, 3)
    assert _runs(home) == runs_before + 1
    assert out.startswith("Run ")  # -q: the summary only
    assert "unchanged:" not in out


def test_metrics_prints_no_library_noise(cli_run):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "metrics", "--root",
                           str(cli_run)], capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "click" in done.stdout
