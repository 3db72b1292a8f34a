"""Data as exported from real tables, written by tests (and by the commands of the docs):
CSV spans with empty cells and multi-word names, a span whose files disagree on a feature's
type, and spec drafts from in-memory frames."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

TRIP_ROWS = 1500
COMPANIES = ("Blue River Cab", "Yellow Checker Taxi", "Flash Cab", "City Service",
             "Sun Taxi", "Star North Management", "Medallion Leasing", "Globe Taxi",
             "Top Cab Affiliation", "Choice Taxi Association", "Taxi Affiliation Services",
             "Chicago Carriage Cab", "Five Star Taxi", "Nova Taxi Affiliation", "Setare Inc",
             "Patriot Taxi Dba Peace Taxi", "Koam Taxi Association", "Metro Jet Taxi",
             "Leonard Cab Co", "Gold Coast Taxi")


def write_trips(data: Path, rows: int = TRIP_ROWS, seed: int = 11, note_every: int = 500) -> Path:
    """Taxi trips as span 1 of `data` (one CSV file): 8% empty company cells (names of one to
    five words), 5% empty pickup area codes (77 areas of uneven popularity), 20% empty fares, a
    tip note in one row of `note_every` (3 rows out of 1,500), the `tipped` label."""
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.ones(77))
    folder = Path(data) / "span-1"
    folder.mkdir(parents=True)
    path = folder / "trips.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["company", "pickup_area", "fare", "trip_seconds", "tip_note",
                         "tipped"])
        for i in range(rows):
            company = COMPANIES[min(int(rng.zipf(1.5)) - 1, len(COMPANIES) - 1)]
            area = int(rng.choice(np.arange(1, 78), p=popularity))
            seconds = int(rng.gamma(3.0, 300.0))
            fare = round(3.25 + seconds / 60 * 0.9 + rng.normal(0, 1), 2)
            writer.writerow([
                "" if rng.random() < 0.08 else company,
                "" if rng.random() < 0.05 else area,
                "" if rng.random() < 0.2 else fare,
                seconds,
                "thanks" if i % note_every == 0 else "",
                int(rng.random() < 0.4),
            ])
    return path


def write_mixed_price_span(home: Path, examples: int = 200) -> Path:
    """The default problem's span 1 under `home`/data in two files, the second holding `price`
    as bytes (the curated schema and the first file: floats); returns the second file."""
    import tensorflow as tf

    from pipeline.datasets import generator as data

    records = data.columns_to_examples(data.generate_span(data.World(7), examples, 7, 1))
    folder = Path(home) / "data" / "span-1"
    folder.mkdir(parents=True)
    half = examples // 2
    with tf.io.TFRecordWriter(str(folder / "part-0.tfrecord.gz"), "GZIP") as writer:
        for record in records[:half]:
            writer.write(record)
    bad = folder / "part-1.tfrecord.gz"
    with tf.io.TFRecordWriter(str(bad), "GZIP") as writer:
        for record in records[half:]:
            example = tf.train.Example.FromString(record)
            price = example.features.feature["price"]
            value = price.float_list.value[0]
            price.Clear()
            price.bytes_list.value.append(f"{value:.2f}".encode())
            writer.write(example.SerializeToString())
    return bad


def draft_frame(frame, labels, **kwargs):
    """`pipeline.data.draft.draft` on a pandas frame's TFDV statistics (no Beam), with the
    second pass over integer ids, lists and codes that `mtl spec init` makes."""
    import tensorflow_data_validation as tfdv

    from pipeline.data import draft as draft_lib

    labels = [draft_lib.parse_label(x) for x in labels]
    categorical_labels = [name for name, kind in labels if kind != "regression"]
    statistics = tfdv.generate_statistics_from_dataframe(
        frame, stats_options=draft_lib.statistics_options(categorical_labels))
    ints = draft_lib.categorical_ints(statistics, labels)
    categorical = (tfdv.generate_statistics_from_dataframe(
        frame[ints], stats_options=draft_lib.statistics_options(ints)) if ints else None)
    return draft_lib.draft(statistics, labels, name="t", categorical=categorical, **kwargs)
