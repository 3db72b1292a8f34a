"""Benchmark helpers: Beam flag building, the child-process runner's figures, the masked
metrics and mean ± std of the quality benchmarks, the newest artifact folders."""

from __future__ import annotations

import math
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


def test_masked_auc_counts_only_observed_rows_and_ties_as_half():
    # Observed rows (mask 1): labels 1, 0, 1, 0 with scores 0.8, 0.4, 0.4, 0.1.
    # Pairs (positive, negative): (0.8, 0.4) 1, (0.8, 0.1) 1, (0.4, 0.4) 1/2, (0.4, 0.1) 1
    # -> 3.5 / 4. The masked-out rows would reverse the ranking if they counted.
    labels = [1, 0, 1, 0, 1, 0]
    scores = [0.8, 0.4, 0.4, 0.1, 0.0, 0.9]
    mask = [1, 1, 1, 1, 0, 0]
    assert common.masked_auc(labels, scores, mask) == pytest.approx(0.875)
    # All six rows: positives 0.8, 0.4, 0.0 vs negatives 0.4, 0.1, 0.9:
    # 0.8 beats 0.4, 0.1 (2); 0.4 ties 0.4 and beats 0.1 (1.5); 0.0 beats none -> 3.5 / 9.
    assert common.masked_auc(labels, scores) == pytest.approx(3.5 / 9)


def test_masked_auc_is_nan_with_one_class():
    assert math.isnan(common.masked_auc([1, 1, 0], [0.2, 0.3, 0.9], [1, 1, 0]))


def test_masked_rmse_ignores_missing_rows():
    # Observed errors 3 and 4 -> sqrt((9 + 16) / 2).
    assert common.masked_rmse([10.0, 0.0, 5.0], [13.0, 50.0, 1.0], [1, 0, 1]) == \
        pytest.approx(math.sqrt(12.5))


def test_mean_std_is_the_population_std_rounded():
    assert common.mean_std([1.0, 2.0, 4.0]) == {"mean": 2.3333, "std": 1.2472}
    assert common.mean_std([0.5]) == {"mean": 0.5, "std": 0.0}


def test_latest_artifact_dir_takes_the_highest_execution_id(tmp_path):
    base = tmp_path / "pipeline_root" / "Transform" / "transform_graph"
    for name in ("9", "10", "scratch"):
        (base / name).mkdir(parents=True)
    assert common.latest_artifact_dir(tmp_path, "Transform", "transform_graph") == base / "10"
    with pytest.raises(FileNotFoundError, match="no Trainer model under"):
        common.latest_artifact_dir(tmp_path, "Trainer", "model")
