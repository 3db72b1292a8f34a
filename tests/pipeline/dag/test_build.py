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
    assert gate.exec_properties["min_examples"] == 1000  # PipelineConfig.min_span_examples
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


def test_the_minimum_span_size_comes_from_the_flag_or_the_config(tmp_path):
    from pipeline.cli import run_flags

    config = run_flags.run_config(["--root", str(tmp_path), "--min-span-examples", "500"])
    assert config.min_span_examples == 500
    assert _nodes(config)["AnomaliesGate"].exec_properties["min_examples"] == 500
    assert run_flags.run_config(["--root", str(tmp_path)]).min_span_examples == 1000
    with pytest.raises(ValueError, match="min_span_examples must be >= 0, got -1"):
        PipelineConfig(min_span_examples=-1)


def test_a_missing_schema_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match="nope.pbtxt does not exist; write one with `mtl schema freeze --out FILE`"):
        create_pipeline(PipelineConfig(root=str(tmp_path), schema_path=str(tmp_path / "nope.pbtxt")))


def test_naive_flag_sets_the_ratio_or_the_margin_by_task_kind(tmp_path):
    from pipeline.cli import run_flags

    config = run_flags.run_config(["--root", str(tmp_path), "--naive", "watch_time=1.2",
                                   "--naive", "like=-0.1"])
    assert config.gates == {"watch_time": {"naive_ratio": 1.2}, "like": {"naive_margin": -0.1}}
    with pytest.raises(SystemExit, match="--naive clik=0.1: unknown task 'clik'"):
        run_flags.run_config(["--root", str(tmp_path), "--naive", "clik=0.1"])


def test_tfrecord_spans_are_imported_by_the_record_copying_executor(tmp_path):
    from components.record_import import Executor

    example_gen = _nodes(PipelineConfig(root=str(tmp_path)))["ImportExampleGen"]
    assert example_gen.executor_spec.executor_class is Executor


def test_transform_statistics_are_on_for_a_text_problem_only(tmp_path):
    from models.spec import resolve_spec

    def transform(**changes):
        return _nodes(PipelineConfig(root=str(tmp_path), **changes))["Transform"]

    # The default problem has no text feature: no statistics, unless asked for.
    assert transform().exec_properties["disable_statistics"] == 1
    assert "post_transform_stats" not in transform().outputs
    assert transform(transform_statistics=True).exec_properties["disable_statistics"] == 0
    # A text problem's post-transform statistics count its truncated texts.
    text = transform(spec=resolve_spec("text"), infer_schema=True)
    assert text.exec_properties["disable_statistics"] == 0
    assert "post_transform_stats" in text.outputs


def test_transform_and_trainer_get_the_features_the_curated_schema_lets_examples_lack(tmp_path):
    import json

    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from models.spec import default_spec

    def specs(**changes):
        nodes = _nodes(PipelineConfig(root=str(tmp_path), **changes))
        return [json.loads(nodes[n].exec_properties["custom_config"])["spec"]
                for n in ("Transform", "Trainer")]

    # The default problem's features are all required: its spec travels unchanged.
    assert specs() == [default_spec().to_dict()] * 2
    # A schema where `price` may be absent (presence below 1, no shape) makes it optional.
    schema = text_format.Parse(schema_lib.default_schema_path().read_text(), schema_pb2.Schema())
    price = next(f for f in schema.feature if f.name == "price")
    price.presence.min_fraction = 0.55
    price.ClearField("shape")
    edited = tmp_path / "schema.pbtxt"
    edited.write_text(text_format.MessageToString(schema))
    for values in specs(schema_path=str(edited)):
        assert [f["name"] for f in values["features"] if f.get("optional")] == ["price"]
