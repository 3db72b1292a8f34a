"""A rolling window of three spans: Transform analyzes each span once (the analyzer cache),
transforms none (the Trainer reads the raw window), and incremental training replays a sample
of the older spans."""

from __future__ import annotations

import io

import pytest

from models.hparams import ModelHParams
from tests.support.pipelines import small_config

pytestmark = pytest.mark.e2e

LOOSE_THRESHOLDS = {"click": 0.5, "conversion": 0.4, "watch_time": 500.0, "like": 0.4}


def _cache_properties(config, run_id):
    from pipeline.core import metadata

    store = metadata.readonly_store(config.metadata_path)
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    cache_type = store.get_artifact_type("TransformCache").id
    # The run's cache artifacts: the one it read (the previous run's) and the one it wrote.
    written = max((a for a in store.get_artifacts_by_context(run.id) if a.type_id == cache_type),
                  key=lambda a: a.id)
    props = written.custom_properties
    return props["analyzed_spans"].string_value, props["cached_spans"].string_value


def test_three_span_window_analyzes_only_the_new_span(tmp_path):
    from pipeline.data.spans import artifact_spans
    from pipeline.datasets import generator as data_lib
    from pipeline.runs import local as local_runner

    config = small_config(tmp_path / "home", examples=1500, train_spans=3,
                          thresholds=dict(LOOSE_THRESHOLDS),
                          hparams=ModelHParams(epochs=1, batch_size=128, steps_per_epoch=5))
    logs = []
    for day in range(3):
        if day:
            data_lib.generate(config.data_dir, 1500, 1, config.seed + day, append=True)
        day_config = config.replace(train_mode="incremental") if day == 2 else config
        result = local_runner.run_watched(day_config, verbosity=-1, out=io.StringIO())
        assert result.summary.run_id, result.summary.format()
        # The first run has no cache to resolve yet: the resolver gives none, without failing.
        assert [c.node_id for c in result.summary.components if c.state == "FAILED"] == []
        logs.append(result.log_path.read_text())
        analyzed, cached = _cache_properties(config, result.summary.run_id)
        spans_read = artifact_spans(config.metadata_path, result.summary.run_id, "Transform",
                                    config.pipeline_name)
        assert spans_read == list(range(1, day + 2))
        # Each run analyzes its new span only; the older spans' results come from the cache.
        assert analyzed == str(day + 1)
        assert cached == ",".join(str(s) for s in range(1, day + 1))
        assert (f"Transform analyzer cache: analyzed span(s) {day + 1}; span(s) "
                f"{cached or 'none'} taken from the cache") in logs[-1]
        # Nothing is materialized: the Trainer reads the raw spans of the window.
        assert artifact_spans(config.metadata_path, result.summary.run_id, "Trainer",
                              config.pipeline_name) == spans_read
    assert "incremental training: span 3 whole, a 20% replay sample of span(s) [1, 2]" in logs[2]
    assert "incremental training" not in logs[1]
