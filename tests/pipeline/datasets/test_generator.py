"""The embedded dataset: exact feature names, funnel label semantics, determinism, spans."""

import glob
import hashlib

import numpy as np
import pytest
import tensorflow as tf

from pipeline.datasets import generator as data

FEATURES = {"user_id", "item_id", "category", "device", "price", "item_ctr_7d", "user_age",
            "hour", "history_item_ids"}
LABELS = {"click", "conversion", "watch_time", "like"}


@pytest.fixture(scope="module")
def world():
    return data.World(7)


@pytest.fixture(scope="module")
def columns(world):
    return data.generate_span(world, 4000, seed=7, span=1)


def test_funnel_labels_are_missing_exactly_when_not_clicked(columns):
    click = np.asarray(columns["click"])
    conversion = np.asarray(columns["conversion"])
    watch = np.asarray(columns["watch_time"])
    like = np.asarray(columns["like"])
    assert set(np.unique(click)) == {0, 1}
    assert np.array_equal(conversion == -1, click == 0)
    assert np.array_equal(watch == -1.0, click == 0)
    assert set(np.unique(conversion[click == 1])) == {0, 1}
    assert (watch[click == 1] >= 0).all()
    assert (like[click == 0] == -1).all()
    clicked_like_missing = (like[click == 1] == -1).mean()
    assert 0.2 < clicked_like_missing < 0.4  # 30% missing at random among clicks
    assert set(np.unique(like[click == 1])) == {-1, 0, 1}


def test_features_have_the_documented_types_and_ranges(columns):
    assert set(columns) == FEATURES | LABELS
    assert all(isinstance(v, str) for v in columns["user_id"][:10])
    assert all(0 <= len(h) <= 20 for h in columns["history_item_ids"])
    assert {len(h) for h in columns["history_item_ids"]} >= {0, 20}
    assert set(columns["device"]) <= set(data.DEVICES)
    assert ((columns["hour"] >= 0) & (columns["hour"] <= 23)).all()
    assert (columns["price"] > 0).all()


def test_ids_have_zipf_like_popularity(columns):
    _, counts = np.unique(columns["item_id"], return_counts=True)
    counts = np.sort(counts)[::-1]
    # The top 1% of items get far more than 1% of impressions.
    assert counts[: max(1, len(counts) // 100)].sum() / counts.sum() > 0.1


def test_generation_is_deterministic_and_spans_differ(world, columns):
    again = data.generate_span(data.World(7), 4000, seed=7, span=1)
    for key in columns:
        assert np.array_equal(np.asarray(columns[key], dtype=object),
                              np.asarray(again[key], dtype=object)), key
    other = data.generate_span(world, 4000, seed=7, span=2)
    assert not np.array_equal(columns["click"], other["click"])


def test_labels_depend_on_the_features(columns):
    # Item quality drives clicks through item_ctr_7d: top quartile clicks far more.
    ctr = columns["item_ctr_7d"]
    click = columns["click"]
    high = click[ctr > np.quantile(ctr, 0.75)].mean()
    low = click[ctr < np.quantile(ctr, 0.25)].mean()
    assert high > low + 0.15


def test_write_span_is_gzipped_examples_and_append_writes_the_next_span(tmp_path):
    written = data.generate(tmp_path, num_examples=300, num_spans=2, seed=3)
    assert [p.name for p in written] == ["span-1", "span-2"]
    files = glob.glob(str(tmp_path / "span-1" / "*.tfrecord.gz"))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert len(records) == 300
    example = tf.train.Example.FromString(records[0].numpy())
    assert set(example.features.feature) >= FEATURES - {"history_item_ids"} | LABELS
    with pytest.raises(FileExistsError, match="append-span"):
        data.generate(tmp_path, num_examples=300, seed=3)
    (third,) = data.generate(tmp_path, num_examples=300, seed=3, append=True)
    assert third.name == "span-3"
    assert data.existing_spans(tmp_path) == [1, 2, 3]
    # Nothing temporary is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["span-1", "span-2", "span-3"]


def _digest(columns) -> str:
    """A digest of every value of every column (key by key, values in order)."""
    digest = hashlib.sha256()
    for key in sorted(columns):
        digest.update(key.encode())
        digest.update(repr([v if isinstance(v, (str, list)) else v.item()
                            for v in columns[key]]).encode())
    return digest.hexdigest()


def test_the_ground_truth_changes_no_column_and_no_draw(world, columns):
    with_truth, truth = data.generate_span(world, 4000, seed=7, span=1, with_truth=True)
    assert _digest(with_truth) == _digest(columns)
    assert set(truth) == set(data.TRUTH_KEYS)
    assert all(np.asarray(v).shape == (4000,) for v in truth.values())
    # Every value of a small span, pinned to what the generator wrote before the ground truth
    # existed: asking for the truth must never move a random draw.
    small, _ = data.generate_span(data.World(7), 500, seed=7, span=2, with_truth=True)
    assert _digest(small) == "4723f4b63efe8c8c7387b480801483198baaa5297c26f95385a6ea863d51fc7f"


def test_the_ground_truth_matches_the_labels_it_draws(world):
    columns, truth = data.generate_span(world, 40_000, seed=7, span=1, with_truth=True)
    click = np.asarray(columns["click"])
    clicked = click == 1
    for key in ("click_prob", "conversion_prob", "like_prob", "like_prob_given_watch"):
        assert ((truth[key] > 0) & (truth[key] < 1)).all(), key
    # Each probability averages to its label's rate (binomial standard errors are < 0.005).
    assert truth["click_prob"].mean() == pytest.approx(click.mean(), abs=0.015)
    conversion = np.asarray(columns["conversion"])[clicked]
    assert truth["conversion_prob"][clicked].mean() == pytest.approx(conversion.mean(), abs=0.02)
    like = np.asarray(columns["like"])
    liked = like >= 0
    assert truth["like_prob"][liked].mean() == pytest.approx(like[liked].mean(), abs=0.02)
    assert truth["like_prob_given_watch"][liked].mean() == pytest.approx(like[liked].mean(),
                                                                         abs=0.02)
    # The expected watch time is the mean of the observed ones, and closer to each of them
    # than any constant is (it explains part of the variance).
    watch = np.asarray(columns["watch_time"])[clicked]
    expected = truth["watch_time_mean"][clicked]
    assert expected.mean() == pytest.approx(watch.mean(), rel=0.03)
    assert np.mean((watch - expected) ** 2) < 0.9 * np.var(watch)
    # Click probabilities rank clicks well above chance.
    positives, negatives = truth["click_prob"][clicked], truth["click_prob"][~clicked]
    assert np.median(positives) > np.median(negatives)
