"""The fault suite's configuration and helpers (bad spans, CLI arguments, folder digests)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.support.pipelines import naive_flags, small_data_gates

# The suite tests the protections, not model quality: bounds every 1-epoch model on 2,000
# examples passes, so the baseline is blessed and pushed.
FAULT_THRESHOLDS = {"click": 0.55, "conversion": 0.4, "watch_time": 100.0, "like": 0.3}
EXAMPLES = 2000
SEED = 7
BAD_SPAN_EXAMPLES = 600
# The suite's bad spans have 600 examples, fewer than the default minimum span size (1,000):
# lowered so each case is refused for its own fault, not for its size (the size has its case).
MIN_SPAN_EXAMPLES = 500


def fault_gates() -> dict[str, dict]:
    """The naive-baseline gate, on, loosened like every small-data run's
    (tests.support.pipelines.small_data_gates)."""
    return small_data_gates(FAULT_THRESHOLDS)


def fault_config(root, **changes):
    """The suite's config for a home under `root` (same values the CLI flags below give)."""
    from models.hparams import ModelHParams
    from pipeline.core.config import PipelineConfig

    return PipelineConfig(
        root=str(root), examples=EXAMPLES, seed=SEED,
        hparams=changes.pop("hparams", ModelHParams(epochs=1, batch_size=128, seed=SEED)),
        thresholds=dict(FAULT_THRESHOLDS), gates=fault_gates(),
        min_span_examples=MIN_SPAN_EXAMPLES, **changes,
    )


def cli_args(root, *extra: str) -> list[str]:
    """`mtl run` arguments equal to `fault_config(root)` (so a CLI run shares its cache)."""
    args = ["run", "--root", str(root), "--examples", str(EXAMPLES), "--epochs", "1",
            "--batch-size", "128", "--seed", str(SEED)]
    for task, value in FAULT_THRESHOLDS.items():
        args += ["--threshold", f"{task}={value}"]
    args += naive_flags(fault_gates()) + ["--min-span-examples", str(MIN_SPAN_EXAMPLES)]
    return args + list(extra)


def tree_digest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `folder` (empty when it does not exist)."""
    out = {}
    if folder.exists():
        for dirpath, _, files in os.walk(folder):
            for name in files:
                path = Path(dirpath) / name
                out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def append_span(config, mutate=None, examples: int = BAD_SPAN_EXAMPLES) -> Path:
    """Writes the next span of `config`'s home, its columns passed through `mutate` first.

    Written like `pipeline.datasets.generator.write_span` (temporary folder, then rename), so the
    only fault is the one `mutate` puts in.
    """
    import tensorflow as tf

    from pipeline.datasets import generator as data

    span = data.existing_spans(config.data_dir)[-1] + 1
    columns = data.generate_span(data.World(config.seed), examples, config.seed, span)
    if mutate is not None:
        columns = mutate(columns)
    records = data.columns_to_examples(columns)
    tmp = config.data_dir / f".tmp-span-{span}"
    tmp.mkdir()
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(str(tmp / "part-00000-of-00001.tfrecord.gz"), options) as writer:
        for record in records:
            writer.write(record)
    final = config.data_dir / f"span-{span}"
    os.rename(tmp, final)
    return final
