"""`mtl spec init` on span files (the embedded data, a hand-written CSV span), `mtl spec check`,
and `mtl schema freeze --data` for a spec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from models.spec import DEFAULT_SPEC_PATH, default_spec, load_spec
from pipeline.cli.main import main
from pipeline.data import statistics as statistics_lib
from pipeline.datasets import generator

EMBEDDED_LABELS = ["click:binary", "conversion:binary", "watch_time:regression", "like:binary"]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    data = tmp_path_factory.mktemp("embedded") / "data"
    generator.generate(data, 3000, seed=5)
    return data


def _labels(labels):
    return [arg for label in labels for arg in ("--label", label)]


def test_the_draft_for_the_embedded_data_has_the_default_specs_kinds(embedded, tmp_path, capsys):
    out = tmp_path / "spec.yaml"
    assert main(["spec", "init", "--data", str(embedded), *_labels(EMBEDDED_LABELS),
                 "--name", "funnel", "--out", str(out)]) == 0
    spec = load_spec(out)
    shipped = default_spec()
    assert spec.name == "funnel" and spec.input_format == "tfrecord"
    assert ({f.name: (f.kind, f.dtype) for f in spec.features}
            == {f.name: (f.kind, f.dtype) for f in shipped.features})
    assert spec.feature("history_item_ids").vocabulary == "item_id"
    assert spec.feature("device").schema == {"domain": "closed"} and spec.slices == ("device",)
    assert spec.feature("item_ctr_7d").schema == {"min": 0, "max": 1}
    assert ([(t.name, t.kind, t.label_key, t.missing_label) for t in spec.tasks]
            == [(t.name, t.kind, t.label_key, -1) for t in shipped.default_tasks])
    watch_time = spec.task("watch_time")
    assert 20 <= watch_time.scale <= 80 and 20 <= watch_time.threshold <= 80
    assert "wrote" in capsys.readouterr().err
    # An existing file is not overwritten (before any statistics are computed) unless --force.
    before = out.read_text()
    assert main(["spec", "init", "--data", str(embedded), "--label", "click:binary",
                 "--out", str(out)]) == 2
    assert f"{out} exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == before


def test_schema_freeze_from_data_for_a_spec_accepts_the_same_data(embedded, tmp_path, capsys):
    out = tmp_path / "schema" / "schema.pbtxt"
    assert main(["schema", "freeze", "--data", str(embedded), "--spec", str(DEFAULT_SPEC_PATH),
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    schema = tfdv.load_schema_text(str(out))
    assert {f.name for f in schema.feature} >= set(default_spec().raw_feature_keys)
    anomalies = tfdv.validate_statistics(statistics_lib.span_statistics(embedded), schema)
    assert dict(anomalies.anomaly_info) == {}


def _shop_span(data, n: int = 600) -> None:
    rng = np.random.default_rng(3)
    popularity = 1 / np.arange(1, 201) ** 1.1
    popularity /= popularity.sum()
    added = rng.random(n) < 0.3
    frame = pd.DataFrame({
        "store_id": rng.integers(1, 41, n),
        "product": [f"p{k}" for k in rng.choice(200, n, p=popularity)],
        "region": rng.choice(["north", "south", "east"], n),
        "basket_value": np.round(rng.lognormal(3, 1.2, n), 2),
        "discount": np.round(rng.uniform(0, 0.5, n), 3),
        "temperature": np.round(rng.normal(10, 8, n), 1),
        # A CSV sequence: whitespace-separated ids in one column.
        "viewed": [" ".join(f"p{k}" for k in rng.choice(200, rng.integers(0, 7), p=popularity))
                   for _ in range(n)],
        "add_to_cart": added.astype(int),
        "dwell": np.where(added, np.round(rng.gamma(2, 20, n), 1), -99),
        "rating": np.where(added, rng.integers(0, 5, n), -1),
    })
    (data / "span-3").mkdir(parents=True)
    frame.to_csv(data / "span-3" / "part-0.csv", index=False)


def test_a_draft_from_a_csv_span(tmp_path, capsys):
    data = tmp_path / "shop"
    _shop_span(data)
    assert main(["spec", "init", "--data", str(data), "--format", "csv",
                 "--label", "add_to_cart:binary", "--label", "dwell:regression",
                 "--label", "rating:multiclass"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    spec = load_spec(path)
    assert spec.name == "shop" and spec.input_format == "csv"
    kinds = {f.name: (f.kind, f.dtype) for f in spec.features}
    assert kinds == {"product": ("categorical", "string"), "region": ("categorical", "string"),
                     "store_id": ("categorical", "int"), "basket_value": ("numeric", "float"),
                     "discount": ("numeric", "float"), "temperature": ("numeric", "float"),
                     "viewed": ("sequence", "string")}
    assert spec.feature("store_id").vocabulary_size == 50
    assert spec.feature("viewed").vocabulary == "product"
    assert spec.feature("basket_value").transform == "log"
    assert spec.feature("discount").schema == {"min": 0, "max": 1}
    assert spec.feature("temperature").schema == {} and spec.slices == ("region",)
    cart, dwell, rating = spec.tasks
    assert (cart.kind, cart.missing_label) == ("binary", -1)
    assert (dwell.kind, dwell.missing_label) == ("regression", -99)
    assert (rating.kind, rating.missing_label, rating.num_classes) == ("multiclass", -1, 5)
    assert "# the smallest value, in about 7" in text  # -99 in about 70% of the examples

    assert main(["spec", "check", str(path)]) == 0
    assert capsys.readouterr().out == (
        "shop: 7 features (3 categorical, 3 numeric, 1 sequence), 3 tasks (1 binary, "
        "1 regression, 1 multiclass), slices: region\n")

    # A label that does not fit its kind, or is not in the data: exit 2 naming it.
    assert main(["spec", "init", "--data", str(data), "--label", "rating:binary"]) == 2
    assert "label 'rating' has the values [2, 3, 4]" in capsys.readouterr().err
    assert main(["spec", "init", "--data", str(data), "--label", "region:regression"]) == 2
    assert "label 'region' holds strings" in capsys.readouterr().err


def test_spec_check(tmp_path, capsys):
    assert main(["spec", "check", str(DEFAULT_SPEC_PATH)]) == 0
    assert capsys.readouterr().out == (
        "recommendation_funnel: 9 features (4 categorical, 4 numeric, 1 sequence), 5 tasks "
        "(3 binary, 1 regression, 1 multiclass; 1 optional), slices: device\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_SPEC_PATH.read_text().replace("kind: sequence", "kind: image"))
    assert main(["spec", "check", str(bad)]) == 2
    assert f"spec {bad}: features[8].kind: unknown value 'image'" in capsys.readouterr().err
