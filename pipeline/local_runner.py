"""Runs the pipeline with TFX's LocalDagRunner (SQLite ML Metadata under the home folder).

`run(config)` is what `mtl run` calls: it generates the embedded dataset when the data folder
holds no span, runs every component, and returns the run's summary read from ML Metadata.

Run as a script, this file is also the pipeline file of the TFX CLI:

  tfx pipeline create --engine local --pipeline_path pipeline/local_runner.py
  tfx run create --engine local --pipeline_name mtl

Both execute this file (`tfx pipeline create` in-process with `LocalDagRunner.run` intercepted,
`tfx run create` as `python pipeline/local_runner.py`); the configuration comes from the
environment (`MTL_HOME`, `MTL_RUN_ARGS`, read by `pipeline.cli.config_from_environment`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

if __name__ == "__main__":
    # Run as a file, Python puts pipeline/ first on sys.path, where pipeline/pipeline.py would
    # shadow the `pipeline` package: put the project folder there instead.
    _here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

from pipeline import data as data_lib
from pipeline.config import PipelineConfig


def ensure_data(config: PipelineConfig) -> list[int]:
    """Generates the embedded dataset if the data folder holds no span; returns the spans."""
    spans = data_lib.existing_spans(config.data_dir)
    if not spans:
        logging.info("no span under %s: generating %d examples (seed %d)",
                     config.data_dir, config.examples, config.seed)
        data_lib.generate(config.data_dir, config.examples, 1, config.seed,
                          engagement_level="engagement_level" in config.extra_tasks)
        spans = data_lib.existing_spans(config.data_dir)
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


def _run_pipeline(config: PipelineConfig) -> None:
    """Data check, then every component under LocalDagRunner (the caller holds the lock)."""
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline
    from pipeline.preflight import check_latest_span

    ensure_data(config)
    check_latest_span(config.data_dir)
    config.pipeline_root.mkdir(parents=True, exist_ok=True)
    with _argv_for_absl():
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))


def run_unlocked(config: PipelineConfig):
    """`run` for a caller that already holds the home's lock (`pipeline.schedule`)."""
    from pipeline import summary as summary_lib

    _run_pipeline(config)
    return summary_lib.summarize_latest_run(config)


def run(config: PipelineConfig, wait_for_lock: bool = False):
    """Runs the whole pipeline locally and returns its `summary.RunSummary`.

    Holds the home's lock for the whole run: a second run on the same home fails at once with
    `lock.HomeLockedError` (or waits for the first, with `wait_for_lock`).
    """
    from pipeline.lock import home_lock

    with home_lock(config.home, wait=wait_for_lock):
        return run_unlocked(config)


def main() -> None:
    """The TFX CLI entry: builds the pipeline from the environment and runs it locally.

    Under `tfx pipeline create` the CLI intercepts `LocalDagRunner.run` and records the pipeline
    instead (the data folder is filled first, so that ImportExampleGen finds a span); under
    `tfx run create` the run is real and holds the home's lock like `mtl run`.
    """
    from pipeline.cli import config_from_environment
    from pipeline.lock import home_lock

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = config_from_environment()
    with home_lock(config.home):
        _run_pipeline(config)


if __name__ == "__main__":
    main()
