"""Runs the pipeline locally (SQLite ML Metadata under the home folder).

`run(config)` generates the embedded dataset when the data folder holds no span, checks the
newest span, runs every component, and returns the run's summary read from ML Metadata.
The components run in TFX's LocalDagRunner's loop, driven here over TFX's public launcher
(pipeline.runs.dag_runner) so each launch is reported; `run_watched` is what `mtl run` calls:
the same, with one line per component on the terminal and the full logs in HOME/logs/
(pipeline.runs.progress). A run whose spans, configuration and code are those of the last
completed run runs nothing (pipeline.runs.unchanged). The TFX CLI's pipeline file
(pipeline/cli/tfx_pipeline.py) calls `run_pipeline` under the same lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
from pathlib import Path

from models.spec import default_spec
from pipeline.core.config import PipelineConfig
from pipeline.data import layout
from pipeline.data import schema as schema_lib
from pipeline.data.preflight import BadSpanError, check_latest_span, newest_span_examples
from pipeline.datasets import embedded
from pipeline.monitoring import summary as summary_lib
from pipeline.runs import progress, tuning, unchanged
from pipeline.runs.lock import home_lock


def ensure_data(config: PipelineConfig, reporter: progress.RunReporter | None = None) -> list[int]:
    """Generates the embedded dataset if the home's data folder holds no span (the default
    problem only: another problem's data is the user's); returns the spans."""
    spans = layout.existing_spans(config.data_dir)
    generate = embedded.generator_for(config.spec) if config.generates_data else None
    if not spans and generate is None:
        raise BadSpanError(f"{config.data_dir} holds no span-<N> folder: problem "
                           f"{config.spec.name!r} reads its spans from there (span-0/, "
                           f"span-1/, ... each holding {layout.FILE_GLOBS[config.spec.input_format]} "
                           f"files)")
    if not spans:
        generate, default_examples = generate
        examples = config.examples or default_examples
        logging.info("no span under %s: generating %d examples (seed %d)",
                     config.data_dir, examples, config.seed)
        if reporter:
            reporter.say(f"no span under {config.data_dir}: generating {examples:,} "
                         f"examples (seed {config.seed})")
        generate(config.data_dir, examples, config.seed, optional_tasks=config.extra_tasks)
        spans = layout.existing_spans(config.data_dir)
    return spans


def ensure_schema(config: PipelineConfig, reporter: progress.RunReporter | None = None) -> None:
    """A problem with no curated schema yet (none given, none in the home, none beside its
    spec) gets one frozen from its newest span, after that span passed the checks against the
    spec: the first span defines what later spans are validated against."""
    if config.infer_schema or config.schema_path:
        return
    try:
        schema_lib.resolve_schema_path(None, config.home, spec=config.spec)
        return
    except FileNotFoundError:
        if config.spec == default_spec():
            raise
    check_latest_span(config.data_dir, config.spec, config.tasks())
    out = schema_lib.home_schema_path(config.home)
    message = (f"problem {config.spec.name!r} has no curated schema: freezing one from the "
               f"newest span of {config.data_dir} to {out} (review it; later spans are "
               f"validated against it)")
    logging.info("%s", message)
    if reporter:
        reporter.say(message)
    schema_lib.freeze_from_data(config.data_dir, config.spec, out)
    ignored = schema_lib.ignored_message(out)
    if ignored:
        logging.info("%s", ignored)
        if reporter:
            reporter.say(ignored)


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


def run_pipeline(config: PipelineConfig, reporter: progress.RunReporter | None = None,
                 skip_unchanged: bool = False) -> str | None:
    """Data check, then every component in the local loop (the caller holds the lock).

    Returns None after a run. With `skip_unchanged` (`mtl run`, `tfx run create`), returns
    why nothing ran ("unchanged: ...") when the spans, configuration and code are those of the
    last completed run (pipeline.runs.unchanged); without it (the library calls `run` and
    `run_unlocked`, which the tests and `mtl schedule --always` use) the pipeline always runs,
    TFX's cache deciding per component.
    """
    # Lazy: TFX takes seconds to import; `mtl --help` and the other commands need none of it.
    from pipeline.dag.build import create_pipeline

    ensure_data(config, reporter)
    ensure_schema(config, reporter)
    if config.beam_processes == "auto":
        examples = newest_span_examples(config.data_dir, config.spec.input_format)
        config = config.resolve_beam_processes(examples)
        if config.data_beam_args() and reporter:
            reporter.say(f"Beam: {config.beam_processes} worker processes for ImportExampleGen, "
                         f"StatisticsGen, Transform and Evaluator (newest span: {examples:,} "
                         f"examples)")
    # A stored search of the same spec and flags (pipeline.runs.tuning).
    config = tuning.resolve_stored(config, reporter.say if reporter else None)
    config.pipeline_root.mkdir(parents=True, exist_ok=True)
    pipeline = create_pipeline(config)
    key = unchanged.run_key(config, pipeline)
    reason = unchanged.unchanged_reason(config, key) if skip_unchanged else None
    if reason:
        # The same files as that completed run, which passed this check: not read again.
        return reason
    notes: list[str] = []
    curated = schema_lib.resolve_schema_path(config.schema_path, config.home,
                                             infer=config.infer_schema, spec=config.spec)
    check_latest_span(config.data_dir, config.spec, config.tasks(), notes, schema=curated)
    for note in notes:
        logging.info("%s", note)
        if reporter:
            reporter.say(note)
    unchanged.forget(config)
    # Not `tfx.v1` (see pipeline/dag/build.py), and only now: an unchanged run needs none of
    # the launcher's modules.
    from pipeline.runs.dag_runner import ReportingDagRunner

    if reporter:
        reporter.total = len(pipeline.components)
    previous_run = unchanged.latest_run_id(config)
    try:
        with _argv_for_absl():
            ReportingDagRunner(reporter).run(pipeline)
    finally:
        if reporter:
            reporter.close()
    # Only a run this call made is recorded: under `tfx pipeline create` the TFX CLI
    # intercepts LocalDagRunner.run (ReportingDagRunner's too) and nothing runs.
    if unchanged.latest_run_id(config) not in (None, previous_run):
        unchanged.write_record(config, key, summary_lib.summarize_latest_run(config))
    return None


def run_unlocked(config: PipelineConfig):
    """`run` for a caller that already holds the home's lock (`pipeline.runs.schedule`)."""
    run_pipeline(config)
    return summary_lib.summarize_latest_run(config)


@dataclasses.dataclass
class RunResult:
    """What `mtl run` prints: the summary, why nothing ran (or None), and the log file."""

    summary: summary_lib.RunSummary
    unchanged: str | None
    log_path: Path


def run_watched(config: PipelineConfig, wait_for_lock: bool = False, verbosity: int = 0,
                out=None, force: bool = False, log_path: Path | None = None) -> RunResult:
    """`run` as `mtl run` shows it: one line per component on `out` (default stdout), the full
    logs in `log_path` (default HOME/logs/<timestamp>.log); `verbosity` 1 streams the logs
    too, -1 prints nothing. An unchanged run (pipeline.runs.unchanged) launches nothing
    unless `force`.

    A failing component's line is followed by the log's path and its last lines; the
    exception propagates, its traceback written to the log (not to `out`).
    """
    with home_lock(config.home, wait=wait_for_lock):
        log_path = log_path or progress.new_log_path(config.home)
        to_terminal = out is None
        out = out or sys.stdout
        if verbosity >= 0:
            print(f"mtl run: {config.home}; full logs in {log_path}", file=out, flush=True)
        with progress.logs_to_file(log_path, stream=verbosity > 0) as terminal:
            reporter = progress.RunReporter(terminal if to_terminal else out,
                                            log_path=log_path, quiet=verbosity < 0)
            try:
                reason = run_pipeline(config, reporter, skip_unchanged=not force)
                summary = summary_lib.summarize_latest_run(config)
            except Exception:
                logging.exception("the run stopped")
                raise
        return RunResult(summary, reason, log_path)


def run(config: PipelineConfig, wait_for_lock: bool = False):
    """Runs the whole pipeline locally and returns its `summary.RunSummary`.

    Holds the home's lock for the whole run: a second run on the same home fails at once with
    `lock.HomeLockedError` (or waits for the first, with `wait_for_lock`).
    """
    with home_lock(config.home, wait=wait_for_lock):
        return run_unlocked(config)
