"""The fault suite's baseline: ONE healthy home with a pushed model, restored for every case.

`baseline_home` runs the pipeline once (2,000 examples, 1 epoch) with the committed curated
schema, then snapshots the whole home (`shutil.copytree`). Each case gets the home restored
from the snapshot AT THE SAME PATH and appends its own bad span. The same path matters:
metadata.db records absolute artifact URIs, and ImportExampleGen's fingerprint holds the span
files' absolute paths, so a copy under another path works (the URIs still point at the
baseline) but re-runs the data components even for unchanged data; restored in place, every
cached execution and the latest blessed model resolve exactly as in the baseline.
"""

from __future__ import annotations

import shutil

import pytest

from tests.support.faults import fault_config, tree_digest


@pytest.fixture(scope="session")
def baseline_home(tmp_path_factory):
    """(config, summary, serving digest, snapshot folder) of the healthy baseline run."""
    from pipeline.runs import local as local_runner

    root = tmp_path_factory.mktemp("faults")
    config = fault_config(root / "home")
    summary = local_runner.run(config)
    assert summary.blessed and summary.pushed, summary.format()
    snapshot = root / "pristine"
    shutil.copytree(config.home, snapshot, ignore=shutil.ignore_patterns(".mtl.lock"))
    return config, summary, tree_digest(config.home / "serving"), snapshot


@pytest.fixture
def fault_home(baseline_home):
    """The baseline home restored from its snapshot: (config, baseline serving digest)."""
    config, _, digest, snapshot = baseline_home
    shutil.rmtree(config.home)
    shutil.copytree(snapshot, config.home)
    return config, digest
