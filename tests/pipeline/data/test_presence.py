"""Presence from the data: optional features at freeze time, and the gate's presence check.

A feature is held by an example when the example has at least one value of it: an absent
tf.Example feature, and an empty CSV cell (CsvExampleGen writes the feature with no value),
are both absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.anomalies_gate import executor, presence
from models.spec import ProblemSpec
from pipeline.data import schema as schema_lib

SPEC = {
    "name": "presence",
    "input": {"format": "csv"},
    "features": [
        {"name": "store", "kind": "categorical", "vocabulary_size": 10},
        {"name": "visits", "kind": "numeric", "dtype": "int"},
        {"name": "price", "kind": "numeric"},
        {"name": "viewed", "kind": "sequence", "max_length": 4, "vocabulary_size": 10},
    ],
    "tasks": [{"name": "bought", "kind": "binary", "gate": {"bound": 0.5, "max_change": 0.1}}],
}


def _common(num_non_missing, min_values, max_values, total_values):
    feature = statistics_pb2.FeatureNameStatistics()
    common = feature.num_stats.common_stats
    common.num_non_missing = num_non_missing
    common.min_num_values, common.max_num_values = min_values, max_values
    common.tot_num_values = total_values
    return feature


def test_present_count_reads_absent_features_and_empty_value_lists():
    # An absent tf.Example feature: 70 of 100 examples hold it, each with one value.
    assert presence.present_count(_common(70, 1, 1, 70)) == 70
    # CsvExampleGen's empty cells: all 100 have the feature, 25 with no value.
    assert presence.present_count(_common(100, 0, 1, 75)) == 75
    # A list that may be empty (a sequence: no item viewed) is present when the feature is.
    assert presence.present_count(_common(90, 0, 6, 200)) == 90
    assert presence.present_fraction(_common(100, 0, 1, 75), 100) == 0.75
    assert presence.present_count(None) == 0


@pytest.mark.parametrize("fraction, minimum", [(1.0, 0.8), (0.75, 0.55), (0.7531, 0.55),
                                               (0.2, 0.0), (0.1, 0.0)])
def test_the_minimum_presence_is_the_reference_less_the_margin(fraction, minimum):
    assert schema_lib.PRESENCE_MARGIN == 0.2
    assert schema_lib.min_presence(fraction) == minimum


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _rows(n: int = 100) -> list[dict]:
    """visits empty in 1 row of 4 (an int column with empty cells), price in 1 of 10, viewed
    in 1 of 2; store in every row; `comment` is a column the spec does not name."""
    return [{"store": f"s{i % 3}", "visits": "" if i % 4 == 0 else i,
             "price": "" if i % 10 == 0 else i / 10, "viewed": "" if i % 2 else f"a{i % 5} b",
             "comment": "" if i % 3 else "late", "bought": i % 2} for i in range(n)]


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("presence")
    _write_csv(tmp / "data" / "span-1" / "part-0.csv", _rows())
    spec = ProblemSpec.from_dict(SPEC)
    path, _ = schema_lib.freeze_from_data(tmp / "data", spec, tmp / "schema.pbtxt")
    schema = text_format.Parse(path.read_text(), schema_pb2.Schema())
    return path, {f.name: f for f in schema.feature}, spec


def test_a_feature_with_empty_cells_is_optional_with_the_presence_of_the_data(frozen):
    path, by_name, spec = frozen
    # 75%, 90%, 50% of the rows hold a value: minimum presence 55%, 70%, 30%.
    assert by_name["visits"].presence.min_fraction == pytest.approx(0.55)
    assert by_name["price"].presence.min_fraction == pytest.approx(0.70)
    assert by_name["viewed"].presence.min_fraction == pytest.approx(0.30)
    for name in ("visits", "price", "viewed"):
        assert by_name[name].presence.min_count == 1
        assert not by_name[name].HasField("shape")  # parsed sparse, imputed by Transform
    # The int column keeps its type with empty cells.
    assert by_name["visits"].type == schema_pb2.INT
    assert by_name["visits"].value_count.max == 1
    # Present in every row: required, one value each.
    assert by_name["store"].presence.min_fraction == 1.0
    assert by_name["store"].shape.dim[0].size == 1
    assert schema_lib.optional_features(path, spec) == ("visits", "price", "viewed")


def test_columns_the_spec_does_not_name_are_ignored_and_said_so(frozen):
    path, by_name, _ = frozen
    assert by_name["comment"].lifecycle_stage == schema_pb2.DEPRECATED
    assert not by_name["comment"].HasField("presence")
    assert schema_lib.ignored_message(path) == (
        "columns of the data that the spec does not name are ignored (not validated, not "
        "transformed): comment")
    assert "ignored (deprecated): comment." in path.read_text()


def test_a_feature_the_spec_marks_optional_is_optional_though_always_present(tmp_path):
    _write_csv(tmp_path / "data" / "span-1" / "part-0.csv", _rows(40))
    values = dict(SPEC, features=[dict(SPEC["features"][0], optional=True), *SPEC["features"][1:]])
    spec = ProblemSpec.from_dict(values)
    path, _ = schema_lib.freeze_from_data(tmp_path / "data", spec, tmp_path / "schema.pbtxt")
    store = {f.name: f for f in text_format.Parse(path.read_text(), schema_pb2.Schema()).feature
             }["store"]
    assert store.presence.min_fraction == pytest.approx(0.8)
    assert not store.HasField("shape")


def _span_stats(values_per_feature: dict[str, int], n: int = 100):
    """Statistics as StatisticsGen computes them on CsvExampleGen's examples: every example
    has the feature, `values` of them with a value."""
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(num_examples=n)
    for name, count in values_per_feature.items():
        feature = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.INT)
        feature.path.step.append(name)
        feature.num_stats.CopyFrom(_common(n, 0, 1, count).num_stats)
    return stats


def test_the_gate_refuses_a_span_where_an_optional_feature_went_missing(frozen):
    _, by_name, _ = frozen
    schema = schema_pb2.Schema()
    schema.feature.add().CopyFrom(by_name["visits"])
    schema.feature.add().CopyFrom(by_name["comment"])
    # 60 of 100 hold visits (>= 55%): fine; an ignored column may vanish.
    assert executor.presence_problems(schema, _span_stats({"visits": 60, "comment": 0})) == []
    problems = executor.find_problems(schema, {"train": _span_stats({"visits": 10})}, {})
    assert problems == [
        "[train] feature 'visits': holds a value in 10.0% of the examples (10 of 100), fewer "
        "than the 55% the curated schema requires (an absent feature or an empty cell has no "
        "value) (expected: INT, present in at least 55% of examples)"]


def test_a_feature_marked_optional_after_the_freeze_asks_for_a_new_freeze(frozen):
    path, _, spec = frozen
    later = spec.with_optional(["store"])
    with pytest.raises(ValueError, match="feature 'store' is optional in problem 'presence', "
                                         "but the curated schema .* re-freeze"):
        schema_lib.optional_features(path, later)
