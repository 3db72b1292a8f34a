"""What `mtl run` shows while it runs: one line when each component starts and ends, a live
line for the long stages, and the full logs (absl, Beam, TensorFlow) in a file.

`RunReporter` formats and prints the lines; the component loop (pipeline.runs.dag_runner)
calls it around each launch, so each node's start, end, wall time and cache status reach it
exactly, instead of being guessed from log text; `logs_to_file` sends everything else (Python
logging, warnings, and the C++ libraries' writes to file descriptors 1 and 2) to the run's
log file.

Progress: the Trainer reports epoch, step and loss through its Keras callback
(models.progress; `TrainingStatus` listens). On a terminal the Beam stages report the
elements processed so far (`BeamWatch`, read from Beam's own counters while the in-process
runner executes a bundle); with worker processes (`--beam-processes`), or a Beam without
those counters, the line shows the elapsed seconds only.
"""

from __future__ import annotations

import contextlib
import cProfile
import dataclasses
import functools
import json
import logging
import os
import sys
import threading
import time
import warnings
from pathlib import Path

from pipeline.monitoring import tuning as tuning_lib

# Statuses of a component line, padded to one width.
STARTED, DONE, CACHED, SKIPPED, FAILED = "start", "done", "cached", "skipped", "FAILED"
TAIL_LINES = 25


def format_line(index: int, total: int, status: str, node_id: str,
                seconds: float | None = None, detail: str = "") -> str:
    """One component line: `[ 3/11] done    Transform                  21.7 s  detail`."""
    width = len(str(total))
    line = f"[{index:>{width}}/{total}] {status:<7} {node_id:<30}"
    if seconds is not None:
        line += f" {seconds:6.1f} s"
    if detail:
        line += f"  {detail}"
    return line.rstrip()


def format_rows(counts: dict[str, int]) -> str:
    """{"train": 80113, "eval": 19887} -> "100,000 rows (train 80,113, eval 19,887)"."""
    if not counts:
        return ""
    parts = ", ".join(f"{split} {n:,}" for split, n in counts.items())
    return f"{sum(counts.values()):,} rows ({parts})"


def format_training(epoch: int, epochs: int, step: int, steps: int | None,
                    loss: float | None) -> str:
    """`epoch 1/3 step 120/313 loss 0.8123` (steps unknown in the first epoch: `step 120`)."""
    text = f"epoch {epoch}/{epochs} step {step}" + (f"/{steps}" if steps else "")
    return text + (f" loss {loss:.4f}" if loss is not None else "")


@dataclasses.dataclass
class RunReporter:
    """Prints component lines to `out` (the terminal); `quiet` prints nothing.

    `live` (default: `out` is a terminal) rewrites one status line in place with the running
    component's elapsed seconds (and the Trainer's step and loss); without it only whole lines
    are printed, so a captured output is the same on every run but for the seconds.
    """

    out: object
    total: int = 0
    log_path: Path | None = None
    quiet: bool = False
    live: bool | None = None
    index: int = 0
    _status: str = ""
    _started: float = 0.0
    _node: str = ""
    _log_offset: int = 0
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    _ticker: threading.Thread | None = None
    _stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def __post_init__(self):
        if self.live is None:
            isatty = getattr(self.out, "isatty", None)
            self.live = bool(isatty and isatty()) and not self.quiet

    def say(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            self._clear()
            print(text, file=self.out, flush=True)
            self._draw()

    def start(self, node_id: str) -> None:
        self.index += 1
        self._node, self._started, self._status = node_id, time.perf_counter(), ""
        self._log_offset = self._log_size()
        self.say(format_line(self.index, self.total, STARTED, node_id))
        if self.live and self._ticker is None:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def status(self, text) -> None:
        """The live detail of the running component (Trainer: epoch, step, loss), or a
        function giving it at each redraw (Beam stages: the elements processed)."""
        self._status = text

    def end(self, status: str, detail: str = "") -> float:
        seconds = time.perf_counter() - self._started
        node, self._node = self._node, ""
        self.say(format_line(self.index, self.total, status, node, seconds, detail))
        return seconds

    def failed(self, error: BaseException) -> None:
        """The FAILED line, the log's path and the last lines the component logged (also
        when quiet: there is no summary to print instead)."""
        self.quiet = False
        self.end(FAILED, type(error).__name__)
        if self.log_path is None:
            return
        tail = self.component_log_tail()
        self.say(f"log: {self.log_path}" + (f" (last {len(tail)} lines of this component:)"
                                             if tail else ""))
        for line in tail:
            self.say(f"  | {line}")

    def component_log_tail(self, lines: int = TAIL_LINES) -> list[str]:
        """The component's last log lines, tracebacks left out (the log file keeps them)."""
        if self.log_path is None or not self.log_path.exists():
            return []
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            text = f.read().decode("utf-8", "replace")
        return without_tracebacks([line for line in text.splitlines() if line.strip()])[-lines:]

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
            self._ticker = None
        with self._lock:
            self._clear()

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size if self.log_path else 0
        except OSError:
            return 0

    def _live_text(self) -> str:
        if not self._node:
            return ""
        seconds = time.perf_counter() - self._started
        status = self._status() if callable(self._status) else self._status
        return f"  ... {self._node} {seconds:5.0f} s  {status}".rstrip()

    def _draw(self) -> None:
        if self.live and self._node:
            self.out.write(self._live_text()[:150])
            self.out.flush()

    def _clear(self) -> None:
        if self.live:
            self.out.write("\r\x1b[K")

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._clear()
                self._draw()


_TRACEBACK_STARTS = ("Traceback (most recent call last):",
                     "During handling of the above exception, another exception occurred:",
                     "The above exception was the direct cause of the following exception:")


def without_tracebacks(lines: list[str]) -> list[str]:
    """`lines` without Python tracebacks' headers and frames (their indented lines); the
    exception's own line, which follows the frames, is kept."""
    out, inside = [], False
    for line in lines:
        if line.strip() in _TRACEBACK_STARTS:
            inside = True
        elif not (inside and line.startswith(" ")):
            inside = False
            out.append(line)
    return out


def statistics_rows(uris: list[str]) -> dict[str, int]:
    """{split: examples} read from StatisticsGen's output folders (one small proto per split)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    counts = {}
    for uri in uris[:1]:
        for split_dir in sorted(Path(uri).glob("Split-*")):
            path = split_dir / "FeatureStats.pb"
            if path.exists():
                stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())
                counts[split_dir.name[len("Split-"):]] = sum(d.num_examples
                                                             for d in stats.datasets)
    order = {"train": 0, "eval": 1}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])))


def rows_detail(node_type: str, outputs: dict[str, list[str]]) -> str:
    """The rows a component read or wrote, where its outputs ({key: [uri, ...]}) say so
    cheaply; "" when they do not (or cannot be read: a detail never fails the run)."""
    try:
        if node_type.endswith("StatisticsGen"):
            return format_rows(statistics_rows(outputs.get("statistics", [])))
        if node_type.endswith(".Tuner") and outputs.get("tuner_results"):
            return tuning_lib.results_detail(outputs["tuner_results"][0])
    except Exception:  # noqa: BLE001 - a detail of a line must never fail the run
        logging.exception("could not read the row counts of %s", node_type)
    return ""


class TrainingStatus:
    """The Trainer's part of the status line: a listener of `models.progress.TrainingProgress`
    (the Keras callback the Trainer adds), fed the epoch, step and loss as training goes."""

    def __init__(self, reporter: RunReporter):
        self.reporter = reporter
        self.latest = None

    def __call__(self, progress) -> None:
        self.latest = progress
        if progress.epoch_done:
            text = f"epoch {progress.epoch}/{progress.epochs} done, {progress.step} steps"
            if progress.loss is not None:
                text += f", loss {progress.loss:.4f}"
        else:
            text = format_training(progress.epoch, progress.epochs, progress.step,
                                   progress.steps, progress.loss)
        self.reporter.status(text)

    def detail(self) -> str:
        """`3 epochs, 313 steps/epoch, loss 0.8123`, or "" when no report came."""
        p = self.latest
        if p is None or not p.epochs:
            return ""
        text = f"{p.epochs} epoch{'s' if p.epochs > 1 else ''}, {p.step} steps/epoch"
        return text + (f", loss {p.loss:.4f}" if p.loss is not None else "")


def format_training_summary(training: dict) -> str:
    """The Trainer line's detail from history.json's "training" entry:
    `7 epochs (best 5), stopped: validation loss no better for 2 epochs`, or for a run of a
    fixed number of epochs `3 epochs (as asked), last epoch kept`."""
    run = int(training.get("epochs_run") or 0)
    if not run:
        return ""
    text = f"{run} epoch{'s' if run > 1 else ''}"
    if training.get("epochs") != "auto":
        return text + " (as asked), last epoch kept"
    reason = training.get("stop_reason") or ""
    return f"{text} (best {training.get('best_epoch')}), stopped: {reason}".rstrip(", :")


def trainer_detail(outputs: dict[str, list[str]]) -> str:
    """The Trainer line's detail, read from its model-run output's history.json once the
    Trainer has completed ("" when there is none)."""
    for uri in outputs.get("model_run", [])[:1]:
        try:
            training = json.loads((Path(uri) / "history.json").read_text()).get("training")
        except (OSError, ValueError, AttributeError):
            return ""
        return format_training_summary(training) if isinstance(training, dict) else ""
    return ""


# Node types whose work is a Beam pipeline (ImportExampleGen or CsvExampleGen, StatisticsGen,
# Transform, Evaluator, ...): they get the live element count.
BEAM_NODE_SUFFIXES = ("ExampleGen", "StatisticsGen", "Transform", "Evaluator")


def _bundle_processor_class():
    """Beam's in-process bundle executor class, or None where this Beam has none by that name."""
    try:
        from apache_beam.runners.worker import bundle_processor
    except ImportError:
        return None
    return getattr(bundle_processor, "BundleProcessor", None)


class BeamWatch:
    """Counts the elements the in-process Beam runner processes while a component runs, for
    the live status line only (`RunReporter.live`: a terminal watches).

    Beam has no public live count, so this wraps `BundleProcessor.process_bundle` (the SDK
    harness's execution of one bundle) for the component's duration to know the bundle
    running; its operations' element counters (`ops`, `receivers`, `opcounter`, Beam's own,
    updated per element) give the live count, and a finished bundle adds its count to the
    total. A bundle's count is that of its largest collection (the records a read or a fused
    stage went through). The wrapper passes every call through unchanged and its own code never
    raises: where the class, the method or a counter is missing (another Beam), the count is
    0 and the line shows the seconds only. With worker processes (`--beam-processes`) the
    bundles run elsewhere: seconds only as well.
    """

    def __init__(self):
        self.done = 0
        self.bundles = 0
        self._active = None
        self._lock = threading.Lock()

    @staticmethod
    def largest_collection(processor) -> int:
        largest = 0
        try:
            operations = list(getattr(processor, "ops", {}).values())
        except (AttributeError, TypeError):
            return 0
        for operation in operations:
            for receiver in getattr(operation, "receivers", None) or ():
                try:
                    largest = max(largest, int(receiver.opcounter.element_counter.value()))
                except (AttributeError, TypeError, ValueError):
                    continue
        return largest

    def elements(self) -> int:
        active = self._active
        return self.done + (self.largest_collection(active) if active is not None else 0)

    def status(self) -> str:
        count = self.elements()
        return f"{count:,} elements processed" if count else ""

    def _begin(self, processor) -> None:
        self._active = processor

    def _finish(self, processor) -> None:
        try:
            count = self.largest_collection(processor)
        except Exception:  # noqa: BLE001 - a count must never fail a bundle
            count = 0
        with self._lock:
            self.done += count
            self.bundles += 1
            if self._active is processor:
                self._active = None

    @contextlib.contextmanager
    def hooked(self, cls=None):
        """Counts while the block runs. `cls`: the class to watch (default: Beam's
        BundleProcessor); one without its own `process_bundle` is left alone."""
        cls = _bundle_processor_class() if cls is None else cls
        saved = vars(cls).get("process_bundle") if cls is not None else None
        if not callable(saved):
            logging.info("Beam element count unavailable: no BundleProcessor.process_bundle")
            yield self
            return
        watch = self

        @functools.wraps(saved)
        def process_bundle(processor, *args, **kwargs):
            watch._begin(processor)
            try:
                return saved(processor, *args, **kwargs)
            finally:
                watch._finish(processor)

        cls.process_bundle = process_bundle
        try:
            yield self
        finally:
            if cls.__dict__.get("process_bundle") is process_bundle:
                cls.process_bundle = saved


PROFILE_ENV = "MTL_PROFILE_DIR"


@contextlib.contextmanager
def profiled(node_id: str):
    """With $MTL_PROFILE_DIR set, a cProfile of the node's launch in `<dir>/<node>.prof`
    (`python -m benchmarks.pipeline --profile`). The in-process FnApiRunner executes Beam
    bundles on this thread, so Beam stages are in it; TensorFlow's own threads show as the
    Python calls that wait for them."""
    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        yield
        return
    profile = cProfile.Profile()
    try:
        profile.enable()
    except ValueError:  # another profiler is active (python -m cProfile)
        yield
        return
    try:
        yield
    finally:
        profile.disable()
        Path(folder).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(Path(folder) / f"{node_id}.prof"))


def keep_absl_info() -> None:
    """Transform's libraries lower absl's level to WARNING: without this the log file would
    lose the INFO records of every later component (the runner's included)."""
    absl_logger = logging.getLogger("absl")
    if absl_logger.getEffectiveLevel() > logging.INFO:
        absl_logger.setLevel(logging.INFO)


def new_log_path(home: Path) -> Path:
    """HOME/logs/<UTC timestamp>.log (a suffix when two runs start in the same second)."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path, n = logs / f"{stamp}.log", 1
    while path.exists():
        n += 1
        path = logs / f"{stamp}-{n}.log"
    return path


def _terminal(stream):
    """A stream that still reaches the terminal after fd 1 is redirected: a duplicate of the
    stream's descriptor, or the stream itself when it has none (a test's capture)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream, False
    return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace"), True


@contextlib.contextmanager
def logs_to_file(log_path: Path, stream: bool = False):
    """Sends the run's logs to `log_path`; yields the stream the reporter prints to.

    absl's own records are kept at INFO for the run whatever an earlier library set its level
    to (restored afterwards).
    """
    absl_logger = logging.getLogger("absl")
    saved_absl = absl_logger.level
    keep_absl_info()
    try:
        with _logs_to_file(log_path, stream) as terminal:
            yield terminal
    finally:
        absl_logger.setLevel(saved_absl)


@contextlib.contextmanager
def _logs_to_file(log_path: Path, stream: bool = False):
    """`logs_to_file` without the absl level.

    `stream` (`mtl run -v`): the logs go to the terminal as well, as they always did (the C++
    libraries' output only to the terminal). Otherwise Python logging, warnings and everything
    written to file descriptors 1 and 2 (TensorFlow's and Beam's native logs, Keras' lines)
    go only to the file.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    root.setLevel(min(saved_level or logging.INFO, logging.INFO))
    if stream:
        root.addHandler(handler)
        try:
            yield sys.stdout
        finally:
            root.removeHandler(handler)
            root.setLevel(saved_level)
            log.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    terminal, owned = _terminal(sys.stdout)
    saved_fds = os.dup(1), os.dup(2)
    saved_sys = sys.stdout, sys.stderr
    saved_handlers = root.handlers[:]
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    root.handlers[:] = [handler]
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield terminal
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        sys.stdout, sys.stderr = saved_sys
        log.flush()
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        os.close(saved_fds[0])
        os.close(saved_fds[1])
        if owned:
            terminal.flush()
            terminal.close()
        log.close()


def quiet_libraries() -> None:
    """Silences TensorFlow's native logs, absl and Python warnings for the commands that only
    read (`mtl metrics`, `mtl report`, `mtl predict`, ...); call before TensorFlow loads."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    # TensorFlow's deprecation notices (TFMA's readers call deprecated functions) are
    # WARNING records of its Python logger.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
