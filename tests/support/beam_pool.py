"""Beam's external SDK worker pool, started and stopped by a test.

  python -m apache_beam.runners.worker.worker_pool_main --service_port=PORT

The pool starts each SDK worker as a child process running a bare `python`, so this Python's
bin folder goes first on its PATH, and the project first on its PYTHONPATH (the workers import
`models.preprocessing`). The pool runs in a session of its own and is stopped with its workers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = str(Path(__file__).resolve().parents[2])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def worker_pool(log_path: Path, timeout_s: float = 120.0):
    """Yields the port of a running worker pool; its log (and its workers') goes to
    `log_path`."""
    from models.cluster import free_ports

    [port] = free_ports(1)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([PROJECT, env.get("PYTHONPATH", "")])
    with open(log_path, "wb") as log:
        pool = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
             f"--service_port={port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not _listening(port):
            if pool.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker pool did not start; log {log_path}")
            time.sleep(0.5)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pool.pid, signal.SIGTERM)
        try:
            pool.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pool.pid, signal.SIGKILL)
            pool.wait()
