"""`mtl schema freeze` on the suite's baseline home (reads its ML Metadata and statistics)."""

from __future__ import annotations

import os

import pytest
import tensorflow_data_validation as tfdv

pytestmark = pytest.mark.e2e


def test_freeze_writes_a_curated_schema_and_its_reference(fault_home, tmp_path, capsys):
    from pipeline.cli import main as cli

    config, _ = fault_home
    out = tmp_path / "config" / "schema.pbtxt"
    assert cli.main(["schema", "freeze", "--root", str(config.home), "--out", str(out)]) == 0
    assert sorted(os.listdir(out.parent)) == ["reference_statistics.pbtxt", "schema.pbtxt"]
    assert f"wrote {out}" in capsys.readouterr().out
    schema = tfdv.load_schema_text(str(out))
    device = tfdv.get_feature(schema, "device")
    assert list(device.string_domain.value) == ["android", "ios", "tablet", "web"]
    assert tfdv.get_feature(schema, "like").int_domain.max == 1
    # Frozen from StatisticsGen's output, not Transform's pre/post-transform statistics.
    assert "StatisticsGen/statistics" in out.read_text().splitlines()[0]


def test_freeze_writes_into_the_home_by_default_and_the_next_run_uses_it(fault_home, capsys):
    from pipeline.cli import main as cli
    from pipeline.data import schema as schema_lib

    config, _ = fault_home
    assert cli.main(["schema", "freeze", "--root", str(config.home)]) == 0
    own = config.home / "schema" / "schema.pbtxt"
    assert f"wrote {own}" in capsys.readouterr().out
    assert (own.parent / "reference_statistics.pbtxt").is_file()
    assert schema_lib.resolve_schema_path(None, config.home, spec=config.spec) == own.resolve()


def test_freeze_without_a_run_is_a_clear_error(tmp_path, capsys):
    from pipeline.cli import main as cli

    assert cli.main(["schema", "freeze", "--root", str(tmp_path)]) == 2
    assert f"no ML Metadata at {tmp_path / 'metadata.db'}" in capsys.readouterr().err
