"""`mtl schema freeze --data` for a spec."""

from __future__ import annotations

import pytest
import tensorflow_data_validation as tfdv

from models.spec import DEFAULT_SPEC_PATH, default_spec
from pipeline.cli.main import main
from pipeline.data import generator
from pipeline.data import statistics as statistics_lib


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    data = tmp_path_factory.mktemp("embedded") / "data"
    generator.generate(data, 3000, seed=5)
    return data


def test_schema_freeze_from_data_for_a_spec_accepts_the_same_data(embedded, tmp_path, capsys):
    out = tmp_path / "schema" / "schema.pbtxt"
    assert main(["schema", "freeze", "--data", str(embedded), "--spec", str(DEFAULT_SPEC_PATH),
                 "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    schema = tfdv.load_schema_text(str(out))
    assert {f.name for f in schema.feature} >= set(default_spec().raw_feature_keys)
    anomalies = tfdv.validate_statistics(statistics_lib.span_statistics(embedded), schema)
    assert dict(anomalies.anomaly_info) == {}
