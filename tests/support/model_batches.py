"""Tiny fake Transform-output batches and small model widths for the model tests."""

from __future__ import annotations

import numpy as np

from tests.support import default_problem as features

VOCAB = {key: 7 for key in features.CATEGORICAL_FEATURES}
# Small widths: these tests are about wiring, not quality.
SMALL = dict(bottom_units=(16,), tower_units=(8,), expert_units=(8,), num_experts=2,
             cross_stitch_units=(8,), embedding_scale=0.5)


def fake_batch(n: int = 16, seed: int = 0):
    """(inputs, labels, masks) shaped like the Transform output; some rows have no history."""
    rng = np.random.default_rng(seed)
    xf = features.transformed_name
    inputs = {xf(k): rng.integers(0, 7, n).astype(np.int64) for k in features.CATEGORICAL_FEATURES}
    for k in features.FLOAT_FEATURES + features.INT_FEATURES:
        inputs[xf(k)] = rng.normal(size=n).astype(np.float32)
    history = rng.integers(0, 8, (n, features.HISTORY_LENGTH)).astype(np.int64)
    history[:2] = 0
    inputs[xf(features.HISTORY_FEATURE)] = history
    click = rng.integers(0, 2, n).astype(np.float32)
    labels = {"click": click, "conversion": click * rng.integers(0, 2, n),
              "watch_time": click * rng.uniform(0, 60, n), "like": click * rng.integers(0, 2, n)}
    labels = {k: v.astype(np.float32) for k, v in labels.items()}
    # `like` has no observed label in this batch: it must add nothing and never NaN.
    masks = {"click": np.ones(n, np.float32), "conversion": click, "watch_time": click,
             "like": np.zeros(n, np.float32)}
    return inputs, labels, masks
