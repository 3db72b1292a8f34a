"""The quality benchmark's helpers: masked AUC / RMSE and the zero-fill transformation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import quality


def test_masked_auc_counts_only_observed_rows_and_ties_as_half():
    # Observed rows (mask 1): labels 1, 0, 1, 0 with scores 0.8, 0.4, 0.4, 0.1.
    # Pairs (positive, negative): (0.8, 0.4) 1, (0.8, 0.1) 1, (0.4, 0.4) 1/2, (0.4, 0.1) 1
    # -> 3.5 / 4. The masked-out rows would reverse the ranking if they counted.
    labels = [1, 0, 1, 0, 1, 0]
    scores = [0.8, 0.4, 0.4, 0.1, 0.0, 0.9]
    mask = [1, 1, 1, 1, 0, 0]
    assert quality.masked_auc(labels, scores, mask) == pytest.approx(0.875)
    # All six rows: positives 0.8, 0.4, 0.0 vs negatives 0.4, 0.1, 0.9:
    # 0.8 beats 0.4, 0.1 (2); 0.4 ties 0.4 and beats 0.1 (1.5); 0.0 beats none -> 3.5 / 9.
    assert quality.masked_auc(labels, scores) == pytest.approx(3.5 / 9)


def test_masked_auc_is_nan_with_one_class():
    assert math.isnan(quality.masked_auc([1, 1, 0], [0.2, 0.3, 0.9], [1, 1, 0]))


def test_masked_rmse_ignores_missing_rows():
    # Observed errors 3 and 4 -> sqrt((9 + 16) / 2).
    assert quality.masked_rmse([10.0, 0.0, 5.0], [13.0, 50.0, 1.0], [1, 0, 1]) == \
        pytest.approx(math.sqrt(12.5))


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
