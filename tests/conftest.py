"""Shared fixtures. TensorFlow logging is quietened before any test imports it.

`small_run` runs the whole pipeline once per test session on a small generated dataset; e2e
tests that only read its outputs share it instead of paying for another run.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Small data cannot reach the production bounds in models.features; e2e tests gate on these
# (still above chance) so that they test the mechanics, not the data size.
SMALL_DATA_THRESHOLDS = {"click": 0.55, "conversion": 0.55, "watch_time": 80.0, "like": 0.5}
SMALL_EXAMPLES = 5000


def small_config(root, **changes):
    """A config for a fast run on `SMALL_EXAMPLES` generated examples under `root`."""
    from models.hparams import ModelHParams
    from pipeline.config import PipelineConfig

    hparams = changes.pop("hparams", ModelHParams(epochs=3, batch_size=128))
    return PipelineConfig(
        root=str(root),
        examples=changes.pop("examples", SMALL_EXAMPLES),
        seed=changes.pop("seed", 7),
        hparams=hparams,
        thresholds=changes.pop("thresholds", dict(SMALL_DATA_THRESHOLDS)),
        **changes,
    )


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """(config, summary) of one complete pipeline run on small data; do not modify its home."""
    from pipeline import local_runner

    config = small_config(tmp_path_factory.mktemp("small_home"))
    summary = local_runner.run(config)
    return config, summary
