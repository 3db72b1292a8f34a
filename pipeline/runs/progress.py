"""What `mtl run` shows while it runs: one line when each component starts and ends, a live
line for the long stages, and the full logs (absl, Beam, TensorFlow) in a file.

`RunReporter` formats and prints the lines; `watch_components` wraps TFX's component launcher
(`tfx.orchestration.portable.launcher.Launcher`, which LocalDagRunner calls once per node, in
topological order) so each node's start, end, wall time and cache status reach the reporter
exactly, instead of being guessed from log text; `logs_to_file` sends everything else (Python
logging, warnings, and the C++ libraries' writes to file descriptors 1 and 2) to the run's
log file.

Progress: the Trainer reports epoch, step and loss (a hook on Keras' ProgbarLogger, which
`model.fit` always adds). The Beam stages report the elements processed so far (`_BeamWatch`:
per bundle, the element count of its largest collection, read from Beam's own counters while
the in-process runner executes it); with worker processes (`--beam-processes`) their bundles
run elsewhere and the line shows the elapsed seconds only.
"""

from __future__ import annotations

import contextlib
import cProfile
import dataclasses
import json
import logging
import os
import sys
import threading
import time
import warnings
from pathlib import Path

# Statuses of a component line, padded to one width.
STARTED, DONE, CACHED, FAILED = "start", "done", "cached", "FAILED"
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
        if self.log_path is None or not self.log_path.exists():
            return []
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            text = f.read().decode("utf-8", "replace")
        return [line for line in text.splitlines() if line.strip()][-lines:]

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


def _statistics_rows(output_dict) -> dict[str, int]:
    """{split: examples} read from StatisticsGen's output (one small proto per split)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    counts = {}
    for artifact in output_dict.get("statistics", [])[:1]:
        for split_dir in sorted(Path(artifact.uri).glob("Split-*")):
            path = split_dir / "FeatureStats.pb"
            if path.exists():
                stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())
                counts[split_dir.name[len("Split-"):]] = sum(d.num_examples
                                                             for d in stats.datasets)
    order = {"train": 0, "eval": 1}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])))


def _rows_detail(node_type: str, execution_info) -> str:
    """The rows a component read or wrote, where its outputs say so cheaply."""
    output_dict = getattr(execution_info, "output_dict", None) or {}
    try:
        if node_type.endswith("StatisticsGen"):
            return format_rows(_statistics_rows(output_dict))
    except Exception:  # noqa: BLE001 - a detail of a line must never fail the run
        logging.exception("could not read the row counts of %s", node_type)
    return ""


class _TrainingWatch:
    """Hooks Keras' ProgbarLogger (added by every `model.fit`) to report epoch, step and loss.

    The loss is read at most twice a second (reading it waits for the step to finish)."""

    def __init__(self, reporter: RunReporter):
        self.reporter = reporter
        self.epoch = self.epochs = self.step = 0
        self.steps: int | None = None
        self.loss: float | None = None
        self._last = 0.0

    @contextlib.contextmanager
    def hooked(self):
        import keras

        cls = keras.callbacks.ProgbarLogger
        saved = {name: getattr(cls, name) for name in
                 ("on_epoch_begin", "on_train_batch_end", "on_epoch_end")}
        watch = self

        def on_epoch_begin(logger, epoch, logs=None):
            watch.epoch, watch.epochs = epoch + 1, logger.epochs
            watch.steps, watch.step = logger.target, 0
            return saved["on_epoch_begin"](logger, epoch, logs)

        def on_train_batch_end(logger, batch, logs=None):
            watch.step = batch + 1
            now = time.perf_counter()
            if now - watch._last > 0.5 and logs and "loss" in logs:
                watch._last = now
                watch.loss = float(logs["loss"])
            watch.reporter.status(format_training(watch.epoch, watch.epochs, watch.step,
                                                  watch.steps, watch.loss))
            return saved["on_train_batch_end"](logger, batch, logs)

        def on_epoch_end(logger, epoch, logs=None):
            if logs and "loss" in logs:
                watch.loss = float(logs["loss"])
            watch.steps = watch.step
            done = f"epoch {watch.epoch}/{watch.epochs} done, {watch.step} steps"
            watch.reporter.status(done + (f", loss {watch.loss:.4f}"
                                          if watch.loss is not None else ""))
            return saved["on_epoch_end"](logger, epoch, logs)

        cls.on_epoch_begin, cls.on_train_batch_end, cls.on_epoch_end = (
            on_epoch_begin, on_train_batch_end, on_epoch_end)
        try:
            yield self
        finally:
            for name, fn in saved.items():
                setattr(cls, name, fn)

    def detail(self) -> str:
        if not self.epochs:
            return ""
        text = f"{self.epochs} epoch{'s' if self.epochs > 1 else ''}, {self.step} steps/epoch"
        return text + (f", loss {self.loss:.4f}" if self.loss is not None else "")


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


def _trainer_detail(execution_info) -> str:
    """The Trainer line's detail, read from its model-run output's history.json once the
    Trainer has completed ("" when there is none)."""
    output_dict = getattr(execution_info, "output_dict", None) or {}
    for artifact in output_dict.get("model_run", [])[:1]:
        path = Path(artifact.uri) / "history.json"
        try:
            training = json.loads(path.read_text()).get("training")
        except (OSError, ValueError, AttributeError):
            return ""
        return format_training_summary(training) if isinstance(training, dict) else ""
    return ""


# Node types whose work is a Beam pipeline (ImportExampleGen or CsvExampleGen, StatisticsGen,
# Transform, Evaluator, ...): they get the live element count.
BEAM_NODE_SUFFIXES = ("ExampleGen", "StatisticsGen", "Transform", "Evaluator")


class _BeamWatch:
    """Counts the elements the in-process Beam runner processes while a component runs.

    Hooks `BundleProcessor.process_bundle` (the SDK harness's execution of one bundle) to know
    the bundle running; its operations' element counters (Beam's own, updated per element)
    give the live count, and a finished bundle adds its count to the total. A bundle's count
    is that of its largest collection (the records a read or a fused stage went through)."""

    def __init__(self):
        self.done = 0
        self.bundles = 0
        self._active = None

    @staticmethod
    def largest_collection(processor) -> int:
        largest = 0
        for operation in list(getattr(processor, "ops", {}).values()):
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

    @contextlib.contextmanager
    def hooked(self):
        from apache_beam.runners.worker import bundle_processor

        cls = bundle_processor.BundleProcessor
        saved = cls.process_bundle
        watch = self

        def process_bundle(processor, instruction_id):
            watch._active = processor
            try:
                return saved(processor, instruction_id)
            finally:
                watch.done += watch.largest_collection(processor)
                watch.bundles += 1
                watch._active = None

        cls.process_bundle = process_bundle
        try:
            yield self
        finally:
            cls.process_bundle = saved


PROFILE_ENV = "MTL_PROFILE_DIR"


@contextlib.contextmanager
def _profiled(node_id: str):
    """With $MTL_PROFILE_DIR set, a cProfile of the node's launch in `<dir>/<node>.prof`
    (benchmarks/pipeline.py --profile). The in-process FnApiRunner executes Beam bundles on
    this thread, so Beam stages are in it; TensorFlow's own threads show as the Python calls
    that wait for them."""
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


def _absl_info() -> None:
    """Transform's libraries lower absl's level to WARNING: without this the log file would
    lose the INFO records of every later component (LocalDagRunner's included)."""
    absl_logger = logging.getLogger("absl")
    if absl_logger.getEffectiveLevel() > logging.INFO:
        absl_logger.setLevel(logging.INFO)


@contextlib.contextmanager
def watch_components(reporter: RunReporter):
    """Reports every node LocalDagRunner launches (start, end, wall time, cached or not)."""
    from tfx.orchestration.portable import launcher as launcher_lib

    cls = launcher_lib.Launcher
    saved_launch, saved_prepare = cls.launch, cls._prepare_execution

    def prepare(launcher):
        result = saved_prepare(launcher)
        launcher._mtl_cached = not result.is_execution_needed
        return result

    def launch(launcher):
        node = launcher._pipeline_node
        node_id, node_type = node.node_info.id, node.node_info.type.name
        _absl_info()
        reporter.start(node_id)
        launcher._mtl_cached = False
        training = _TrainingWatch(reporter) if node_type.endswith("Trainer") else None
        beam = _BeamWatch() if node_type.endswith(BEAM_NODE_SUFFIXES) else None
        if beam:
            reporter.status(beam.status)
        try:
            with training.hooked() if training else contextlib.nullcontext(), \
                    beam.hooked() if beam else contextlib.nullcontext(), \
                    _profiled(node_id):
                info = saved_launch(launcher)
        except BaseException as error:
            reporter.failed(error)
            raise
        _absl_info()
        detail = _rows_detail(node_type, info)
        if training and not launcher._mtl_cached:
            detail = _trainer_detail(info) or training.detail()
        reporter.end(CACHED if launcher._mtl_cached else DONE, detail)
        return info

    cls.launch, cls._prepare_execution = launch, prepare
    try:
        yield
    finally:
        cls.launch, cls._prepare_execution = saved_launch, saved_prepare
        reporter.close()


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
    _absl_info()
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
