"""ImportExampleGen's executor, serializing each record once instead of twice.

TFX's ImportExampleGen parses every serialized tf.Example (payload format FORMAT_TF_EXAMPLE),
serializes it deterministically to hash it into its split, then serializes the proto again to
write it, and the protos travel between Beam's stages as objects. When the split is a hash of
the whole record (no `partition_feature_name`), this executor turns each record into its
deterministic serialization at once and hashes and writes those bytes (base ExampleGen
supports serialized records): the same split as TFX's for every example, whichever program
wrote it (map entries in key order), so an example repeated in two spans never lands in one's
train split and the other's eval split. The output's payload format is unchanged. With a
partition feature (a split key), the records are parsed to read it, as TFX does.
"""

from __future__ import annotations

import apache_beam as beam
import tensorflow as tf
from tfx.components import ImportExampleGen
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils


def copies_records(exec_properties: dict) -> bool:
    """Whether the records can be split and written as bytes (no feature is read)."""
    if (exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
            != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE):
        return False
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                              output_config)
    return not output_config.split_config.HasField("partition_feature_name")


def canonical_bytes(record: bytes) -> bytes:
    """The record re-serialized deterministically (map entries in key order): the same
    example hashes to the same split whichever program wrote it."""
    return tf.train.Example.FromString(record).SerializeToString(deterministic=True)


class Executor(import_executor.Executor):
    """ImportExampleGen's executor; tf.Examples are split and written as canonical bytes."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        parse_and_import = super().GetInputSourceToExamplePTransform()

        @beam.ptransform_fn
        @beam.typehints.with_input_types(beam.Pipeline)
        def ImportRecords(pipeline: beam.Pipeline, exec_properties: dict,  # noqa: N802
                          split_pattern: str) -> beam.pvalue.PCollection:
            if copies_records(exec_properties):
                return (pipeline
                        | import_executor._ImportSerializedRecord(  # noqa: SLF001
                            exec_properties, split_pattern)
                        | "Canonical" >> beam.Map(canonical_bytes))
            return pipeline | parse_and_import(exec_properties, split_pattern)

        return ImportRecords


class RecordImportExampleGen(ImportExampleGen):
    """TFX's ImportExampleGen (same parameters, outputs and span handling) with `Executor`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
