"""Every architecture through the whole pipeline: Transform graph, masked labels, export, TFMA,
push. One full run, then the same home re-run with only the architecture changed, so the data
components and Transform come from the ML Metadata cache and only Trainer onwards run again."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from models.hparams import TABULAR_MODEL_NAMES as MODEL_NAMES
from tests.support import default_problem as features

pytestmark = pytest.mark.e2e

UPSTREAM = ("ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
            "AnomaliesGate", "Transform")


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory):
    """{architecture: summary}: the first architecture runs everything, the others reuse."""
    from pipeline.runs import local as local_runner
    from tests.support.pipelines import small_config, small_hparams

    root = tmp_path_factory.mktemp("zoo_home")
    # The gate here is the absolute small-data bound; each architecture is compared with the
    # previous one's blessed model only loosely (they are different models, 1 epoch each).
    config = small_config(root, examples=3000,
                          hparams=small_hparams(batch_size=32, model=MODEL_NAMES[0]),
                          max_changes={t.name: 1e6 for t in features.TASKS})
    runs = {}
    for name in MODEL_NAMES:
        hp = dataclasses.replace(config.hparams, model=name)
        runs[name] = (config.replace(hparams=hp), local_runner.run(config.replace(hparams=hp)))
    return runs


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_architecture_blesses_and_pushes_through_the_pipeline(zoo_runs, name):
    import tensorflow as tf

    config, summary = zoo_runs[name]
    states = {c.node_id: c.state for c in summary.components}
    if name != MODEL_NAMES[0]:
        # Only the architecture changed: data and Transform are reused from the cache.
        assert {states[n] for n in UPSTREAM} == {"CACHED"}, states
        assert states["Trainer"] == "COMPLETE", states
    assert summary.blessed is True and summary.failures == [], summary.format()
    assert summary.pushed and os.path.exists(os.path.join(summary.pushed_path, "saved_model.pb"))
    for tm in summary.tasks:
        assert tm.gate_value is not None and np.isfinite(tm.gate_value), (name, tm.task.name)
    serve = tf.saved_model.load(summary.pushed_path).signatures["serving_default"]
    outputs = serve(examples=tf.constant([b""]))
    # One output per task plus the fused ranking `score` (the serving contract).
    assert sorted(outputs) == sorted([t.name for t in features.TASKS] + ["score"])
