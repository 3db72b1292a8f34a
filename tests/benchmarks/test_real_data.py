"""The real-data benchmark's loaders and peers on small slices: what a user would check first."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarks import real_data as rd
from pipeline.datasets.text_examples import partition_bucket


@pytest.fixture(scope="module")
def ratings():
    return rd.load_ratings()


@pytest.fixture(scope="module")
def taxi():
    return rd.load_taxi()


def test_the_ratings_are_movielens_100k_from_the_installed_wheel(ratings):
    frame = ratings.frame
    assert len(frame) == 100_000
    assert frame["user_id"].nunique() == 943 and frame["item_id"].nunique() == 1682
    assert set(frame["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    # liked is rating >= 4, and every rating row has its user's side features.
    assert (frame["liked"] == (frame["rating"] >= 4)).all()
    assert frame[["age", "gender", "occupation"]].notna().all().all()


def test_user_and_item_biases_and_factorization_beat_the_global_mean(ratings):
    held = ratings.held_out(seed=0)
    assert held.sum() == 20_000
    truth = ratings.frame["rating"][held]
    rating = rd.Task("rating", "regression")
    naive = rd.task_metric(rating, truth, rd.naive_predictions(
        rating, ratings.frame["rating"][~held], int(held.sum())))
    biases = rd.task_metric(rating, truth, rd.ratings_peer(ratings, held, 0, "biases")["rating"])
    # The global mean's RMSE on MovieLens 100k is about 1.12; biases alone about 0.94-0.95.
    assert 1.08 < naive < 1.16
    assert biases < naive - 0.12

    small = rd.load_ratings(limit=6000)
    held_small = small.held_out(seed=0)
    svd = rd.ratings_peer(small, held_small, 0, "svd")["rating"]
    mean = rd.naive_predictions(rating, small.frame["rating"][~held_small], int(held_small.sum()))
    truth_small = small.frame["rating"][held_small]
    assert rd.task_metric(rating, truth_small, svd) < rd.task_metric(rating, truth_small, mean)
    assert svd.min() >= 1.0 and svd.max() <= 5.0


def test_the_taxi_table_has_empty_cells_and_tips_known_for_card_payments_only(taxi):
    frame = taxi.frame
    assert len(frame) == 15_002
    empty = frame[taxi.features].isna().sum()
    assert empty["pickup_community_area"] > 0 and empty["dropoff_latitude"] > 0
    tipped = frame["tipped"]
    card = frame["payment"] == rd.PAYMENT_CLASSES.index("Credit Card")
    # Observed exactly where the trip was paid by card; missing everywhere else.
    assert (tipped.notna() == card).all()
    assert 0.2 < tipped.notna().mean() < 0.6
    assert set(tipped.dropna().unique()) == {0.0, 1.0}
    assert set(frame["payment"].unique()) == {0.0, 1.0, 2.0}


def test_the_taxi_split_holds_out_the_newest_trips(taxi):
    held = taxi.held_out(seed=0)
    assert held.sum() == round(0.2 * len(taxi.frame))
    stamps = taxi.frame["trip_start_timestamp"]
    assert stamps[held].min() >= stamps[~held].max()
    # A time split does not move with the seed.
    assert (taxi.held_out(seed=1) == held).all()


def test_gradient_boosted_trees_beat_the_naive_predictor_on_a_slice():
    wage = rd.load_wage(limit=1500)
    held = wage.held_out(seed=0)
    # One OpenMP thread: the trees' threads wait on each other on a busy machine.
    with threadpool_limits(1, user_api="openmp"):
        trees = rd.gbdt_predictions(wage, held, seed=0)
    for task in wage.tasks:
        truth = wage.frame[task.name][held]
        naive = rd.naive_predictions(task, wage.frame[task.name][~held], int(held.sum()))
        if task.kind == "regression":
            assert rd.task_metric(task, truth, trees[task.name]) < rd.task_metric(task, truth,
                                                                                   naive)
        else:
            assert rd.task_metric(task, truth, naive) == pytest.approx(0.5)
            assert rd.task_metric(task, truth, trees[task.name]) > 0.6


def test_metrics_count_observed_labels_only():
    binary = rd.Task("t", "binary")
    # The NaN row is left out: positives 0.9 and 0.6 both above the negative 0.2.
    assert rd.task_metric(binary, [1, np.nan, 0, 1], [0.9, 0.0, 0.2, 0.6]) == 1.0
    regression = rd.Task("r", "regression")
    assert rd.task_metric(regression, [1.0, 3.0, np.nan], [2.0, 2.0, 9.0]) == pytest.approx(1.0)
    multiclass = rd.Task("m", "multiclass", ("a", "b", "c"))
    probabilities = [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]]
    assert rd.task_metric(multiclass, [0, 2, 0], probabilities) == pytest.approx(2 / 3)


def test_split_keys_put_the_held_out_rows_in_the_pipelines_eval_split():
    held = np.array([True, False, False, True, False] * 8)
    keys = rd.split_keys(held)
    assert len(set(keys)) == len(keys)
    total = rd.TRAIN_BUCKETS + rd.EVAL_BUCKETS
    assert [partition_bucket(k, total) >= rd.TRAIN_BUCKETS for k in keys] == list(held)


def test_the_review_names_the_split_key_and_nothing_else():
    drafted = "name: wage\ninput: {format: csv}\n\nfeatures:\n  - name: age\n"
    reviewed = rd.review_spec(drafted)
    assert reviewed == drafted.replace("{format: csv}", "{format: csv, split_key: split_key}")
    with pytest.raises(ValueError, match="input"):
        rd.review_spec("name: wage\n")


def test_filling_by_hand_leaves_no_empty_cell_and_uses_the_train_rows_only(taxi):
    held = taxi.held_out(seed=0)
    filled = rd.filled_by_hand(taxi, held)
    assert not filled.frame[taxi.features].isna().any().any()
    column = "pickup_latitude"
    was_empty = taxi.frame[column].isna()
    assert (filled.frame.loc[was_empty, column] == taxi.frame[column][~held].median()).all()
    # Labels keep their missing values: only features are filled.
    assert filled.frame["tipped"].isna().sum() == taxi.frame["tipped"].isna().sum()
    assert rd.arms_for(taxi, ["naive", "biases", "filled"]) == ["naive", "filled"]
