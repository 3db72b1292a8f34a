"""The peers benchmark's helpers: naive predictors on masked labels, the oracle's metrics, the
position between naive and oracle, the join of eval rows to the generator's ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import peers
from pipeline.datasets import generator
from tests.support.default_problem import Task

CLICK = Task("click", "binary", "click")
WATCH = Task("watch_time", "regression", "watch_time")


def test_naive_prediction_is_the_mean_of_observed_labels_only():
    # -1 is "not observed": the mean of 1, 0, 1 is 2/3, not (1 + 0 + 1 - 2) / 5.
    assert peers.naive_prediction([1, 0, -1, -1, 1]) == pytest.approx(2 / 3)
    # Transformed labels are 0 where missing; the mask says which count: (1 + 0) / 2.
    assert peers.naive_prediction([1, 0, 0, 0], [1, 1, 0, 0]) == pytest.approx(0.5)
    assert peers.naive_prediction([10.0, -1.0, 20.0]) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="no observed"):
        peers.naive_prediction([-1, -1])


def test_naive_predictor_scores_auc_one_half_and_the_rmse_of_the_mean():
    constant = np.full(4, 0.3)
    # Every pair ties: AUC 1/2 whatever the labels; the missing row (-1) is left out.
    assert peers.task_metric("binary", [1, 0, 0, -1], constant) == pytest.approx(0.5)
    # Observed watch times 10 and 20 (the -1 row is missing), predicted 15: errors 5 and 5.
    assert peers.task_metric("regression", [10.0, 20.0, -1.0], [15.0, 15.0, 15.0]) == \
        pytest.approx(5.0)
    # A mask overrides the label's sign (transformed labels are 0 where missing).
    assert peers.task_metric("regression", [10.0, 20.0, 0.0], [15.0, 15.0, 15.0], [1, 1, 0]) == \
        pytest.approx(5.0)


def test_position_runs_from_naive_zero_to_oracle_one_for_auc_and_rmse():
    assert peers.position(0.7, naive=0.5, oracle=0.9) == pytest.approx(0.5)
    assert peers.position(0.9, naive=0.5, oracle=0.9) == pytest.approx(1.0)
    # RMSE, lower is better: naive 30, oracle 10; 25 is a quarter of the way.
    assert peers.position(25.0, naive=30.0, oracle=10.0) == pytest.approx(0.25)
    # Worse than the naive predictor: negative.
    assert peers.position(32.0, naive=30.0, oracle=10.0) == pytest.approx(-0.1)
    assert peers.position(0.45, naive=0.5, oracle=0.9) == pytest.approx(-0.125)
    assert math.isnan(peers.position(0.6, naive=0.5, oracle=0.5))


def test_oracle_metrics_score_the_true_probabilities_on_observed_rows():
    labels = {"click": np.array([1.0, 0.0, 0.0, 1.0]), "watch_time": np.array([33.0, -1, 6, 20])}
    masks = {"click": np.ones(4), "watch_time": np.array([1.0, 0.0, 1.0, 1.0])}
    truth = {"click_prob": np.array([0.9, 0.2, 0.6, 0.4]),
             "watch_time_mean": np.array([30.0, 99.0, 10.0, 20.0])}
    out = peers.oracle_metrics((CLICK, WATCH), truth, labels, masks)
    # Positives 0.9, 0.4 vs negatives 0.2, 0.6: 0.9 beats both, 0.4 beats 0.2 only -> 3 / 4.
    assert out["click"] == pytest.approx(0.75)
    # Observed errors 3, 4, 0 (the masked row's 99 does not count) -> sqrt(25 / 3).
    assert out["watch_time"] == pytest.approx(math.sqrt(25 / 3))


def test_frequency_vocabulary_orders_by_count_then_value_and_lookup_maps_the_rest_to_oov():
    vocab = peers.frequency_vocabulary(["b", "a", "c", "b", "a", "b", "d"], top_k=2)
    assert vocab == {"b": 0, "a": 1}
    np.testing.assert_array_equal(peers.lookup(vocab, ["a", "c", "b"], oov=2), [1, 2, 0])


def test_reference_history_uses_its_own_vocabulary_shifted_by_one_with_zero_padding():
    train = {"history_item_ids": [["i1", "i2"], ["i1"]], "user_id": ["u1", "u2"],
             "item_id": ["i1", "i1"], "category": ["c1", "c1"], "device": ["ios", "web"],
             "price": [1.0, 3.0], "item_ctr_7d": [0.1, 0.1], "user_age": [20, 40],
             "hour": [1, 1]}
    evals = dict(train, history_item_ids=[["i1", "i9"], []], price=[2.0, 5.0])
    out = peers.reference_inputs(train, evals)
    # History vocabulary: i1 (twice) -> 0, i2 -> 1; ids + 1; the unseen i9 -> OOV 2 + 1 = 3.
    np.testing.assert_array_equal(out["history_item_ids"][:, :3], [[1, 3, 0], [0, 0, 0]])
    assert out["history_item_ids"].shape == (2, 20)
    # z-scored with the training split's mean 2 and std 1.
    np.testing.assert_allclose(out["price"], [0.0, 3.0])
    # Constant in training (std 0): centred, not divided by zero.
    np.testing.assert_allclose(out["hour"], [0.0, 0.0])
    assert peers.reference_sizes(train)["history_item_ids"] == 2 + 2


def test_eval_rows_are_joined_to_the_ground_truth_by_their_content():
    columns, truth = generator.generate_span(generator.World(3), 300, seed=3, span=1,
                                             with_truth=True)
    order = np.random.default_rng(0).permutation(300)[:120]
    shuffled = {k: [v[i] for i in order] if isinstance(v, list) else np.asarray(v)[order]
                for k, v in columns.items()}
    index = peers.align(peers.row_keys(columns), peers.row_keys(shuffled))
    np.testing.assert_array_equal(truth["click_prob"][index], truth["click_prob"][order])
    other = generator.generate_span(generator.World(4), 50, seed=4, span=1)
    with pytest.raises(KeyError, match="not in the generated data"):
        peers.align(peers.row_keys(columns), peers.row_keys(other))


def test_paired_differences_and_their_standard_error():
    out = peers.paired([0.70, 0.72, 0.74], [0.69, 0.70, 0.71])
    assert out["per_seed"] == [0.01, 0.02, 0.03]
    assert out["mean"] == pytest.approx(0.02)
    # Sample std of 0.01, 0.02, 0.03 is 0.01; SE = 0.01 / sqrt(3).
    assert out["se"] == pytest.approx(round(0.01 / math.sqrt(3), 4))


def test_trials_change_one_loss_weight_or_keep_only_the_named_tasks():
    from tests.support import default_problem as features

    weighted = peers.trial_tasks(features.TASKS, {"click": 2.0})
    assert [t.loss_weight for t in weighted] == [2.0] + [t.loss_weight for t in features.TASKS[1:]]
    assert [t.name for t in peers.trial_tasks(features.TASKS, only=("conversion", "click"))] == \
        ["click", "conversion"]
    with pytest.raises(ValueError, match="unknown tasks"):
        peers.trial_tasks(features.TASKS, {"clicks": 2.0})
    assert peers.parse_weight_trial("click=2") == ("click", 2.0)
    with pytest.raises(ValueError, match="TASK=WEIGHT"):
        peers.parse_weight_trial("click")
