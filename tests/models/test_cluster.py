"""The local multi-worker launcher: TF_CONFIG per process, the worker environment, the
arguments file, and what happens when a worker fails (stand-in workers, no TensorFlow)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from models import cluster

PROJECT = str(Path(cluster.__file__).resolve().parent.parent)


def test_tf_configs_name_a_chief_and_workers_on_the_given_ports():
    assert cluster.tf_configs([5000, 5001, 5002]) == [
        {"cluster": {"chief": ["127.0.0.1:5000"], "worker": ["127.0.0.1:5001", "127.0.0.1:5002"]},
         "task": {"type": "chief", "index": 0}},
        {"cluster": {"chief": ["127.0.0.1:5000"], "worker": ["127.0.0.1:5001", "127.0.0.1:5002"]},
         "task": {"type": "worker", "index": 0}},
        {"cluster": {"chief": ["127.0.0.1:5000"], "worker": ["127.0.0.1:5001", "127.0.0.1:5002"]},
         "task": {"type": "worker", "index": 1}},
    ]
    assert cluster.tf_configs([6000]) == [
        {"cluster": {"chief": ["127.0.0.1:6000"]}, "task": {"type": "chief", "index": 0}}]
    with pytest.raises(ValueError, match="at least one port"):
        cluster.tf_configs([])


def test_free_ports_are_distinct():
    ports = cluster.free_ports(4)
    assert len(set(ports)) == 4 and all(0 < p < 65536 for p in ports)


def test_worker_environment_sets_tf_config_project_path_and_this_python_first():
    env = cluster.worker_environment({"task": {"type": "chief", "index": 0}},
                                     {"PYTHONPATH": f"/elsewhere{os.pathsep}{PROJECT}",
                                      "PATH": "/usr/bin", "KEEP": "1"})
    assert json.loads(env["TF_CONFIG"]) == {"task": {"type": "chief", "index": 0}}
    assert env["PYTHONPATH"].split(os.pathsep) == [PROJECT, "/elsewhere"]
    assert env["PATH"].split(os.pathsep) == [os.path.dirname(sys.executable), "/usr/bin"]
    assert env["KEEP"] == "1"


def _fn_args(tmp_path, **custom):
    return SimpleNamespace(
        train_files="/t/Split-train/*", eval_files=["/t/Split-eval/*"], transform_output="/tg",
        serving_model_dir=str(tmp_path / "model" / "Format-Serving"),
        model_run_dir=str(tmp_path / "run"), base_model=None, eval_steps=None,
        custom_config={"distribution_strategy": "multi_worker_mirrored", **custom},
        data_accessor=object())


def test_arguments_round_trip_through_json(tmp_path):
    data = json.loads(json.dumps(cluster.fn_args_dict(_fn_args(tmp_path))))
    assert data["train_files"] == ["/t/Split-train/*"] and data["eval_files"] == ["/t/Split-eval/*"]
    back = cluster.fn_args_from_dict(data)
    assert back.transform_output == "/tg" and back.data_accessor is None
    assert back.custom_config == {"distribution_strategy": "multi_worker_mirrored"}
    del data["transform_output"]
    with pytest.raises(ValueError, match=r"lack \['transform_output'\]"):
        cluster.fn_args_from_dict(data)


def test_tuned_hyperparameters_reach_every_worker(tmp_path):
    fn_args = _fn_args(tmp_path)
    fn_args.hyperparameters = {"space": [], "values": {"learning_rate": 0.003}}
    back = cluster.fn_args_from_dict(json.loads(json.dumps(cluster.fn_args_dict(fn_args))))
    assert back.hyperparameters == {"space": [], "values": {"learning_rate": 0.003}}


@pytest.fixture
def fake_workers(monkeypatch):
    monkeypatch.setattr(cluster, "WORKER_MODULE", "tests.support.fake_worker")


def test_all_workers_succeed_each_with_its_log_and_the_arguments_file(tmp_path, fake_workers):
    cluster.run_local_workers(_fn_args(tmp_path), 3, timeout_s=60, poll_s=0.05)
    run = tmp_path / "run"
    args = json.loads((run / cluster.ARGS_FILE).read_text())
    assert args["model_run_dir"] == str(run)
    logs = sorted(p.name for p in (run / cluster.LOG_DIR).iterdir())
    assert logs == ["chief-0.log", "worker-0.log", "worker-1.log"]
    assert (run / cluster.LOG_DIR / "worker-1.log").read_text().startswith(
        f"fake worker-1 args={run / cluster.ARGS_FILE}")


def test_a_failed_worker_stops_the_others_and_raises_with_its_log(tmp_path, fake_workers):
    fn_args = _fn_args(tmp_path, fake={"chief-0": "sleep:120", "worker-0": "exit:3"})
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"(?s)worker 0 exited with 3.*worker-0 failing"):
        cluster.run_local_workers(fn_args, 2, timeout_s=60, poll_s=0.05)
    # The chief (which would wait forever for its peer) was stopped, not waited for.
    assert time.monotonic() - started < 60


def test_a_cluster_that_does_not_finish_in_time_is_stopped(tmp_path, fake_workers):
    fn_args = _fn_args(tmp_path, fake={"chief-0": "sleep:120"})
    with pytest.raises(RuntimeError, match="not done after 1 s"):
        cluster.run_local_workers(fn_args, 1, timeout_s=1, poll_s=0.05)


def test_at_least_one_worker(tmp_path):
    with pytest.raises(ValueError, match="at least 1, got 0"):
        cluster.run_local_workers(_fn_args(tmp_path), 0)
