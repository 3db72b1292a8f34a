"""A local multi-worker cluster: N processes of `models.worker` on 127.0.0.1, and the worker
arguments file they read.

`run_local_workers` is what `models.trainer.run_fn` calls for `multi_worker_mirrored` without
a TF_CONFIG: it writes the Trainer's arguments (the fields of TFX's `FnArgs` that training
reads, `FN_ARGS_FIELDS`) to ARGS.json in the run's model_run_dir, starts one chief and N-1
workers on free 127.0.0.1 ports, each with its TF_CONFIG, waits for all of them and, when one
fails, stops the others (they would wait for it forever in a collective op) and raises with
that worker's log. The workers' logs stay in model_run_dir/worker_logs/.

No TensorFlow here: this module only starts processes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

# The FnArgs fields the Trainer reads; data_accessor is not needed for tf.Example TFRecords.
FN_ARGS_FIELDS = ("train_files", "eval_files", "transform_output", "serving_model_dir",
                  "model_run_dir", "base_model", "eval_steps", "custom_config",
                  "hyperparameters")
ARGS_FILE = "worker_args.json"
LOG_DIR = "worker_logs"
# The command of one worker (followed by the ARGS.json path): also the TFJob's container command.
WORKER_MODULE = "models.worker"
WORKER_COMMAND = ("python", "-m", WORKER_MODULE)


def fn_args_dict(fn_args) -> dict:
    """The JSON-serialisable Trainer arguments a worker needs."""
    out = {name: getattr(fn_args, name, None) for name in FN_ARGS_FIELDS}
    for name in ("train_files", "eval_files"):
        value = out[name]
        out[name] = [value] if isinstance(value, str) else list(value or [])
    out["custom_config"] = dict(out["custom_config"] or {})
    return out


def fn_args_from_dict(data: dict) -> SimpleNamespace:
    """An object with the attributes of TFX's FnArgs that `train_and_export` reads."""
    missing = [name for name in FN_ARGS_FIELDS if name not in data]
    if missing:
        raise ValueError(f"worker arguments lack {missing}; expected the fields {FN_ARGS_FIELDS}")
    return SimpleNamespace(data_accessor=None, **{name: data[name] for name in FN_ARGS_FIELDS})


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports free on 127.0.0.1 (held open together while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(ports: list[int], host: str = "127.0.0.1") -> list[dict]:
    """One TF_CONFIG per process: a chief on the first port, workers on the others."""
    if not ports:
        raise ValueError("a cluster needs at least one port (the chief's)")
    cluster = {"chief": [f"{host}:{ports[0]}"]}
    if len(ports) > 1:
        cluster["worker"] = [f"{host}:{p}" for p in ports[1:]]
    return ([{"cluster": cluster, "task": {"type": "chief", "index": 0}}]
            + [{"cluster": cluster, "task": {"type": "worker", "index": i}}
               for i in range(len(ports) - 1)])


def worker_environment(tf_config: dict, environ: dict | None = None) -> dict:
    """The environment of a worker process: this one's, with TF_CONFIG set, this project's
    folder first on PYTHONPATH (the worker imports `models`) and this Python's bin first on
    PATH."""
    env = dict(os.environ if environ is None else environ)
    env["TF_CONFIG"] = json.dumps(tf_config)
    project = str(Path(__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([project, *[p for p in paths if p != project]])
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_local_workers(fn_args, workers: int, timeout_s: float | None = None,
                      poll_s: float = 0.5) -> None:
    """Trains with `workers` local processes (one chief, workers - 1 workers); returns when all
    succeeded, raises RuntimeError (with the failed worker's log tail) otherwise."""
    if workers < 1:
        raise ValueError(f"local_workers must be at least 1, got {workers}")
    run_dir = Path(fn_args.model_run_dir)
    (run_dir / LOG_DIR).mkdir(parents=True, exist_ok=True)
    args_path = run_dir / ARGS_FILE
    args_path.write_text(json.dumps(fn_args_dict(fn_args), indent=1, sort_keys=True))
    command = [sys.executable, "-m", WORKER_MODULE, str(args_path)]
    processes = []
    try:
        for config in tf_configs(free_ports(workers)):
            task = config["task"]
            log_path = run_dir / LOG_DIR / f"{task['type']}-{task['index']}.log"
            with open(log_path, "wb") as log:
                processes.append((task, log_path, subprocess.Popen(
                    command, env=worker_environment(config), stdout=log,
                    stderr=subprocess.STDOUT)))
        started = time.monotonic()
        while True:
            codes = [p.poll() for _, _, p in processes]
            failed = [(t, log, c) for (t, log, _), c in zip(processes, codes) if c not in (None, 0)]
            if failed:
                task, log_path, code = failed[0]
                raise RuntimeError(
                    f"multi-worker training: {task['type']} {task['index']} exited with {code}; "
                    f"log {log_path}, last lines:\n{_tail(log_path)}")
            if all(c == 0 for c in codes):
                return
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise RuntimeError(f"multi-worker training: not done after {timeout_s:.0f} s; "
                                   f"logs in {run_dir / LOG_DIR}")
            time.sleep(poll_s)
    finally:
        for _, _, process in processes:
            if process.poll() is None:
                process.terminate()
        for _, _, process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
