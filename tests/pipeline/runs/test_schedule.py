"""`mtl schedule`: interval parsing, the bounded loop, the lock and the JSON-lines log."""

from __future__ import annotations

import json
import types

import pytest

from pipeline.core.config import PipelineConfig
from pipeline.runs import schedule
from pipeline.runs.lock import HomeLockedError, home_lock


@pytest.mark.parametrize("text,seconds", [("24h", 86400.0), ("30m", 1800.0), ("10s", 10.0),
                                          ("90", 90.0), ("1.5h", 5400.0), ("2d", 172800.0)])
def test_parse_interval(text, seconds):
    assert schedule.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "10x", "-5m", "0s"])
def test_parse_interval_rejects(text):
    with pytest.raises(ValueError, match="interval"):
        schedule.parse_interval(text)


def _summary(run_id, blessed, pushed_path=None, failures=()):
    return types.SimpleNamespace(run_id=run_id, blessed=blessed, pushed=pushed_path is not None,
                                 pushed_path=pushed_path, failures=list(failures))


def test_bounded_loop_holds_the_lock_logs_every_outcome_and_survives_a_failure(tmp_path):
    config = PipelineConfig(root=str(tmp_path / "home"))
    outcomes = iter([
        _summary("r1", True, "/serving/1"),
        _summary("r2", False, failures=["click: auc 0.61 below 0.65"]),
        RuntimeError("span-3 is corrupt"),
        _summary("r4", True, "/serving/4"),
    ])
    calls, sleeps = [], []

    def run_fn(cfg):
        calls.append(cfg)
        # The loop holds the home's lock while the pipeline runs: a second run cannot start.
        with pytest.raises(HomeLockedError):
            with home_lock(cfg.home):
                pass
        result = next(outcomes)
        if isinstance(result, Exception):
            raise result
        return result

    records = schedule.run_schedule(config, every=0.05, max_runs=4, run_fn=run_fn,
                                    sleep=sleeps.append)
    assert len(calls) == 4 and all(c is config for c in calls)
    assert len(sleeps) == 3 and all(0 <= s <= 0.05 for s in sleeps)  # no sleep after the last
    assert [r["outcome"] for r in records] == ["pushed", "refused", "failed", "pushed"]
    assert [r["run"] for r in records] == [1, 2, 3, 4]
    assert records[0]["pushed_path"] == "/serving/1" and records[0]["blessed"] is True
    assert records[1]["failures"] == ["click: auc 0.61 below 0.65"]
    assert records[2]["error"] == "RuntimeError: span-3 is corrupt"
    log = (tmp_path / "home" / schedule.LOG_NAME).read_text().splitlines()
    assert [json.loads(line) for line in log] == records == schedule.read_log(config.home)


def test_a_run_is_skipped_and_logged_while_another_process_holds_the_home(tmp_path):
    config = PipelineConfig(root=str(tmp_path / "home"))
    calls = []
    with home_lock(config.home):
        record = schedule.run_once(config, run_fn=calls.append)
    assert calls == []
    assert record["outcome"] == "skipped_locked" and "in use by another mtl run" in record["error"]
    assert schedule.read_log(config.home) == [record]
    # Once the lock is free, the next run goes ahead.
    record = schedule.run_once(config, run_fn=lambda cfg: _summary("r2", True, "/s/2"), number=2)
    assert record["outcome"] == "pushed"
    assert [r["outcome"] for r in schedule.read_log(config.home)] == ["skipped_locked", "pushed"]


def test_loop_arguments_are_checked(tmp_path):
    config = PipelineConfig(root=str(tmp_path))
    with pytest.raises(ValueError, match="every"):
        schedule.run_schedule(config, every=0, max_runs=1, run_fn=lambda c: None)
    with pytest.raises(ValueError, match="max_runs"):
        schedule.run_schedule(config, every=1, max_runs=0, run_fn=lambda c: None)


def test_cli_schedule_and_tfx_runner_share_the_mtl_run_configuration(tmp_path, capsys):
    from pipeline.cli import main as cli
    from pipeline.cli import run_flags

    config = run_flags.run_config(["--root", str(tmp_path), "--epochs", "2", "--train-spans", "3",
                             "--threshold", "click=0.6"])
    assert (config.train_spans, config.hparams.epochs, config.thresholds) == (3, 2, {"click": 0.6})
    env = {"MTL_HOME": str(tmp_path / "h"), "MTL_RUN_ARGS": "--epochs 2 --train-spans 3 "
           "--threshold click=0.6 --strategy mirrored"}
    from_env = run_flags.config_from_environment(env)
    assert from_env == config.replace(root=str(tmp_path / "h"), distribution_strategy="mirrored")
    assert cli.main(["schedule", "--every", "10x", "--max-runs", "1", "--", "--root",
                     str(tmp_path)]) == 2
    assert "interval '10x'" in capsys.readouterr().err
    assert cli.main(["schedule", "--every", "1s", "--", "--train-spans", "0"]) == 2
    assert "train_spans must be at least 1" in capsys.readouterr().err


def test_runs_only_when_a_new_span_arrived_since_the_last_completed_run(tmp_path):
    config = PipelineConfig(root=str(tmp_path / "home"))
    (config.data_dir / "span-1").mkdir(parents=True)
    calls = []

    def run_fn(cfg):
        calls.append(cfg)
        return _summary(f"r{len(calls)}", False, failures=["like: auc change -0.05"])

    outcomes = [schedule.run_once(config, run_fn, 1)["outcome"]]  # refused: still completed
    outcomes.append(schedule.run_once(config, run_fn, 2)["outcome"])  # span 1 again: skipped
    outcomes.append(schedule.run_once(config, run_fn, 3, always=True)["outcome"])
    (config.data_dir / "span-2").mkdir()
    outcomes.append(schedule.run_once(config, run_fn, 4)["outcome"])
    assert outcomes == ["refused", "skipped_no_new_span", "refused", "refused"]
    assert len(calls) == 3
    log = schedule.read_log(config.home)
    assert [r["newest_span"] for r in log] == [1, 1, 1, 2]
    assert log[1]["error"] == "span 1 was already used by the last completed run"
    assert schedule.last_completed_span(config.home) == 2
