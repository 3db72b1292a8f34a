"""The curated schema and the anomalies gate in `create_pipeline` (built, not run)."""

from __future__ import annotations

import pytest

from pipeline.core.config import PipelineConfig
from pipeline.dag.build import create_pipeline
from pipeline.data import schema as schema_lib


def _nodes(config):
    return {node.id: node for node in create_pipeline(config).components}


def test_the_committed_curated_schema_is_imported_and_gates_transform_and_trainer(tmp_path):
    assert schema_lib.default_schema_path().is_file()
    nodes = _nodes(PipelineConfig(root=str(tmp_path)))
    assert "SchemaGen" not in nodes
    imported = nodes["ImportSchemaGen"]
    assert imported.exec_properties["schema_file"] == str(schema_lib.default_schema_path())
    assert imported.exec_properties["schema_fingerprint"] == schema_lib.file_fingerprint(
        schema_lib.default_schema_path())
    gate = nodes["AnomaliesGate"]
    assert gate.exec_properties["allow_anomalies"] == 0
    assert '"like"' in gate.exec_properties["label_keys"]
    assert 'step: "price"' in gate.exec_properties["reference_statistics"]
    validated = gate.outputs["validated_schema"]
    assert nodes["Transform"].inputs["schema"] is validated
    assert nodes["Trainer"].inputs["schema"] is validated


def test_allow_anomalies_and_another_schema_file(tmp_path):
    other = tmp_path / "my_schema.pbtxt"
    other.write_text(schema_lib.default_schema_path().read_text() + "\n# edited\n")
    nodes = _nodes(PipelineConfig(root=str(tmp_path), schema_path=str(other),
                                  allow_anomalies=True))
    assert nodes["ImportSchemaGen"].exec_properties["schema_file"] == str(other)
    # An edited schema file changes the cache key (the fingerprint), not only its path.
    assert nodes["ImportSchemaGen"].exec_properties["schema_fingerprint"] != (
        schema_lib.file_fingerprint(schema_lib.default_schema_path()))
    assert nodes["AnomaliesGate"].exec_properties["allow_anomalies"] == 1
    # No reference statistics next to that schema: no drift check, no error.
    assert nodes["AnomaliesGate"].exec_properties["reference_statistics"] == ""


def test_a_missing_schema_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="nope.pbtxt does not exist; write one with `mtl schema freeze --out FILE`"):
        create_pipeline(PipelineConfig(root=str(tmp_path), schema_path=str(tmp_path / "nope.pbtxt")))
