"""Masked losses: a missing label contributes exactly nothing; hand-computed expectations."""

import math

import numpy as np
import pytest
import tensorflow as tf

from models import tasks
from models.spec import Task

BINARY = Task("click", "binary", "click")
REGRESSION = Task("watch_time", "regression", "watch_time", scale=2.0)


def test_binary_masked_loss_equals_mean_over_observed_rows():
    labels = tf.constant([1.0, 0.0, 0.0, 1.0])
    predictions = tf.constant([0.8, 0.4, 0.9, 0.1])
    mask = tf.constant([1.0, 1.0, 0.0, 0.0])
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    got = float(tasks.masked_loss(BINARY, labels, predictions, mask))
    assert got == pytest.approx(expected, rel=1e-6)


def test_regression_masked_loss_is_scaled_squared_error_over_observed_rows():
    labels = tf.constant([3.0, 0.0, 5.0])
    predictions = tf.constant([1.0, 100.0, 4.0])
    mask = tf.constant([1.0, 0.0, 1.0])
    # ((1-3)/2)^2 = 1 and ((4-5)/2)^2 = 0.25, mean over the 2 observed rows.
    assert float(tasks.masked_loss(REGRESSION, labels, predictions, mask)) == pytest.approx(0.625)


def test_changing_a_missing_label_or_its_prediction_changes_nothing():
    mask = tf.constant([1.0, 0.0])
    a = tasks.masked_loss(BINARY, tf.constant([1.0, 0.0]), tf.constant([0.7, 0.2]), mask)
    b = tasks.masked_loss(BINARY, tf.constant([1.0, 1.0]), tf.constant([0.7, 0.999]), mask)
    c = tasks.masked_loss(BINARY, tf.constant([1.0, np.nan]), tf.constant([0.7, np.nan]), mask)
    assert float(a) == pytest.approx(-math.log(0.7))
    assert float(b) == float(a)
    assert float(c) == float(a)


def test_batch_with_no_observed_label_gives_zero_loss_and_zero_gradient():
    predictions = tf.Variable([0.3, 0.6])
    with tf.GradientTape() as tape:
        loss = tasks.masked_loss(BINARY, tf.constant([1.0, 0.0]), predictions, tf.zeros([2]))
    grad = tape.gradient(loss, predictions)
    assert float(loss) == 0.0
    assert np.all(np.isfinite(grad.numpy())) and np.all(grad.numpy() == 0.0)


def test_heads_map_logits_to_label_units():
    logits = tf.constant([0.0, 2.0])
    np.testing.assert_allclose(tasks.head_activation(BINARY, logits).numpy(),
                               [0.5, 1 / (1 + math.exp(-2))], rtol=1e-6)
    np.testing.assert_allclose(tasks.head_activation(REGRESSION, logits).numpy(),
                               [2 * math.log(2), 2 * math.log1p(math.exp(2))], rtol=1e-6)
