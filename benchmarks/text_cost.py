"""Text cost benchmark: what the shared text encoder costs per example, in training and at
serving, printed as one JSON line.

Training: the packaged text problem's `text_transformer` (the spec's hyperparameters) built
from a finished run's Transform output and fitted with the Trainer's input path
(`models.trainer.input_fn`, natural batches); the first epoch (tracing, warm-up) is not
counted, the next `--epochs` are timed per epoch: examples per second and milliseconds per
example of `model.fit`'s steps (the input pipeline included, as the Trainer runs it).

Serving: the newest pushed SavedModel of the home (what TF Serving loads), called in-process
through its `serving_raw` signature with raw strings (`text`, `question`) taken from the
home's data span, at batch 1 and 32 after a warm-up: p50 / p99 wall milliseconds per call and
per example, with this process's CPU time per call beside them (on a shared machine the wall
time's tail mostly measures waiting for a core).

    python -m benchmarks.text_cost --home H   # a blessed `mtl run --spec text`
    python -m benchmarks.text_cost            # runs one into a scratch home
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common


def blessed_home(home: str | None, examples: int) -> tuple[Path, float]:
    """(home, seconds): `home` as given, or a scratch home after a blessed `mtl run --spec
    text` (the packaged problem as shipped)."""
    if home is not None:
        return Path(home), 0.0
    started = time.time()
    path = Path(tempfile.mkdtemp(prefix="mtl_text_cost_"))
    cmd = common.mtl_run_cmd(path, examples, ["--spec", "text"])
    result = subprocess.run(cmd, env=common.child_env(), cwd=str(common.REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {result.returncode}: no pushed model")
    return path, time.time() - started


def training_cost(home: Path, epochs: int, steps: int | None) -> dict:
    import keras
    import tensorflow_transform as tft

    from benchmarks.common import latest_artifact_dir
    from models import trainer
    from models.hparams import ModelHParams
    from models.model import build_model
    from models.spec import resolve_spec
    from models.text import TextEncoder

    spec = resolve_spec("text")
    hp = ModelHParams.from_dict(dict(spec.hparams) | {"seed": 0})
    tft_output = tft.TFTransformOutput(
        str(latest_artifact_dir(home, "Transform", "transform_graph")))
    transformed = latest_artifact_dir(home, "Transform", "transformed_examples")
    train_files = [str(transformed / "Split-train" / "*")]
    sizes = trainer.vocab_sizes(tft_output, spec)
    keras.utils.set_random_seed(0)
    model = build_model(hp, sizes, spec.default_tasks, spec)
    data = trainer.input_fn(train_files, None, tft_output, hp.batch_size, seed=0,
                            spec=spec).repeat()
    steps = steps or -(-trainer.count_records(train_files) // hp.batch_size)

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.cpu = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self._start, self._cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            self.cpu.append(time.process_time() - self._cpu)

    clock = Clock()
    model.fit(data, epochs=1 + epochs, steps_per_epoch=steps, callbacks=[clock], verbose=0)
    timed, cpu = np.array(clock.seconds[1:]), np.array(clock.cpu[1:])
    per_epoch = steps * hp.batch_size
    encoder_params = sum(int(np.prod(w.shape)) for layer in model.network.layers
                         if isinstance(layer, TextEncoder) for w in layer.weights)
    return {
        "batch_size": hp.batch_size, "steps_per_epoch": steps, "timed_epochs": epochs,
        "examples_per_s": round(float(per_epoch / timed.mean()), 1),
        "ms_per_example": round(float(1e3 * timed.mean() / per_epoch), 3),
        "ms_per_step": round(float(1e3 * timed.mean() / steps), 2),
        "cpu_ms_per_example": round(float(1e3 * cpu.mean() / per_epoch), 3),
        "warmup_epoch_s": round(clock.seconds[0], 1),
        "params": int(model.network.count_params()), "encoder_params": encoder_params,
        "architecture": {"text_width": hp.text_width, "text_layers": hp.text_layers,
                         "text_heads": hp.text_heads,
                         "max_length": {f.name: f.max_length for f in spec.text_features}},
    }


def raw_rows(home: Path, count: int) -> list[tuple[bytes, bytes]]:
    """Up to `count` (text, question) raw strings from the home's data spans."""
    import tensorflow as tf

    files = sorted(str(p) for p in (home / "data").glob("span-*/*.tfrecord.gz"))
    if not files:
        raise FileNotFoundError(f"no data spans under {home / 'data'}")
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(count):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        rows.append((feature["text"].bytes_list.value[0], feature["question"].bytes_list.value[0]))
    return rows


def serving_cost(home: Path, batch_sizes: list[int], seconds: float, max_calls: int) -> dict:
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 - the model's tokenizer ops

    from benchmarks.common import latest_pushed

    model_dir = latest_pushed(home)
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_raw"]
    pool = raw_rows(home, max(batch_sizes) * 8)
    rng = np.random.default_rng(0)
    out = {"model": str(model_dir)}
    for batch in batch_sizes:
        requests = []
        for _ in range(16):
            rows = [pool[j] for j in rng.integers(0, len(pool), batch)]
            requests.append({"text": tf.constant([r[0] for r in rows]),
                             "question": tf.constant([r[1] for r in rows])})
        for request in requests[:5]:  # warm-up
            serve(**request)
        wall, cpu = [], []
        deadline = time.perf_counter() + seconds
        while len(wall) < max_calls and time.perf_counter() < deadline:
            request = requests[len(wall) % len(requests)]
            start, start_cpu = time.perf_counter(), time.process_time()
            result = serve(**request)
            next(iter(result.values())).numpy()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        ms, cpu_ms = np.array(wall) * 1e3, np.array(cpu) * 1e3
        p50, p99 = float(np.percentile(ms, 50)), float(np.percentile(ms, 99))
        out[f"batch_{batch}"] = {
            "calls": len(wall),
            "p50_ms_per_call": round(p50, 3), "p99_ms_per_call": round(p99, 3),
            "p50_ms_per_example": round(p50 / batch, 3),
            "p99_ms_per_example": round(p99 / batch, 3),
            "examples_per_s": round(batch * len(ms) / (ms.sum() / 1e3), 1),
            "cpu_p50_ms_per_call": round(float(np.percentile(cpu_ms, 50)), 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", default=None,
                        help="home of a finished, blessed `mtl run --spec text` (default: run "
                             "one into a scratch home, which is kept)")
    parser.add_argument("--examples", type=int, default=20_000,
                        help="examples generated for the scratch run")
    parser.add_argument("--epochs", type=int, default=1,
                        help="timed training epochs (after one untimed warm-up epoch)")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per epoch (default: one pass over the train split)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="time budget per serving batch size")
    parser.add_argument("--max-calls", type=int, default=1000)
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    started = time.time()
    home, pipeline_seconds = blessed_home(args.home, args.examples)
    figures = {"benchmark": "text_cost", "home": str(home)}
    figures["training"] = training_cost(home, args.epochs, args.steps)
    figures["serving_raw"] = serving_cost(home, args.batch_sizes, args.seconds, args.max_calls)
    figures["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    figures["pipeline_seconds"] = round(pipeline_seconds, 1)
    figures["seconds"] = round(time.time() - started, 1)
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
