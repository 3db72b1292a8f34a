"""The Trainer's tf.distribute strategies: chosen by name, and the multi-task model trains
under them (variables created in the strategy's scope)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import features
from models.distribute import STRATEGIES, make_strategy
from models.hparams import ModelHParams
from models.model import build_model


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
        model = build_model(hp, {k: vocab for k in features.CATEGORICAL_FEATURES})
    assert model.distribute_strategy is strategy
    batch = _batch(64, vocab, np.random.default_rng(0))
    data = tf.data.Dataset.from_tensor_slices(batch).batch(16)
    history = model.fit(data, epochs=1, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 1 and np.isfinite(losses[0])
