"""The Trainer's `tf.distribute` strategy, chosen by name from the pipeline configuration, and
what multi-worker training needs around it (who is chief, where a worker writes, sharding).

  default                 one device (TensorFlow's default strategy)
  mirrored                synchronous data parallelism over the local GPUs (or the CPU)
  multi_worker_mirrored   synchronous data parallelism over several workers; each worker reads
                          its role from the TF_CONFIG environment variable. Without TF_CONFIG,
                          `models.trainer.run_fn` starts local worker processes
                          (`models.worker`). See docs/guides/scale-out.md.

Variables (model and optimizer) must be created inside `strategy.scope()`; Keras' `fit` then
splits each batch over the replicas (global batch = `batch_size`). `MultiWorkerMirroredStrategy`
must be created before any other TensorFlow work in its process (collective ops are configured
at program start-up), which is why `run_fn` creates the strategy first.
"""

from __future__ import annotations

import os
import tempfile

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


def _cluster(strategy: tf.distribute.Strategy) -> tuple[dict, str | None, int | None]:
    """(cluster spec as a dict, task type, task index); ({}, None, None) outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return {}, None, None
    return resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """Worker processes taking part (chief included): 1 unless the strategy spans a cluster."""
    cluster, _, _ = _cluster(strategy)
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs: the `chief` task, else worker 0 when the
    cluster has no chief, else (one process) always."""
    cluster, task_type, task_id = _cluster(strategy)
    if not cluster or task_type in (None, "chief"):
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def output_dir(path: str, strategy: tf.distribute.Strategy) -> str:
    """`path` on the chief; on the other workers, a folder of the same name in a fresh local
    scratch folder (the caller deletes its parent, `os.path.dirname`, when done).

    Every worker runs the same saving code (saving a distributed model can involve collective
    ops), but only the chief's files are the run's."""
    if is_chief(strategy):
        return path
    _, task_type, task_id = _cluster(strategy)
    scratch = tempfile.mkdtemp(prefix=f"mtl-{task_type}-{task_id}-")
    return os.path.join(scratch, os.path.basename(path.rstrip("/")) or "out")


def shard_options(num_files: int, workers: int) -> tf.data.Options:
    """tf.data options that give each worker its part of the data.

    By file when every worker gets at least one file, else by record (DATA: each worker reads
    every file and keeps its share of the records, which needs a deterministic order: the
    input pipeline shuffles with a fixed seed). TensorFlow's default, AUTO, tries FILE and
    fails with fewer files than workers (a default run writes one file per split)."""
    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = (
        policy.FILE if num_files >= workers else policy.DATA)
    return options


def skip_symbolic_build(model) -> None:
    """Works around Keras 3.12 under a multi-worker strategy; call inside `strategy.scope()`.

    When a model holds a strategy, Keras' `fit` first averages one input batch with
    `strategy.reduce` to build the model symbolically; with several workers that batch is a
    dict of `PerReplica` values, which `reduce` cannot take (ValueError: "Attempt to convert a
    value ({'...': PerReplica ...}) ... to a Tensor"). The functional network is built already;
    this builds the optimizer's variables here, in the scope, and lets the model find the
    strategy from the scope `fit` runs in (`Model.distribute_strategy` then returns the
    scope's), so the symbolic build is skipped."""
    model.optimizer.build(model.trainable_variables)
    model._distribute_strategy = None


def scale_gradients(gradients: list) -> list:
    """Per-replica gradients divided by the number of replicas in sync (call in a train step).

    Each replica's loss is the mean over its share of the global batch, and the optimizer
    all-reduces gradients by SUM across replicas (Keras 3's TensorFlow optimizer): without this
    the update is N times too large with N replicas. Keras' built-in losses do the same
    (`scale_loss_for_distribution`); a custom train step must do it itself. Scaling the
    gradients rather than the loss keeps every loss-weighting strategy's own arithmetic on the
    per-replica losses unchanged."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return gradients
    scale = 1.0 / replicas

    def scaled(g):
        if isinstance(g, tf.IndexedSlices):  # embedding gradients
            return tf.IndexedSlices(g.values * scale, g.indices, g.dense_shape)
        return g * scale

    return [None if g is None else scaled(g) for g in gradients]


def reducible_logs(logs: dict) -> dict:
    """A train/test step's logs in a form Keras 3.12 can reduce across several workers.

    Under a multi-worker strategy Keras reduces each log with `strategy.reduce(MEAN, v,
    axis=0)`, which fails on a scalar ("Invalid reduction dimension 0 for input with 0
    dimensions"); scalars get shape [1] there (the reduction brings them back to scalars: the
    mean over replicas). Elsewhere the logs are returned unchanged."""
    if num_workers(tf.distribute.get_strategy()) <= 1:
        return logs
    out = {}
    for key, value in logs.items():
        value = tf.convert_to_tensor(value)
        out[key] = tf.reshape(value, [1]) if value.shape.rank == 0 else value
    return out
