"""The quality benchmark's helpers: the synthetic generator and the zero-fill transformation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import quality


def test_zero_fill_masks_sets_the_named_tasks_weights_to_one_and_keeps_the_others():
    masks = {"click": np.array([1.0, 1.0, 1.0], np.float32),
             "conversion": np.array([1.0, 0.0, 0.0], np.float32),
             "like": np.array([0.0, 1.0, 0.0], np.float32)}
    filled = quality.zero_fill_masks(masks, ("conversion",))
    np.testing.assert_array_equal(np.asarray(filled["conversion"]), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(filled["like"]), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(masks["conversion"]), [1.0, 0.0, 0.0])


def test_synthetic_tasks_are_identical_up_to_noise_at_correlation_one_and_not_at_zero():
    x, y1, y2 = quality.synthetic(1.0, 2000, seed=0, noise=0.1)
    # w1 == w2: the targets differ by the two noise draws only (std 0.1 * sqrt(2)).
    assert np.std(y1 - y2) == pytest.approx(0.1 * math.sqrt(2), rel=0.1)
    _, z1, z2 = quality.synthetic(0.0, 2000, seed=0, noise=0.1)
    assert np.std(z1 - z2) > 1.0
    assert x.shape == (2000, 100)
