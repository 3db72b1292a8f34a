"""Runs the pipeline with TFX's LocalDagRunner (SQLite ML Metadata under the home folder).

`run(config)` is what `mtl run` calls: it generates the embedded dataset when the data folder
holds no span, runs every component, and returns the run's summary read from ML Metadata.
"""

from __future__ import annotations

import logging

from pipeline import data as data_lib
from pipeline.config import PipelineConfig


def ensure_data(config: PipelineConfig) -> list[int]:
    """Generates the embedded dataset if the data folder holds no span; returns the spans."""
    spans = data_lib.existing_spans(config.data_dir)
    if not spans:
        logging.info("no span under %s: generating %d examples (seed %d)",
                     config.data_dir, config.examples, config.seed)
        data_lib.generate(config.data_dir, config.examples, 1, config.seed)
        spans = data_lib.existing_spans(config.data_dir)
    return spans


def run(config: PipelineConfig, wait_for_lock: bool = False):
    """Runs the whole pipeline locally and returns its `summary.RunSummary`.

    Holds the home's lock for the whole run: a second run on the same home fails at once with
    `lock.HomeLockedError` (or waits for the first, with `wait_for_lock`).
    """
    from tfx import v1 as tfx

    from pipeline import summary as summary_lib
    from pipeline.lock import home_lock
    from pipeline.pipeline import create_pipeline
    from pipeline.preflight import check_latest_span

    with home_lock(config.home, wait=wait_for_lock):
        ensure_data(config)
        check_latest_span(config.data_dir)
        config.pipeline_root.mkdir(parents=True, exist_ok=True)
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))
        return summary_lib.summarize_latest_run(config)
