"""The Trainer's tf.distribute strategies: chosen by name, and the multi-task model trains
under them (variables created in the strategy's scope)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models.distribute import STRATEGIES, make_strategy
from models.hparams import ModelHParams
from models.model import build_model
from tests.support import default_problem as features


def _batch(n: int, vocab: int, rng: np.random.Generator):
    xf = features.transformed_name
    inputs = {}
    for key in features.CATEGORICAL_FEATURES:
        inputs[xf(key)] = rng.integers(0, vocab, n).astype("int64")
    for key in features.FLOAT_FEATURES + features.INT_FEATURES:
        inputs[xf(key)] = rng.normal(size=n).astype("float32")
    inputs[xf(features.HISTORY_FEATURE)] = rng.integers(
        0, vocab, (n, features.HISTORY_LENGTH)).astype("int64")
    labels = {t.name: rng.integers(0, 2, n).astype("float32") for t in features.TASKS}
    masks = {t.name: np.ones(n, "float32") for t in features.TASKS}
    return inputs, labels, masks


def test_names_map_to_strategies():
    assert make_strategy("default") is tf.distribute.get_strategy()
    assert isinstance(make_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match="'ring'.*default, mirrored, multi_worker_mirrored"):
        make_strategy("ring")
    assert STRATEGIES == ("default", "mirrored", "multi_worker_mirrored")


def test_model_trains_under_mirrored_strategy():
    strategy = make_strategy("mirrored")
    hp = ModelHParams(epochs=1, batch_size=16)
    vocab = 8
    with strategy.scope():
        model = build_model(hp, {k: vocab for k in features.CATEGORICAL_FEATURES},
                            features.TASKS, features.SPEC)
    assert model.distribute_strategy is strategy
    batch = _batch(64, vocab, np.random.default_rng(0))
    data = tf.data.Dataset.from_tensor_slices(batch).batch(16)
    history = model.fit(data, epochs=1, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 1 and np.isfinite(losses[0])


def _in_cluster(cluster: dict, task_type: str, task_id: int):
    """A stand-in strategy that only carries a cluster resolver (what the helpers read)."""
    from types import SimpleNamespace

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
    return SimpleNamespace(cluster_resolver=resolver)


CHIEF_AND_WORKER = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}


def test_only_the_chief_writes_and_workers_get_scratch_folders(tmp_path):
    from models.distribute import is_chief, num_workers, output_dir

    chief = _in_cluster(CHIEF_AND_WORKER, "chief", 0)
    worker = _in_cluster(CHIEF_AND_WORKER, "worker", 0)
    assert (is_chief(chief), is_chief(worker), num_workers(chief)) == (True, False, 2)
    # Without a chief job, worker 0 is the chief.
    assert is_chief(_in_cluster({"worker": ["a:1", "b:2"]}, "worker", 0))
    assert not is_chief(_in_cluster({"worker": ["a:1", "b:2"]}, "worker", 1))
    assert is_chief(tf.distribute.get_strategy()) and num_workers(tf.distribute.get_strategy()) == 1
    target = str(tmp_path / "model" / "Format-Serving")
    assert output_dir(target, chief) == target
    scratch = output_dir(target, worker)
    assert scratch != target and scratch.endswith("/Format-Serving")
    assert os.path.isdir(os.path.dirname(scratch)) and str(tmp_path) not in scratch
    shutil.rmtree(os.path.dirname(scratch))


def test_sharding_by_file_only_when_every_worker_gets_a_file():
    from models.distribute import shard_options

    policy = tf.data.experimental.AutoShardPolicy
    assert shard_options(1, 2).experimental_distribute.auto_shard_policy == policy.DATA
    assert shard_options(2, 2).experimental_distribute.auto_shard_policy == policy.FILE


def test_one_replica_leaves_gradients_and_logs_alone():
    from models.distribute import reducible_logs, scale_gradients

    gradients = [tf.constant([2.0]), None]
    assert scale_gradients(gradients) is gradients
    logs = {"loss": tf.constant(1.5)}
    assert reducible_logs(logs) is logs


def test_two_replicas_take_the_same_step_as_one():
    """One SGD step on the same batch, 2 replicas vs 1 (tests/support/replica_step.py, a
    process of its own: logical devices must be set before TensorFlow starts)."""
    import json
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "tests.support.replica_step"], env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    # Without the per-replica scaling the difference would equal the step (twice as large).
    assert result["max_step"] > 0.01
    assert result["max_weight_difference"] <= 1e-5
