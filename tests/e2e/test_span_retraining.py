"""Scheduled retraining on spans, end to end: span 1, then span 2 appended and a second run."""

from __future__ import annotations

import os

import pytest

from models.hparams import ModelHParams
from tests.support import default_problem as features
from tests.support.pipelines import small_config

pytestmark = pytest.mark.e2e

# Absolute bounds low enough that 2,000 examples and 1 epoch are blessed on span 1 (the test is
# about the mechanics: span window, baseline comparison, gated push), not the model quality.
LOOSE_THRESHOLDS = {"click": 0.5, "conversion": 0.4, "watch_time": 500.0, "like": 0.4}


def test_second_run_reads_new_span_compares_against_first_model_and_gates_the_push(tmp_path):
    from pipeline.data.spans import WINDOW_RESOLVER_ID, artifact_spans
    from pipeline.datasets import generator as data_lib
    from pipeline.runs import local as local_runner

    config = small_config(tmp_path / "home", examples=2000, train_spans=2,
                          thresholds=dict(LOOSE_THRESHOLDS), hparams=ModelHParams(epochs=1, batch_size=128))
    first = local_runner.run(config)
    assert first.blessed is True and first.pushed, first.format()
    assert all(tm.baseline == {} for tm in first.tasks)  # no blessed model yet

    data_lib.generate(config.data_dir, 2000, 1, config.seed, append=True)
    second = local_runner.run(config)

    def spans(summary, node):
        return artifact_spans(config.metadata_path, summary.run_id, node, config.pipeline_name)

    # Each run ingests the newest span; the Evaluator gates on it.
    assert spans(first, "ImportExampleGen") == [1]
    assert spans(second, "ImportExampleGen") == [2]
    assert spans(second, "Evaluator") == [2]
    # The rolling window (K=2) trains on both spans in the second run.
    assert spans(first, WINDOW_RESOLVER_ID) == [1]
    assert spans(second, WINDOW_RESOLVER_ID) == [1, 2]
    assert spans(second, "Transform") == [1, 2]
    # The second candidate was compared with the first (blessed) model on span 2.
    assert [tm.task.name for tm in second.tasks] == [t.name for t in features.TASKS]
    for tm in second.tasks:
        assert tm.task.metric in tm.baseline, tm.task.name
    # A new version is pushed only if the gate passed.
    assert second.pushed == bool(second.blessed)
    versions = sorted(os.listdir(config.serving_dir))
    assert len(versions) == (2 if second.blessed else 1)
    assert first.pushed_path == str(config.serving_dir / versions[0])
    if second.blessed:
        assert second.pushed_path == str(config.serving_dir / versions[1])
    else:
        assert second.failures
