"""The embedded synthetic dataset: impressions of a recommender with a click -> conversion funnel.

A seeded "world" (users, items, categories, latent tastes) is drawn once from the seed; each span
draws its impressions from that world with its own generator, so span k is the same whatever
other spans were written, and the ground truth may drift a little from span to span as real
traffic does.

Labels (all observed only where the funnel lets them be):
  click       int64 0/1, always observed.
  conversion  int64 0/1 after a click, -1 when click == 0.
  watch_time  float seconds >= 0 after a click, -1.0 when click == 0.
  like        int64 0/1 after a click, -1 when click == 0 and, at random, for 30% of clicks.
  engagement_level (optional, `engagement_level=True`)
              int64 0 bounced / 1 engaged / 2 deeply engaged after a click, -1 when click == 0
              and, at random, for 20% of clicks. Off by default: its random draws come from a
              generator of their own, so the other columns are the same with or without it.

Every label comes from one ground truth over user-item affinity (latent tastes), the user's
history, item quality (seen through `item_ctr_7d`), price, device and hour, so the tasks are
correlated and each is learnable well above chance.

Files: ``<out>/span-<N>/part-<i>-of-<n>.tfrecord.gz``, gzipped TFRecords of ``tf.train.Example``.
A span is written to a temporary folder and renamed into place, so a reader never sees a
half-written span.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from pipeline.data import layout
from pipeline.data.layout import existing_spans

DEVICES = ("android", "ios", "web", "tablet")
DEVICE_PROBS = (0.45, 0.30, 0.20, 0.05)
EXAMPLES_PER_FILE = 50_000
# Cut points of the engagement score into levels 0 / 1 / 2 (about 30% / 40% / 30% of clicks).
ENGAGEMENT_CUTS = (0.6, 2.7)


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Sizes of the synthetic world; the defaults give Zipf-like popularity over many ids."""

    num_users: int = 10_000
    num_items: int = 3_000
    num_categories: int = 30
    latent_dim: int = 8
    max_history: int = 20
    favorites_per_user: int = 30
    drift_per_span: float = 0.05


class World:
    """Users, items and their latent tastes, drawn once from the seed."""

    def __init__(self, seed: int, config: WorldConfig = WorldConfig()):
        self.config = c = config
        rng = np.random.default_rng([seed, 0])
        d = c.latent_dim
        category_vec = rng.normal(size=(c.num_categories, d))
        self.item_category = rng.integers(0, c.num_categories, size=c.num_items)
        item_vec = 0.6 * rng.normal(size=(c.num_items, d)) + 0.8 * category_vec[self.item_category]
        self.item_vec = (item_vec / np.sqrt(d)).astype(np.float32)
        self.user_vec = rng.normal(size=(c.num_users, d)).astype(np.float32)
        self.item_quality = rng.normal(0.0, 0.6, size=c.num_items)
        self.item_price = np.round(rng.lognormal(mean=3.0, sigma=0.7, size=c.num_items), 2)
        self.user_age = np.clip(18 + rng.gamma(2.0, 8.0, size=c.num_users), 18, 80).astype(int)
        self.user_device = rng.choice(len(DEVICES), size=c.num_users, p=DEVICE_PROBS)
        # Zipf-like popularity over shuffled ranks.
        self.user_pop = _zipf_probs(c.num_users, 1.05, rng)
        self.item_pop = _zipf_probs(c.num_items, 1.1, rng)
        # Each user's favourite items: highest affinity plus log-popularity, computed in chunks.
        fav = np.empty((c.num_users, c.favorites_per_user), dtype=np.int64)
        log_pop = np.log(self.item_pop)
        for start in range(0, c.num_users, 2_000):
            aff = self.user_vec[start : start + 2_000] @ self.item_vec.T + 0.3 * log_pop
            fav[start : start + 2_000] = np.argsort(-aff, axis=1)[:, : c.favorites_per_user]
        self.favorites = fav


def _zipf_probs(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    ranks = rng.permutation(n) + 1
    weights = 1.0 / (ranks + 5.0) ** exponent
    return weights / weights.sum()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# Gauss-Hermite nodes (probabilists') for expectations over the watch time's N(0, 1) noise.
_NOISE_NODES, _NOISE_WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_NOISE_WEIGHTS = _NOISE_WEIGHTS / _NOISE_WEIGHTS.sum()
TRUTH_KEYS = ("click_prob", "conversion_prob", "like_prob", "like_prob_given_watch",
              "watch_time_mean")


def _watch_seconds(log_mean: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Watch time in seconds before rounding: 25 exp(log_mean + 0.3 noise), clipped to 0..600."""
    return np.clip(25.0 * np.exp(log_mean + 0.3 * noise), 0.0, 600.0)


def generate_span(world: World, num_examples: int, seed: int, span: int,
                  engagement_level: bool = False, with_truth: bool = False):
    """Draws `num_examples` impressions of span `span` as columns (numpy arrays / lists);
    `engagement_level` adds that optional multiclass label.

    With `with_truth`, returns `(columns, truth)`: `truth` holds, per example, what the
    generator knows and a model never sees (`TRUTH_KEYS`): the click probability, the
    conversion and like probabilities given a click, the expected watch time in seconds given a
    click, and the like probability given the realized watch time (the label's own draw uses
    it; `like_prob` averages it over the watch-time noise, so it is a function of the impression
    alone). The columns and every random draw are the same with or without it.
    """
    if num_examples <= 0:
        raise ValueError(f"num_examples must be positive, got {num_examples}")
    c = world.config
    rng = np.random.default_rng([seed, span])
    n = num_examples
    drift = 1.0 + c.drift_per_span * (span - 1)

    users = rng.choice(c.num_users, size=n, p=world.user_pop)
    items = rng.choice(c.num_items, size=n, p=world.item_pop)
    # Users mostly use their primary device.
    device = np.where(
        rng.random(n) < 0.8,
        world.user_device[users],
        rng.choice(len(DEVICES), size=n, p=DEVICE_PROBS),
    )
    hour = (rng.normal(19.0, 5.0, size=n).round().astype(int)) % 24

    # History: 0..max_history items, mostly the user's favourites, some popular noise.
    hist_len = rng.integers(0, c.max_history + 1, size=n)
    fav_pick = rng.integers(0, c.favorites_per_user, size=(n, c.max_history))
    noise_items = rng.choice(c.num_items, size=(n, c.max_history), p=world.item_pop)
    from_fav = rng.random((n, c.max_history)) < 0.8
    hist = np.where(from_fav, world.favorites[users[:, None], fav_pick], noise_items)
    hist_mask = np.arange(c.max_history)[None, :] < hist_len[:, None]

    # Ground truth.
    target_vec = world.item_vec[items]
    affinity = np.einsum("nd,nd->n", world.user_vec[users], target_vec) * np.sqrt(c.latent_dim) / 2
    hist_sim = np.einsum("nhd,nd->nh", world.item_vec[hist], target_vec) * c.latent_dim / 2
    hist_aff = np.where(
        hist_len > 0, (hist_sim * hist_mask).sum(axis=1) / np.maximum(hist_len, 1), 0.0
    )
    quality = world.item_quality[items]
    price = world.item_price[items]
    log_price = np.log(price / 20.0)
    device_effect = np.array([0.0, 0.2, -0.3, 0.1])[device]
    evening = ((hour >= 18) & (hour <= 23)).astype(float)
    age = world.user_age[users]
    item_ctr_7d = np.round(_sigmoid(-1.5 + quality + rng.normal(0.0, 0.25, size=n)), 4)

    click_logit = (
        -1.3
        + drift * 0.6 * affinity
        + 0.8 * hist_aff
        + 1.6 * quality
        - 0.4 * log_price
        + device_effect
        + 0.3 * evening
        - 0.01 * (age - 35)
    )
    click = (rng.random(n) < _sigmoid(click_logit)).astype(np.int64)
    conv_logit = (
        -0.5 + 0.6 * affinity + 0.4 * hist_aff + 1.0 * quality - drift * 1.0 * log_price
    )
    conversion = np.where(click == 1, (rng.random(n) < _sigmoid(conv_logit)).astype(np.int64), -1)
    watch = 25.0 * np.exp(
        0.25 * affinity + 0.35 * quality + 0.2 * hist_aff + 0.3 * rng.normal(size=n)
    )
    watch = np.round(np.clip(watch, 0.0, 600.0), 2)
    watch_time = np.where(click == 1, watch, -1.0)
    like_logit = -0.6 + 0.6 * affinity + 0.04 * (watch - 25.0) + 0.8 * quality + device_effect
    like_value = (rng.random(n) < _sigmoid(like_logit)).astype(np.int64)
    like_observed = (click == 1) & (rng.random(n) >= 0.3)
    like = np.where(like_observed, like_value, -1)

    columns = {
        "user_id": [f"u{u}" for u in users],
        "item_id": [f"i{i}" for i in items],
        "category": [f"c{world.item_category[i]}" for i in items],
        "device": [DEVICES[d] for d in device],
        "price": price.astype(np.float32),
        "item_ctr_7d": item_ctr_7d.astype(np.float32),
        "user_age": age.astype(np.int64),
        "hour": hour.astype(np.int64),
        "history_item_ids": [
            [f"i{h}" for h in row[:length]] for row, length in zip(hist, hist_len)
        ],
        "click": click,
        "conversion": conversion.astype(np.int64),
        "watch_time": watch_time.astype(np.float32),
        "like": like.astype(np.int64),
    }
    if engagement_level:
        # Its own generator: the columns above do not change when the label is turned on.
        extra_rng = np.random.default_rng([seed, span, 1])
        # An ordinal outcome of the same ground truth: one engagement score, two cut points
        # (ordered logit), so the classes are related to watch time and like, and mostly
        # driven by what the features show (item quality, the history's similarity): the
        # latent score alone would predict the level for about 70% of observed rows.
        engagement = (0.6 * affinity + 2.0 * quality + 0.8 * hist_aff
                      + 0.01 * (watch - 25.0) + 0.6 * extra_rng.logistic(size=n))
        level = np.digitize(engagement, ENGAGEMENT_CUTS).astype(np.int64)
        observed = (click == 1) & (extra_rng.random(n) >= 0.2)
        columns["engagement_level"] = np.where(observed, level, -1).astype(np.int64)
    if not with_truth:
        return columns
    # Computed apart from the draws above (which stay exactly as they were): expectations over
    # the watch-time noise by quadrature (the 0.01 s rounding is ignored).
    watch_log_mean = 0.25 * affinity + 0.35 * quality + 0.2 * hist_aff
    like_base = -0.6 + 0.6 * affinity + 0.8 * quality + device_effect
    watch_nodes = _watch_seconds(watch_log_mean[:, None], _NOISE_NODES[None, :])
    truth = {
        "click_prob": _sigmoid(click_logit),
        "conversion_prob": _sigmoid(conv_logit),
        "like_prob": _sigmoid(like_base[:, None] + 0.04 * (watch_nodes - 25.0)) @ _NOISE_WEIGHTS,
        "like_prob_given_watch": _sigmoid(like_logit),
        "watch_time_mean": watch_nodes @ _NOISE_WEIGHTS,
    }
    return columns, truth


def columns_to_examples(columns: dict[str, object]) -> list[bytes]:
    """Serialises column data to `tf.train.Example` bytes.

    A value's Python type picks the feature's list: str/bytes -> bytes, float -> float,
    int -> int64, a list -> a bytes list. A None value leaves the feature out of that example
    (the fault suite writes such rows on purpose).
    """
    import tensorflow as tf

    names = list(columns)
    n = len(columns[names[0]])
    out = []
    for i in range(n):
        feature = {}
        for name in names:
            value = columns[name][i]
            if value is None:
                continue
            if isinstance(value, list):
                feature[name] = tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=[v.encode() for v in value])
                )
            elif isinstance(value, (str, bytes)):
                raw = value.encode() if isinstance(value, str) else value
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw]))
            elif isinstance(value, (float, np.floating)):
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
            else:
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return out


def write_span(
    out_dir: str | os.PathLike,
    span: int,
    num_examples: int,
    seed: int,
    world: World | None = None,
    engagement_level: bool = False,
) -> Path:
    """Writes span `span` atomically (temporary folder, then rename) and returns its folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = layout.span_dir(out, span)
    if final.exists():
        raise FileExistsError(f"{final} already exists; choose another span or folder")
    world = world or World(seed)
    columns = generate_span(world, num_examples, seed, span, engagement_level=engagement_level)
    return write_records(out, span, columns_to_examples(columns))


def write_records(out_dir: str | os.PathLike, span: int, records: list[bytes]) -> Path:
    """Writes serialized examples as span `span` of `out_dir` atomically (a temporary folder in
    `out_dir`, then a rename) and returns its folder; refuses a span that exists."""
    import tensorflow as tf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = layout.span_dir(out, span)
    if final.exists():
        raise FileExistsError(f"{final} already exists; choose another span or folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=out))
    try:
        num_files = max(1, -(-len(records) // EXAMPLES_PER_FILE))
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        for f in range(num_files):
            path = tmp / f"part-{f:05d}-of-{num_files:05d}{layout.FILE_SUFFIX}"
            with tf.io.TFRecordWriter(str(path), options) as writer:
                for record in records[f::num_files]:
                    writer.write(record)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def generate(
    out_dir: str | os.PathLike,
    num_examples: int = 100_000,
    num_spans: int = 1,
    seed: int = 42,
    append: bool = False,
    engagement_level: bool = False,
    optional_tasks: tuple[str, ...] | list[str] = (),
) -> list[Path]:
    """Writes `num_spans` spans of `num_examples` examples each.

    With `append`, writes spans after the highest existing one (the next day's data); otherwise
    the folder must hold no span yet. `engagement_level` (or that name among `optional_tasks`,
    a run's optional tasks) adds the optional multiclass label.
    """
    unknown = sorted(set(optional_tasks) - {"engagement_level"})
    if unknown:
        raise ValueError(f"the embedded data has no label for optional tasks {unknown}")
    engagement_level = engagement_level or "engagement_level" in optional_tasks
    if num_spans <= 0:
        raise ValueError(f"num_spans must be positive, got {num_spans}")
    present = existing_spans(out_dir)
    if present and not append:
        raise FileExistsError(
            f"{out_dir} already holds spans {present}; use --append-span to add the next one"
        )
    first = (present[-1] + 1) if present else 1
    world = World(seed)
    return [
        write_span(out_dir, span, num_examples, seed, world, engagement_level=engagement_level)
        for span in range(first, first + num_spans)
    ]
