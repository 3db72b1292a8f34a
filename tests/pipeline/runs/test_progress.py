"""The run's terminal lines (pipeline.runs.progress): exact text, no pipeline needed."""

from __future__ import annotations

import io
import logging
import os
import sys

from pipeline.runs import progress


def test_format_line_pads_columns_and_drops_trailing_space():
    assert progress.format_line(3, 11, "done", "Transform", 21.71) == (
        "[ 3/11] done    Transform                        21.7 s")
    assert progress.format_line(10, 11, "start", "Evaluator") == "[10/11] start   Evaluator"
    assert progress.format_line(1, 9, "cached", "StatisticsGen", 0.25,
                                "100 rows (train 80, eval 20)") == (
        "[1/9] cached  StatisticsGen                     0.2 s  100 rows (train 80, eval 20)")


def test_format_rows_and_training():
    assert progress.format_rows({"train": 80113, "eval": 19887}) == (
        "100,000 rows (train 80,113, eval 19,887)")
    assert progress.format_rows({}) == ""
    assert progress.format_training(1, 3, 120, 313, 0.81234) == (
        "epoch 1/3 step 120/313 loss 0.8123")
    assert progress.format_training(1, 1, 7, None, None) == "epoch 1/1 step 7"


def test_reporter_lines_and_failure_tail(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("before the component\n")
    out = io.StringIO()
    reporter = progress.RunReporter(out, total=2, log_path=log)
    assert reporter.live is False  # a StringIO is no terminal: whole lines only
    reporter.start("Trainer")
    with open(log, "a") as f:
        f.write("line one\n\nTraceback: boom\n")
    reporter.failed(RuntimeError("boom"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/2] start   Trainer"
    assert lines[1].startswith("[1/2] FAILED  Trainer") and lines[1].endswith("s  RuntimeError")
    assert lines[2:] == [f"log: {log} (last 2 lines of this component:)",
                         "  | line one", "  | Traceback: boom"]


def test_quiet_reporter_prints_only_a_failure():
    out = io.StringIO()
    reporter = progress.RunReporter(out, total=2, quiet=True)
    reporter.start("Trainer")
    reporter.end(progress.DONE)
    assert out.getvalue() == ""
    reporter.start("Pusher")
    reporter.failed(ValueError("x"))
    assert out.getvalue().startswith("[2/2] FAILED  Pusher")


def test_logs_to_file_sends_logging_and_native_writes_to_the_file(tmp_path, capsys):
    log = tmp_path / "logs" / "x.log"
    # A library loaded earlier (Transform's) may have lowered absl to WARNING.
    absl_logger = logging.getLogger("absl")
    saved = absl_logger.level
    absl_logger.setLevel(logging.WARNING)
    with progress.logs_to_file(log) as terminal:
        logging.getLogger("absl").info("an absl record")
        print("a python print")
        os.write(2, b"a native write to fd 2\n")
        print("for the person", file=terminal)
    text = log.read_text()
    assert "an absl record" in text and "a python print" in text
    assert "a native write to fd 2" in text
    captured = capsys.readouterr()
    assert captured.out == "for the person\n"
    assert "absl" not in captured.err
    assert sys.stdout is not None and logging.getLogger().handlers is not None
    assert absl_logger.level == logging.WARNING  # restored
    absl_logger.setLevel(saved)


def test_new_log_path_never_reuses_a_name(tmp_path):
    first = progress.new_log_path(tmp_path)
    first.write_text("")
    second = progress.new_log_path(tmp_path)
    assert first.parent == tmp_path / "logs" and second != first


def _busy():
    return sum(i * i for i in range(200_000))


def test_profiled_writes_one_dump_per_node_only_when_asked(tmp_path, monkeypatch):
    import pstats

    from benchmarks.common import top_functions

    monkeypatch.delenv(progress.PROFILE_ENV, raising=False)
    with progress.profiled("Transform"):
        _busy()
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv(progress.PROFILE_ENV, str(tmp_path / "prof"))
    with progress.profiled("Transform"):
        _busy()
    dump = tmp_path / "prof" / "Transform.prof"
    assert pstats.Stats(str(dump)).total_calls > 0
    names = [row[0] for row in top_functions(dump, n=3)]
    assert any("_busy" in name or "genexpr" in name for name in names), names


# (watch, counts seen): module state, since Beam runs a pickled copy of the mapped function.
_WATCHED: list = []


def _look(x):
    if x % 1000 == 999:  # the live count, read while the bundle runs
        _WATCHED[1].append(_WATCHED[0].elements())
    return x


def test_beam_watch_counts_the_elements_of_each_bundle_while_it_runs():
    import io

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.worker import bundle_processor

    from pipeline.core.config import DEFAULT_BEAM_ARGS

    saved = bundle_processor.BundleProcessor.process_bundle
    watch = progress.BeamWatch()
    _WATCHED[:] = [watch, []]
    with watch.hooked():
        with beam.Pipeline(options=PipelineOptions(list(DEFAULT_BEAM_ARGS))) as p:
            _ = p | beam.Create(range(5000)) | beam.Map(_look) | beam.combiners.Count.Globally()
    seen_while_running = _WATCHED[1]
    assert watch.bundles >= 1
    assert watch.elements() >= 5000  # at least every element of the largest collection
    assert seen_while_running and seen_while_running[-1] > seen_while_running[0] > 0
    # The hook is gone afterwards: Beam's own method again.
    from apache_beam.runners.worker import bundle_processor
    assert bundle_processor.BundleProcessor.process_bundle is saved
    assert "elements processed" in watch.status()
    reporter = progress.RunReporter(io.StringIO(), total=1, live=True)
    reporter.start("Transform")
    reporter.status(watch.status)
    assert f"{watch.elements():,} elements processed" in reporter._live_text()


def _beam_count(watch_class=None):
    """Runs a 3,000-element Beam pipeline (asserting its count) under a BeamWatch."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.core.config import DEFAULT_BEAM_ARGS

    watch = progress.BeamWatch()
    with watch.hooked(watch_class):
        with beam.Pipeline(options=PipelineOptions(list(DEFAULT_BEAM_ARGS))) as p:
            counted = p | beam.Create(range(3000)) | beam.combiners.Count.Globally()
            beam.testing.util.assert_that(counted, beam.testing.util.equal_to([3000]))
    return watch


def test_beam_without_the_bundle_class_runs_and_the_line_shows_seconds_only(monkeypatch):
    """A Beam whose bundle executor is not where this looks (None: not found): nothing is
    wrapped, the pipeline completes, and the live line has the seconds but no count."""
    import apache_beam.testing.util  # noqa: F401 - assert_that
    from apache_beam.runners.worker import bundle_processor

    saved = bundle_processor.BundleProcessor.process_bundle
    monkeypatch.setattr(progress, "_bundle_processor_class", lambda: None)
    watch = _beam_count()
    assert bundle_processor.BundleProcessor.process_bundle is saved
    assert watch.bundles == 0 and watch.elements() == 0 and watch.status() == ""
    reporter = progress.RunReporter(io.StringIO(), total=1, live=True)
    reporter.start("Transform")
    reporter.status(watch.status)
    text = reporter._live_text()
    assert text.startswith("  ... Transform") and text.endswith(" s")


class _NoCounters:
    """A bundle executor of another Beam: a different signature, no `ops`."""

    def __init__(self):
        self.calls = []

    def process_bundle(self, instruction_id, *, extra=None):
        self.calls.append((instruction_id, extra))
        return "result"


class _NoMethod:
    pass


def test_beam_watch_passes_calls_through_and_counts_zero_without_counters():
    runner = _NoCounters()
    original = _NoCounters.__dict__["process_bundle"]
    watch = progress.BeamWatch()
    with watch.hooked(_NoCounters):
        assert _NoCounters.__dict__["process_bundle"] is not original
        assert runner.process_bundle("b1", extra=2) == "result"
    assert runner.calls == [("b1", 2)]
    assert watch.bundles == 1 and watch.elements() == 0 and watch.status() == ""
    assert _NoCounters.__dict__["process_bundle"] is original  # restored
    with progress.BeamWatch().hooked(_NoMethod) as idle:  # no such method: left alone
        assert "process_bundle" not in _NoMethod.__dict__
    assert idle.status() == ""


def test_beam_pipeline_completes_when_the_counters_are_gone(monkeypatch):
    """Beam's bundles still run through the watch, but the operations lack the counters this
    reads (`ops` gone): the pipeline's result is right and the count is 0."""
    import apache_beam.testing.util  # noqa: F401 - assert_that

    monkeypatch.setattr(progress.BeamWatch, "largest_collection",
                        staticmethod(lambda processor: processor.no_such_attribute))
    watch = _beam_count()
    assert watch.bundles >= 1 and watch.done == 0 and watch.status() == ""


def test_training_status_lines_and_detail():
    from models.progress import Progress

    out = io.StringIO()
    reporter = progress.RunReporter(out, total=1, live=True)
    reporter.start("Trainer")
    status = progress.TrainingStatus(reporter)
    assert status.detail() == ""
    status(Progress(epoch=1, epochs=3, step=120, steps=None, loss=0.81234))
    assert reporter._live_text().endswith("epoch 1/3 step 120 loss 0.8123")
    status(Progress(epoch=1, epochs=3, step=313, steps=313, loss=0.8, epoch_done=True))
    assert reporter._live_text().endswith("epoch 1/3 done, 313 steps, loss 0.8000")
    assert status.detail() == "3 epochs, 313 steps/epoch, loss 0.8000"
    status(Progress(epoch=1, epochs=1, step=13, steps=None, loss=None, epoch_done=True))
    assert status.detail() == "1 epoch, 13 steps/epoch"


def test_trainer_line_says_epochs_best_and_why_from_history_json(tmp_path):
    import json

    run_dir = tmp_path / "model_run"
    run_dir.mkdir()
    (run_dir / "history.json").write_text(json.dumps({
        "loss": [0.9] * 7, "training": {"epochs": "auto", "epochs_run": 7, "best_epoch": 5,
                                        "stop_reason": "validation loss no better for 2 epochs"}}))
    outputs = {"model_run": [str(run_dir)]}
    assert progress.trainer_detail(outputs) == (
        "7 epochs (best 5), stopped: validation loss no better for 2 epochs")
    assert progress.format_training_summary(
        {"epochs": 3, "epochs_run": 3, "best_epoch": 3, "stop_reason": "asked"}) == (
        "3 epochs (as asked), last epoch kept")
    assert progress.format_training_summary(
        {"epochs": "auto", "epochs_run": 1, "best_epoch": 1,
         "stop_reason": "time cap of 60 s"}) == "1 epoch (best 1), stopped: time cap of 60 s"
    # A history.json without the entry (an older model run) gives no detail.
    (run_dir / "history.json").write_text(json.dumps({"loss": [0.9]}))
    assert progress.trainer_detail(outputs) == ""
    assert progress.trainer_detail({}) == ""
