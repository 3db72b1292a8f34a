"""Trainer input-path benchmark: examples/s of the real input path vs. tensors in memory.

Both arms train the same default model (`ModelHParams()`, the Trainer's batch size) with
Keras `fit`, one epoch over the Transform output's train split:

- `input_path`: `models.trainer.input_fn` over the transformed TFRecords (what `run_fn` feeds
  `fit`): read, parse, batch, split into (inputs, labels, masks), prefetch;
- `tfxio_input_path`: the previous input path (tfx_bsl TFXIO's `TensorFlowDataset`), kept
  here for a before/after comparison in one process;
- `in_memory`: the same batches, materialized once as tensors and fed from memory.

The arms alternate (`--repeats` epochs each, after one warm-up epoch each that pays for
tracing), so both see the same machine load; the ratio of the medians is the figure to read.
`input_only` / `tfxio_input_only` are the input paths iterated without a model (ceilings).

Needs a Transform output: `--home` of a finished `mtl run`, or the script runs a small
pipeline (`--examples`, default 20,000) in a child process first.

    python -m benchmarks.train_throughput --home /tmp/mtl_home
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common


def ensure_home(home: str | None, examples: int) -> Path:
    if home:
        return Path(home)
    path = Path(tempfile.mkdtemp(prefix="mtl_bench_train_"))
    cmd = common.mtl_run_cmd(path, examples, ["--epochs", "1"])
    result = subprocess.run(cmd, env=common.child_env(), cwd=str(common.REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if result.returncode not in (0, 3):
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit code {result.returncode}")
    return path


def data_accessor():
    """The DataAccessor TFX's Trainer builds for tf.Example TFRecords (tfx_bsl TFXIO)."""
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx_bsl.tfxio import tf_example_record

    def factory(file_pattern, options, schema):
        return tf_example_record.TFExampleRecord(file_pattern, schema=schema).TensorFlowDataset(
            options)

    return DataAccessor(tf_dataset_factory=factory, record_batch_factory=None,
                        data_view_decode_fn=None)


def tfxio_input_fn(file_pattern, tft_output, batch_size: int, seed: int | None):
    """The Trainer's previous input path, for comparison: tfx_bsl TFXIO's TensorFlowDataset."""
    import tensorflow as tf
    from tfx_bsl.public import tfxio

    from models import trainer

    dataset = data_accessor().tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, num_epochs=1, shuffle=True,
                                       shuffle_seed=seed, drop_final_batch=False),
        tft_output.transformed_metadata.schema,
    )
    return dataset.map(trainer.split_features, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None, help="home of a finished `mtl run`")
    parser.add_argument("--examples", type=int, default=20_000,
                        help="examples of the small run made when --home is not given")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per arm")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the train step with XLA (ModelHParams.jit_compile)")
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    home = ensure_home(args.home, args.examples)

    import keras
    import tensorflow as tf
    import tensorflow_transform as tft

    from models import trainer
    from models.hparams import ModelHParams
    from models.model import build_model

    hp = ModelHParams(jit_compile=args.jit_compile)
    batch_size = args.batch_size or hp.batch_size
    tft_output = tft.TFTransformOutput(str(common.latest_artifact_dir(home, "Transform",
                                                               "transform_graph")))
    train_files = [str(common.latest_artifact_dir(home, "Transform", "transformed_examples")
                       / "Split-train" / "*")]
    accessor = data_accessor()

    def real_input():
        return trainer.input_fn(train_files, accessor, tft_output, batch_size, seed=hp.seed)

    # The same batches, as tensors in memory.
    batches = list(real_input())
    examples = sum(int(b[1][next(iter(b[1]))].shape[0]) for b in batches)
    in_memory = tf.data.Dataset.from_tensor_slices(
        tf.nest.map_structure(lambda *xs: tf.concat(xs, 0), *batches)
    ).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    keras.utils.set_random_seed(hp.seed)
    model = build_model(hp, trainer.vocab_sizes(tft_output))

    cpu: dict[str, list[float]] = {}

    def timed(name: str, run) -> float:
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        cpu.setdefault(name, []).append(time.process_time() - start_cpu)
        return time.perf_counter() - start

    def epoch(dataset, name: str = "warm_up") -> float:
        return timed(name, lambda: model.fit(dataset, epochs=1, verbose=0))

    def tfxio_input():
        return tfxio_input_fn(train_files, tft_output, batch_size, hp.seed)

    def input_only(make, name: str) -> float:
        def drain():
            for _ in make():
                pass
        return timed(name, drain)

    epoch(in_memory)          # warm-up: traces the train step
    epoch(real_input())
    epoch(tfxio_input())
    times = {"input_path": [], "in_memory": [], "tfxio_input_path": [], "input_only": [],
             "tfxio_input_only": []}
    for _ in range(args.repeats):
        times["input_path"].append(epoch(real_input(), "input_path"))
        times["in_memory"].append(epoch(in_memory, "in_memory"))
        times["tfxio_input_path"].append(epoch(tfxio_input(), "tfxio_input_path"))
        times["input_only"].append(input_only(real_input, "input_only"))
        times["tfxio_input_only"].append(input_only(tfxio_input, "tfxio_input_only"))
    rates = {k: round(examples / common.median(v), 1) for k, v in times.items()}
    # Examples per CPU-second of this process: less sensitive than wall time to other
    # processes competing for the cores.
    cpu_rates = {k: round(examples / common.median(cpu[k]), 1) for k in times}
    common.emit({
        "benchmark": "train_throughput",
        "home": str(home),
        "examples_per_epoch": examples,
        "batch_size": batch_size,
        "repeats": args.repeats,
        "jit_compile": args.jit_compile,
        "examples_per_s": rates,
        "examples_per_cpu_s": cpu_rates,
        "ratio_input_path_vs_in_memory": round(rates["input_path"] / rates["in_memory"], 3),
        "ratio_tfxio_input_path_vs_in_memory": round(
            rates["tfxio_input_path"] / rates["in_memory"], 3),
        "epoch_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
