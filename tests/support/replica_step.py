"""One SGD training step of the multi-task model under 2 replicas vs 1, in a fresh process.

  python -m tests.support.replica_step     # prints one JSON line

Splits this process's CPU into two logical devices (possible only before TensorFlow starts,
hence a process of its own), then trains one step on the same batch with
`MirroredStrategy` over both devices and with the default strategy, from the same initial
weights, and prints the largest weight difference after the step and the largest change the
step made. With the per-replica gradient scaling and synchronised batch norm they agree to
float rounding; without the scaling the 2-replica step would be twice as large.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import keras  # noqa: E402

from models.hparams import ModelHParams  # noqa: E402
from models.model import build_model  # noqa: E402
from tests.support import default_problem as features  # noqa: E402
from tests.support.model_batches import SMALL, VOCAB, fake_batch  # noqa: E402

BATCH = 32


def one_step(strategy, initial):
    hp = ModelHParams(dropout=0.0, l2=0.0, batch_size=BATCH, **SMALL)
    with strategy.scope():
        model = build_model(hp, VOCAB, features.TASKS, features.SPEC)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        if initial is not None:
            model.network.set_weights(initial)
    before = [w.copy() for w in model.network.get_weights()]
    inputs, labels, masks = fake_batch(BATCH, seed=3)
    # Every row observed, so each replica's masked mean covers the same number of rows.
    masks = {t.name: np.ones(BATCH, np.float32) for t in features.TASKS}
    data = tf.data.Dataset.from_tensors((inputs, labels, masks))
    model.fit(data, epochs=1, verbose=0)
    return before, model.network.get_weights()


def main() -> None:
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    initial, single = one_step(tf.distribute.get_strategy(), None)
    _, double = one_step(mirrored, initial)
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "max_weight_difference": max(float(np.max(np.abs(a - b))) for a, b in zip(single, double)),
        "max_step": max(float(np.max(np.abs(a - b))) for a, b in zip(single, initial)),
    }))


if __name__ == "__main__":
    main()
