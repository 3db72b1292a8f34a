"""An exclusive lock on a home folder, so two runs never share one pipeline_root / metadata.db.

`fcntl.flock` on `<home>/.mtl.lock`: the kernel releases it when the process dies, so a crashed
run never leaves a stale lock behind. Runs on different homes are independent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path


class HomeLockedError(RuntimeError):
    """Another process holds the home's lock."""


@contextlib.contextmanager
def home_lock(home: str | os.PathLike, wait: bool = False, timeout: float | None = None):
    """Holds `<home>/.mtl.lock` for the duration of the block.

    Args:
      home: the home folder (created if missing).
      wait: block until the lock is free instead of failing at once.
      timeout: with `wait`, give up after this many seconds (None: wait forever).
    Raises:
      HomeLockedError: the lock is held by another process (naming its pid).
    """
    path = Path(home)
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / ".mtl.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    holder = lock_path.read_text().strip() or "unknown"
                    raise HomeLockedError(
                        f"{path} is in use by another mtl run (pid {holder}); wait for it to "
                        f"finish or use another --root"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield lock_path
    finally:
        os.close(fd)
