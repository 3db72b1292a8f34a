"""ImportExampleGen's executor, without decoding the records it only copies.

TFX's ImportExampleGen parses every serialized tf.Example (payload format FORMAT_TF_EXAMPLE),
serializes it again to hash it into its split, and a third time to write it. When the split
is a hash of the whole record (no `partition_feature_name`), none of that needs the parsed
proto: this executor hashes the record's bytes and writes them unchanged, which base
ExampleGen supports for serialized records. The records are still tf.Examples (the output's
payload format is unchanged) and every one of them was parsed by the span check before the
run (`pipeline.data.preflight`). With a partition feature (a split key), the records are
parsed to read it, as TFX does.
"""

from __future__ import annotations

import apache_beam as beam
from tfx.components import ImportExampleGen
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils


def copies_records(exec_properties: dict) -> bool:
    """Whether the records can be split and written as the bytes they were read as."""
    if (exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
            != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE):
        return False
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    return not output_config.split_config.HasField("partition_feature_name")


class Executor(import_executor.Executor):
    """ImportExampleGen's executor; serialized tf.Examples are split and written as read."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        parse_and_import = super().GetInputSourceToExamplePTransform()

        @beam.ptransform_fn
        @beam.typehints.with_input_types(beam.Pipeline)
        def ImportRecords(pipeline: beam.Pipeline, exec_properties: dict,  # noqa: N802
                          split_pattern: str) -> beam.pvalue.PCollection:
            if copies_records(exec_properties):
                return pipeline | import_executor._ImportSerializedRecord(  # noqa: SLF001
                    exec_properties, split_pattern)
            return pipeline | parse_and_import(exec_properties, split_pattern)

        return ImportRecords


class RecordImportExampleGen(ImportExampleGen):
    """TFX's ImportExampleGen (same parameters, outputs and span handling) with `Executor`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
