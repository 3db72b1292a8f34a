"""Loss-weighting strategies: hand-computed expectations on tiny inputs."""

import math

import numpy as np
import pytest
import tensorflow as tf

from models import weighting
from models.hparams import ModelHParams
from models.spec import Task

BINARY = Task("a", "binary", "a", loss_weight=1.0)
REGRESSION = Task("b", "regression", "b", loss_weight=0.5)
TASKS = (BINARY, REGRESSION)


def _obs(a=True, b=True):
    return {"a": tf.constant(a), "b": tf.constant(b)}


def test_uncertainty_loss_value_and_weights():
    w = weighting.make_weighting("uncertainty", TASKS, ModelHParams())
    w.log_variances.assign([0.0, math.log(2.0)])
    losses = {"a": tf.constant(0.5), "b": tf.constant(2.0)}
    # a (classification): exp(0) * 0.5 + 0.5 * 0 = 0.5
    # b (regression): 0.5 * exp(-ln 2) * 2 + 0.5 * ln 2 = 0.5 + 0.34657...
    expected = 0.5 + 0.5 + 0.5 * math.log(2.0)
    assert float(w.combine(losses, _obs())) == pytest.approx(expected, rel=1e-6)
    weights = {k: float(v) for k, v in w.current_weights().items()}
    assert weights == pytest.approx({"a": 1.0, "b": 0.25})
    # A task without an observed label adds nothing, not even its log-variance term.
    assert float(w.combine(losses, _obs(b=False))) == pytest.approx(0.5)


def test_uncertainty_gradient_of_log_variance():
    w = weighting.make_weighting("uncertainty", TASKS, ModelHParams())
    with tf.GradientTape() as tape:
        total = w.combine({"a": tf.constant(3.0), "b": tf.constant(1.0)}, _obs())
    grad = tape.gradient(total, w.log_variances).numpy()
    # d/ds [c exp(-s) L + s/2] at s=0 is -c L + 1/2: a: -3 + 0.5, b: -0.5 + 0.5.
    np.testing.assert_allclose(grad, [-2.5, 0.0], atol=1e-6)


def test_pcgrad_projects_two_conflicting_vectors():
    g = tf.constant([[1.0, 0.0], [-1.0, 1.0]])
    # g1.g2 = -1 < 0: g1' = g1 - (-1/2) g2 = [0.5, 0.5]; g2' = g2 - (-1/1) g1 = [0, 1].
    projected = weighting.pcgrad_project(g).numpy()
    np.testing.assert_allclose(projected, [[0.5, 0.5], [0.0, 1.0]], atol=1e-6)
    # Each projected gradient no longer conflicts with the other task's original gradient.
    assert projected[0] @ g.numpy()[1] == pytest.approx(0.0)
    assert projected[1] @ g.numpy()[0] == pytest.approx(0.0)


def test_pcgrad_leaves_agreeing_and_zero_gradients_alone():
    g = tf.constant([[1.0, 2.0], [3.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(weighting.pcgrad_project(g).numpy(), g.numpy())


def test_gradnorm_update_moves_weight_away_from_the_larger_gradient():
    # Equal training rates: target = mean(G) = 1.5 for both; G = [2, 1].
    # dL/dw = [sign(2-1.5)*2, sign(1-1.5)*1] = [2, -1]; w = [0.8, 1.1]; renormalized to sum 2.
    new = weighting.gradnorm_update(
        tf.constant([1.0, 1.0]), grad_norms=tf.constant([2.0, 1.0]),
        loss_ratios=tf.constant([1.0, 1.0]), valid=tf.constant([True, True]),
        alpha=1.5, learning_rate=0.1).numpy()
    np.testing.assert_allclose(new, [0.8 * 2 / 1.9, 1.1 * 2 / 1.9], rtol=1e-6)
    assert new[0] < 1.0 < new[1]


def test_gradnorm_update_favours_the_task_that_trains_slower():
    # Same gradient norms, task 0's loss fell less (ratio 1.0 vs 0.5): its target is higher,
    # so its weight goes up.
    new = weighting.gradnorm_update(
        tf.constant([1.0, 1.0]), grad_norms=tf.constant([1.0, 1.0]),
        loss_ratios=tf.constant([1.0, 0.5]), valid=tf.constant([True, True]),
        alpha=1.0, learning_rate=0.1).numpy()
    assert new[0] > 1.0 > new[1]
    assert new.sum() == pytest.approx(2.0)


def test_gradnorm_update_ignores_a_task_without_labels():
    new = weighting.gradnorm_update(
        tf.constant([1.0, 1.0]), grad_norms=tf.constant([2.0, 0.0]),
        loss_ratios=tf.constant([1.0, 0.0]), valid=tf.constant([True, False]),
        alpha=1.5, learning_rate=0.1).numpy()
    # Only task 0 is valid: its G equals the mean, so nothing moves.
    np.testing.assert_allclose(new, [1.0, 1.0])


def test_dwa_weights_from_known_loss_history():
    # r = [1.0/1.0, 0.5/1.0] = [1, 0.5]; w = 2 * softmax(r / 2).
    got = weighting.dwa_weights(tf.constant([1.0, 0.5]), tf.constant([1.0, 1.0]), 2.0).numpy()
    e0, e1 = math.exp(0.5), math.exp(0.25)
    np.testing.assert_allclose(got, [2 * e0 / (e0 + e1), 2 * e1 / (e0 + e1)], rtol=1e-6)


def test_dwa_state_follows_the_period_averages():
    w = weighting.make_weighting("dwa", TASKS, ModelHParams(dwa_period_steps=2,
                                                            dwa_temperature=1.0))
    history = [(2.0, 1.0), (4.0, 1.0), (1.0, 1.0), (2.0, 3.0)]
    for step, (a, b) in enumerate(history):
        w.combine({"a": tf.constant(a), "b": tf.constant(b)}, _obs(), training=True)
        got = np.array([float(v) for v in w.current_weights().values()])
        if step < 3:
            np.testing.assert_allclose(got, [1.0, 1.0])  # weights are 1 for two periods
    # Period averages: (3, 1) then (1.5, 2): r = [0.5, 2]; w = 2 * softmax(r).
    e0, e1 = math.exp(0.5), math.exp(2.0)
    np.testing.assert_allclose(got, [2 * e0 / (e0 + e1), 2 * e1 / (e0 + e1)], rtol=1e-5)


def test_dwa_average_skips_batches_without_labels():
    w = weighting.make_weighting("dwa", TASKS, ModelHParams(dwa_period_steps=2))
    w.combine({"a": tf.constant(2.0), "b": tf.constant(4.0)}, _obs(), training=True)
    w.combine({"a": tf.constant(2.0), "b": tf.constant(0.0)}, _obs(b=False), training=True)
    np.testing.assert_allclose(w.previous.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("name", sorted(weighting.STRATEGIES))
def test_no_observed_label_adds_nothing_and_never_nan(name):
    w = weighting.make_weighting(name, TASKS, ModelHParams(dwa_period_steps=1))
    with_b = w.combine({"a": tf.constant(0.7), "b": tf.constant(0.0)}, _obs(b=False),
                       training=True)
    without_b = weighting.make_weighting(name, (BINARY,), ModelHParams()).combine(
        {"a": tf.constant(0.7)}, {"a": tf.constant(True)})
    assert np.isfinite(float(with_b))
    assert float(with_b) == pytest.approx(float(without_b))
    assert all(np.isfinite(float(v)) for v in w.current_weights().values())


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ValueError, match="unknown loss weighting 'nope'.*pcgrad"):
        weighting.make_weighting("nope", TASKS)
