"""One run per home: a second holder fails with a clear message; other homes are free."""

import multiprocessing
import time

import pytest

from pipeline.runs.lock import HomeLockedError, home_lock


def _hold(home, seconds, ready):
    with home_lock(home):
        ready.set()
        time.sleep(seconds)


def test_second_run_on_the_same_home_fails_and_other_homes_are_free(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path / "a"), 3.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(HomeLockedError, match=rf"{tmp_path / 'a'} is in use .*pid {holder.pid}"):
            with home_lock(tmp_path / "a"):
                pass
        with home_lock(tmp_path / "b"):
            pass
        # Waiting works once the holder is done.
        with home_lock(tmp_path / "a", wait=True, timeout=30):
            pass
    finally:
        holder.join(30)


def test_lock_is_released_when_the_holder_dies(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), 60.0, ready))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join(30)
    with home_lock(tmp_path):
        pass
