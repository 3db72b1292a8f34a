"""In-process latency of a SavedModel's `serving_default` at batch size 1.

TFX's InfraValidator measures a model inside a real TF Serving container, which needs Docker;
this measures the same signature in the current process instead: each of `samples` evaluation
examples is sent alone (batch 1), after `warmup` calls that pay for tracing and first-call
allocation, and the wall time of each call is recorded with `time.perf_counter`.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import time

import numpy as np

from models.signatures import SERVING_DEFAULT

# The GatedPusher's defaults: serving_default's p99 at batch 1 over this many evaluation
# examples must stay under this budget.
DEFAULT_LATENCY_BUDGET_MS = 50.0
DEFAULT_LATENCY_SAMPLES = 200


@dataclasses.dataclass(frozen=True)
class Latency:
    """Per-call latency figures in milliseconds over `samples` calls at batch 1."""

    samples: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def summarize(durations_ms: list[float]) -> Latency:
    """Percentiles (linear interpolation, numpy's default) of per-call durations."""
    if not durations_ms:
        raise ValueError("no latency samples")
    values = np.asarray(durations_ms, dtype=np.float64)
    return Latency(
        samples=len(values),
        p50_ms=float(np.percentile(values, 50)),
        p90_ms=float(np.percentile(values, 90)),
        p99_ms=float(np.percentile(values, 99)),
        max_ms=float(values.max()),
    )


def read_examples(split_dir: str, limit: int) -> list[bytes]:
    """Up to `limit` serialized tf.Examples from a split folder of (gzipped) TFRecords."""
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(split_dir, "*")))
    if not files:
        raise FileNotFoundError(f"no TFRecord files in evaluation split folder {split_dir}")
    compression = "GZIP" if files[0].endswith(".gz") else ""
    dataset = tf.data.TFRecordDataset(files, compression_type=compression).take(limit)
    return [record.numpy() for record in dataset]


def measure(model_dir: str, examples: list[bytes], warmup: int = 10) -> Latency:
    """Latency of `serving_default(examples=[one example])` over every example in `examples`."""
    import tensorflow as tf

    if not examples:
        raise ValueError(f"no examples to measure the latency of {model_dir} on")
    import tensorflow_text  # noqa: F401 - a text problem's model uses TF-Text ops

    serve = tf.saved_model.load(model_dir).signatures[SERVING_DEFAULT]
    inputs = [tf.constant([e]) for e in examples]
    for i in range(warmup):
        serve(examples=inputs[i % len(inputs)])
    durations = []
    for tensor in inputs:
        start = time.perf_counter()
        outputs = serve(examples=tensor)
        for value in outputs.values():
            value.numpy()  # make sure the result is materialized
        durations.append((time.perf_counter() - start) * 1e3)
    return summarize(durations)
