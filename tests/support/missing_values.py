"""Shop spans with absent values, written as a user's export would hold them.

`with_absent(rows, fraction)` removes each optional feature's value from a random `fraction`
of the rows (independently per feature): the TFRecord writer then leaves the feature out of
the tf.Example, the CSV writer leaves the cell empty. Every feature kind of the tabular model
has an optional feature here: categorical (`product`, int ids), numeric (`basket_value` float
with a log transform, `session_minutes` bucketized, `visits_30d` int), sequence (`viewed` int
ids sharing the product vocabulary, `search_terms` strings with their own). `shopper` and
`store` stay in every row: they are the required features.

    python -m tests.support.missing_values DIR [csv|tfrecord]

writes DIR/shop.yaml and DIR/data/span-1 (5,000 rows, 25% of each optional value absent).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tests.support import shop_problem

OPTIONAL = ("product", "basket_value", "session_minutes", "visits_30d", "viewed",
            "search_terms")
REQUIRED = ("shopper", "store")


def with_absent(rows: list[dict], fraction: float = 0.25, seed: int = 11,
                features: tuple[str, ...] = OPTIONAL) -> list[dict]:
    """Copies of `rows` without `features`' values in a random `fraction` of the rows each
    (exactly round(fraction * len(rows)) rows per feature)."""
    rng = np.random.default_rng(seed)
    out = [dict(row) for row in rows]
    count = round(fraction * len(rows))
    for key in features:
        for i in rng.choice(len(rows), size=count, replace=False):
            out[int(i)].pop(key, None)
    return out


def write_problem(root: Path, input_format: str = "tfrecord", n: int = 5000, seed: int = 3,
                  fraction: float = 0.25) -> tuple[Path, Path, list[dict]]:
    """(spec file, data folder, rows) of a shop problem whose first span has absent values."""
    spec = shop_problem.write_spec(root / "shop.yaml", input_format=input_format)
    rows = with_absent(shop_problem.generate(n, seed=seed), fraction)
    write = (shop_problem.write_csv_span if input_format == "csv"
             else shop_problem.write_tfrecord_span)
    write(root / "data", 1, rows)
    return spec, root / "data", rows


if __name__ == "__main__":
    folder, fmt = Path(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else "tfrecord")
    spec_path, data, _ = write_problem(folder, fmt)
    print(f"wrote {spec_path} and {data}/span-1 ({fmt})")
