"""A second problem, structurally unlike the default one, written by tests as a user would.

An online shop: other feature names and kinds (an int-id categorical, a log-transformed and a
bucketized numeric, an int-id sequence sharing the product vocabulary, a string sequence with a
vocabulary of its own), three tasks instead of four: a binary task, a regression whose
missing label is -99 (not -1), and a five-class multiclass task observed only after an
add-to-cart. The ground truth is a seeded function of the features, so each task is learnable.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

STORES = ("north", "south", "east", "west", "online")
TERMS = tuple(f"term{i}" for i in range(40))
RATINGS = ("awful", "poor", "fine", "good", "great")
DWELL_MISSING = -99.0

SPEC_YAML = """\
# A shop's problem: add-to-cart, dwell seconds and the rating given after an add-to-cart.
name: shop
input: {{format: {format}}}
features:
  - {{name: shopper, kind: categorical, vocabulary_size: 600, embedding_dim: 8}}
  - {{name: product, kind: categorical, dtype: int, vocabulary_size: 300, embedding_dim: 8}}
  - name: store
    kind: categorical
    vocabulary_size: 10
    embedding_dim: 3
    schema: {{domain: closed}}
  - name: basket_value
    kind: numeric
    dtype: float
    transform: log
    schema: {{min: 0, drift: {{jensen_shannon_divergence: 0.3}}}}
  - {{name: session_minutes, kind: numeric, dtype: float, transform: bucketize, buckets: 6}}
  - {{name: visits_30d, kind: numeric, dtype: int, schema: {{min: 0}}}}
  - {{name: viewed, kind: sequence, dtype: int, max_length: 8, vocabulary: product}}
  - name: search_terms
    kind: sequence
    max_length: 4
    vocabulary_size: 60
    embedding_dim: 4
tasks:
  - name: add_to_cart
    kind: binary
    fusion_weight: 1.0
    gate: {{metric: auc, bound: 0.6, max_change: 0.05, min_labels: 50}}
  - name: dwell
    kind: regression
    label: dwell_seconds
    missing: -99
    scale: 40
    loss_weight: 0.5
    fusion_weight: 0.01
    gate: {{metric: rmse, bound: 200, max_change: 0.2, change: relative, naive_ratio: 0.99}}
  - name: rating
    kind: multiclass
    classes: [awful, poor, fine, good, great]
    top_k: 2
    loss_weight: 0.5
    fusion_weight: 0.1
    gate: {{metric: accuracy, bound: 0.3, max_change: 0.1, min_labels: 30}}
slices: [store]
model:
  hparams: {{bottom_units: [64, 32], tower_units: [16], epochs: 3, batch_size: 128,
            embedding_learning_rate: null}}
"""


def spec_text(input_format: str = "tfrecord") -> str:
    return SPEC_YAML.format(format=input_format)


def write_spec(path: Path, input_format: str = "tfrecord") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec_text(input_format))
    return path


def generate(n: int, seed: int = 3) -> list[dict]:
    """`n` rows of raw features and labels (the sentinels where a label is not observed)."""
    rng = np.random.default_rng(seed)
    dim = 4
    shopper_vec = rng.normal(size=(500, dim))
    product_vec = rng.normal(size=(250, dim)) / np.sqrt(dim)
    product_price = np.round(rng.lognormal(3.0, 0.8, size=250), 2)
    store_effect = dict(zip(STORES, (0.3, -0.2, 0.0, 0.1, -0.4)))
    term_vec = rng.normal(size=(len(TERMS), dim)) / np.sqrt(dim)
    rows = []
    for _ in range(n):
        shopper = int(rng.integers(500))
        product = int(rng.zipf(1.3) % 250)
        store = STORES[int(rng.integers(len(STORES)))]
        viewed = [int(v) for v in rng.integers(250, size=int(rng.integers(0, 12)))]
        terms = [TERMS[int(t)] for t in rng.integers(len(TERMS), size=int(rng.integers(0, 4)))]
        affinity = float(shopper_vec[shopper] @ product_vec[product])
        viewed_affinity = (float(np.mean(product_vec[viewed] @ product_vec[product]))
                           if viewed else 0.0)
        term_affinity = (float(np.mean([term_vec[TERMS.index(t)] @ shopper_vec[shopper]
                                        for t in terms])) if terms else 0.0)
        minutes = float(np.round(rng.exponential(8.0), 2))
        visits = int(rng.poisson(4))
        basket = float(product_price[product] * (1 + rng.integers(0, 3)))
        logit = (-0.3 + 1.6 * affinity + 1.5 * viewed_affinity + 0.8 * term_affinity
                 + 2 * store_effect[store] + 0.1 * min(minutes, 30) - 0.5 * np.log1p(basket)
                 + 1.2)
        cart = int(rng.random() < 1 / (1 + np.exp(-logit)))
        if rng.random() < 0.7:
            dwell = float(np.round(np.exp(3.0 + 0.5 * affinity + 0.04 * min(minutes, 30)
                                          + 0.3 * rng.normal()), 2))
        else:
            dwell = DWELL_MISSING
        if cart:
            score = (1.2 * affinity + 0.8 * viewed_affinity + 0.8 * (np.log1p(basket) - 3.6)
                     + 2 * store_effect[store] + 0.3 * rng.logistic())
            rating = int(np.digitize(score, (-1.0, -0.3, 0.3, 1.0)))
        else:
            rating = -1
        rows.append({
            "shopper": f"s{shopper}", "product": product, "store": store,
            "basket_value": basket, "session_minutes": minutes, "visits_30d": visits,
            "viewed": viewed, "search_terms": terms,
            "add_to_cart": cart, "dwell_seconds": dwell, "rating": rating,
        })
    return rows


_FLOATS = ("basket_value", "session_minutes", "dwell_seconds")
_STRINGS = ("shopper", "store", "search_terms")


def to_example(row: dict) -> bytes:
    """A tf.Example of a row: the float and string features as such, other values by their
    Python types (a test may turn an int label into a float)."""
    import tensorflow as tf

    example = tf.train.Example()
    feature = example.features.feature
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        if key in _FLOATS or any(isinstance(v, float) for v in values):
            feature[key].float_list.value.extend(float(v) for v in values)
        elif key in _STRINGS or any(isinstance(v, str) for v in values):
            feature[key].bytes_list.value.extend(str(v).encode() for v in values)
        else:
            feature[key].int64_list.value.extend(values)
    return example.SerializeToString()


def write_tfrecord_span(data_dir: Path, span: int, rows: list[dict]) -> Path:
    folder = data_dir / f"span-{span}"
    folder.mkdir(parents=True)
    import tensorflow as tf

    path = folder / "part-0.tfrecord.gz"
    with tf.io.TFRecordWriter(str(folder / "part-0.tmp"), options="GZIP") as writer:
        for row in rows:
            writer.write(to_example(row))
    (folder / "part-0.tmp").replace(path)
    return folder


def write_csv_span(data_dir: Path, span: int, rows: list[dict]) -> Path:
    """CSV: a sequence is one whitespace-separated column; a missing rating, and a value a row
    does not hold (a key absent from its dict), is an empty cell."""
    folder = data_dir / f"span-{span}"
    folder.mkdir(parents=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(folder / "part-0.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            out = dict(row)
            for key in ("viewed", "search_terms"):
                if key in row:
                    out[key] = " ".join(str(v) for v in row[key])
            if row["rating"] < 0:
                out["rating"] = ""
            writer.writerow(out)
    return folder
