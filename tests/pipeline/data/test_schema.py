"""The committed curated schema (config/) and the curation rules of `mtl schema freeze`.

Statistics come from `tfdv.generate_statistics_from_dataframe` on generated spans (in memory,
no Beam), so these run in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import statistics_pb2

from models.spec import default_spec
from pipeline.data import schema as schema_lib
from pipeline.datasets import generator as data
from tests.support import default_problem as features


def _stats(seed: int, span: int = 2, n: int = 2000, change=None, engagement_level=False):
    columns = data.generate_span(data.World(seed), n, seed, span,
                                 engagement_level=engagement_level)
    frame = pd.DataFrame({k: v if isinstance(v, list) else list(v) for k, v in columns.items()})
    if change:
        change(frame)
    return tfdv.generate_statistics_from_dataframe(frame)


@pytest.fixture(scope="module")
def committed():
    path = schema_lib.default_schema_path()
    reference = text_format.Parse(schema_lib.reference_stats_path(path).read_text(),
                                  statistics_pb2.DatasetFeatureStatisticsList())
    return tfdv.load_schema_text(str(path)), reference


@pytest.mark.parametrize("seed", [7, 42])
def test_healthy_spans_of_other_seeds_pass_validation_and_drift(committed, seed):
    schema, reference = committed
    anomalies = tfdv.validate_statistics(_stats(seed), schema, previous_statistics=reference)
    assert dict(anomalies.anomaly_info) == {}
    measured = {d.path.step[0]: d.drift_measurements[0].value for d in anomalies.drift_skew_info}
    assert set(measured) == {f.name for f in default_spec().features if f.schema.get("drift")}
    assert all(value < 0.1 for value in measured.values()), measured


def test_a_tenfold_price_is_drift(committed):
    schema, reference = committed

    def tenfold(frame):
        frame["price"] = frame["price"] * 10

    anomalies = tfdv.validate_statistics(_stats(42, change=tenfold), schema,
                                         previous_statistics=reference)
    assert set(anomalies.anomaly_info) == {"price"}
    assert "Jensen-Shannon divergence" in anomalies.anomaly_info["price"].description


def test_curation_rules():
    stats = _stats(7, span=1)
    schema = schema_lib.curate(tfdv.infer_schema(stats, infer_feature_shape=True), stats)
    by_name = {f.name: f for f in schema.feature}
    assert set(by_name) == set(features.RAW_FEATURE_KEYS) | set(features.LABEL_KEYS)
    optional = {t.label_key for t in features.OPTIONAL_TASKS}
    assert all(f.presence.min_fraction == 1.0 for f in schema.feature if f.name not in optional)
    # An optional task's label may be absent (existing data stays valid); in range when there.
    engagement = by_name["engagement_level"]
    assert (engagement.presence.min_fraction, engagement.presence.min_count) == (0.0, 0)
    assert (engagement.int_domain.min, engagement.int_domain.max) == (-1, 2)
    assert not engagement.HasField("shape")
    assert list(by_name["device"].string_domain.value) == ["android", "ios", "tablet", "web"]
    assert not by_name["device"].distribution_constraints.HasField("min_domain_mass")
    assert by_name["category"].distribution_constraints.min_domain_mass == 0.9
    assert len(by_name["category"].string_domain.value) == data.WorldConfig().num_categories
    assert by_name["user_id"].WhichOneof("domain_info") is None  # open ids: no domain
    for label in ("click", "conversion", "like"):
        assert (by_name[label].int_domain.min, by_name[label].int_domain.max) == (-1, 1)
    price = by_name["price"].float_domain
    assert (price.min, price.HasField("max"), price.disallow_nan, price.disallow_inf) == (
        0.0, False, True, True)
    assert (by_name["hour"].int_domain.min, by_name["hour"].int_domain.max) == (0, 23)
    assert by_name["price"].drift_comparator.jensen_shannon_divergence.threshold == 0.15
    assert by_name["device"].drift_comparator.infinity_norm.threshold == 0.15
    reference = schema_lib.reference_statistics(stats)
    assert sorted(f.path.step[0] for f in reference.datasets[0].features) == ["device", "price"]


def test_out_of_range_label_and_nan_are_anomalies(committed):
    schema, _ = committed

    def corrupt(frame):
        frame.loc[::50, "click"] = 2
        price = frame["price"].to_numpy().copy()
        price[::50] = np.nan
        frame["price"] = price

    anomalies = tfdv.validate_statistics(_stats(7, change=corrupt), schema)
    assert {"click", "price"} <= set(anomalies.anomaly_info)


def test_optional_engagement_label_is_valid_when_present_and_checked_for_range(committed):
    schema, _ = committed
    with_label = tfdv.validate_statistics(_stats(7, engagement_level=True), schema)
    assert dict(with_label.anomaly_info) == {}

    def out_of_range(frame):
        frame.loc[::50, "engagement_level"] = 3

    bad = tfdv.validate_statistics(_stats(7, change=out_of_range, engagement_level=True), schema)
    assert set(bad.anomaly_info) == {"engagement_level"}
    assert "large value" in bad.anomaly_info["engagement_level"].description


def test_a_run_validates_against_the_homes_own_schema_then_the_packaged_one(tmp_path):
    packaged = schema_lib.default_schema_path()
    assert packaged.is_file() and packaged.parent == Path(default_spec().source).parent
    assert schema_lib.resolve_schema_path(None, tmp_path) == packaged
    own = schema_lib.home_schema_path(tmp_path)
    own.parent.mkdir(parents=True)
    own.write_text(packaged.read_text())
    assert schema_lib.resolve_schema_path(None, tmp_path) == own.resolve()
    explicit = tmp_path / "mine.pbtxt"
    explicit.write_text(packaged.read_text())
    assert schema_lib.resolve_schema_path(str(explicit), tmp_path) == explicit.resolve()
    # Only an explicit request lets SchemaGen infer the schema.
    assert schema_lib.resolve_schema_path(None, tmp_path, infer=True) is None


def test_a_missing_packaged_schema_stops_the_run_instead_of_inferring_one(tmp_path, monkeypatch):
    monkeypatch.setattr(schema_lib, "spec_schema_path", lambda spec: None)
    with pytest.raises(FileNotFoundError, match="ships with the package is missing .*--infer-schema"):
        schema_lib.resolve_schema_path(None, tmp_path / "home")
