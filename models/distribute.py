"""The Trainer's `tf.distribute` strategy, chosen by name from the pipeline configuration.

  default                 one device (TensorFlow's default strategy)
  mirrored                synchronous data parallelism over the local GPUs (or the CPU)
  multi_worker_mirrored   synchronous data parallelism over several workers; each worker reads
                          its role from the TF_CONFIG environment variable (without it, one
                          local worker). See "Scale-out" in README.md.

Variables (model and optimizer) must be created inside `strategy.scope()`; Keras' `fit` then
splits each batch over the replicas (global batch = `batch_size`).
"""

from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy called `name` (one of `STRATEGIES`)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"distribution_strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
