"""Benchmark helpers: Beam flag building, the child-process runner's figures."""

from __future__ import annotations

import sys

import pytest

from benchmarks import common, scaling


def test_beam_args_from_mode_and_workers():
    assert scaling.beam_args("multi_processing:2") == [
        "--runner=FnApiRunner", "--direct_running_mode=multi_processing",
        "--direct_num_workers=2"]
    assert scaling.beam_args("in_memory")[-1] == "--direct_num_workers=1"
    with pytest.raises(ValueError, match="bogus"):
        scaling.beam_args("bogus:2")


def test_run_tree_reports_exit_code_and_memory_of_a_child_holding_256_mib(tmp_path):
    code = "import time; b = bytearray(256 * 2**20); b[::4096] = b'x' * len(b[::4096]); " \
           "time.sleep(1.5); raise SystemExit(3)"
    run = common.run_tree([sys.executable, "-c", code], tmp_path / "child.log", poll=0.05)
    assert run["returncode"] == 3
    # The child's resident set includes the 256 MiB buffer (plus the interpreter).
    assert 0.25 <= run["peak_tree_gib"] < 1.0
    assert run["peak_single_gib"] == pytest.approx(run["peak_tree_gib"])
