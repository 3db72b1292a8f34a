"""Runs the pipeline with TFX's LocalDagRunner (SQLite ML Metadata under the home folder).

`run(config)` is what `mtl run` calls: it generates the embedded dataset when the data folder
holds no span, checks the newest span, runs every component, and returns the run's summary read
from ML Metadata. The TFX CLI's pipeline file (pipeline/cli/tfx_pipeline.py) calls
`run_pipeline` under the same lock.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from pipeline.core.config import PipelineConfig
from pipeline.data import generator
from pipeline.data.preflight import check_latest_span
from pipeline.monitoring import summary as summary_lib
from pipeline.runs.lock import home_lock


def ensure_data(config: PipelineConfig) -> list[int]:
    """Generates the embedded dataset if the data folder holds no span; returns the spans."""
    spans = generator.existing_spans(config.data_dir)
    if not spans:
        logging.info("no span under %s: generating %d examples (seed %d)",
                     config.data_dir, config.examples, config.seed)
        generator.generate(config.data_dir, config.examples, 1, config.seed,
                           engagement_level="engagement_level" in config.extra_tasks)
        spans = generator.existing_spans(config.data_dir)
    return spans


@contextlib.contextmanager
def _argv_for_absl():
    """Hides the caller's command line from TFX's Beam executors while the pipeline runs.

    TFX's BaseBeamExecutor parses `sys.argv + beam_pipeline_args` with absl flags
    (tfx/dsl/components/base/base_beam_executor.py, "TODO(b/174174381)"), so the embedding
    program's own flags are read as absl's: pytest's `-v` became `--verbosity=<next arg>` and
    failed every Beam component. The pipeline's options travel in `beam_pipeline_args` instead.
    """
    saved = sys.argv[:]
    sys.argv[:] = saved[:1]
    try:
        yield
    finally:
        sys.argv[:] = saved


def run_pipeline(config: PipelineConfig) -> None:
    """Data check, then every component under LocalDagRunner (the caller holds the lock)."""
    # Lazy: TFX takes seconds to import; `mtl --help` and the other commands need none of it.
    from tfx import v1 as tfx

    from pipeline.dag.build import create_pipeline

    ensure_data(config)
    check_latest_span(config.data_dir)
    config.pipeline_root.mkdir(parents=True, exist_ok=True)
    with _argv_for_absl():
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))


def run_unlocked(config: PipelineConfig):
    """`run` for a caller that already holds the home's lock (`pipeline.runs.schedule`)."""
    run_pipeline(config)
    return summary_lib.summarize_latest_run(config)


def run(config: PipelineConfig, wait_for_lock: bool = False):
    """Runs the whole pipeline locally and returns its `summary.RunSummary`.

    Holds the home's lock for the whole run: a second run on the same home fails at once with
    `lock.HomeLockedError` (or waits for the first, with `wait_for_lock`).
    """
    with home_lock(config.home, wait=wait_for_lock):
        return run_unlocked(config)
