"""Shared fixtures. TensorFlow logging is quietened before any test imports it.

`small_run` runs the whole pipeline once per test session on a small generated dataset; e2e
tests that only read its outputs share it instead of paying for another run.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.support.pipelines import small_config  # noqa: E402


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """(config, summary) of one complete pipeline run on small data; do not modify its home."""
    from pipeline.runs import local as local_runner

    config = small_config(tmp_path_factory.mktemp("small_home"))
    summary = local_runner.run(config)
    return config, summary
