"""ImportExampleGen's executor: every record once, canonically serialized, split as TFX does."""

from __future__ import annotations

import json

import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import record_import
from components.record_import import canonical_bytes
from pipeline.core.config import DEFAULT_BEAM_ARGS


def _example(i: int) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
        "key": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"k%d" % (i % 7)])),
    })).SerializeToString()


def _run(tmp_path, records: list[bytes], partition_feature: str | None,
         extra_beam_args: tuple[str, ...] = (),
         executor=record_import.Executor) -> dict[str, list[bytes]]:
    data = tmp_path / "data" / "span-1"
    data.mkdir(parents=True)
    for part in range(2):
        with tf.io.TFRecordWriter(str(data / f"part-{part}.tfrecord.gz"),
                                  options="GZIP") as writer:
            for record in records[part::2]:
                writer.write(record)
    split_config = example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=4),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)],
        **({"partition_feature_name": partition_feature} if partition_feature else {}))
    output = standard_artifacts.Examples()
    output.uri = str(tmp_path / "out")
    properties = {
        "input_base": str(tmp_path / "data"),
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name="single_split", pattern="span-1/*")])),
        "output_config": proto_utils.proto_to_json(
            example_gen_pb2.Output(split_config=split_config)),
        "output_data_format": example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FileFormat.FORMAT_TFRECORDS_GZIP,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=[*DEFAULT_BEAM_ARGS, *extra_beam_args], tmp_dir=str(tmp_path / "tmp"))
    executor(context).Do({}, {"examples": [output]}, properties)
    assert json.loads(output.split_names) == ["train", "eval"]
    return {split: [bytes(r.numpy()) for r in tf.data.TFRecordDataset(
        tf.io.gfile.glob(f"{output.uri}/Split-{split}/*"), compression_type="GZIP")]
        for split in ("train", "eval")}


def test_every_record_lands_in_one_split_as_its_canonical_bytes(tmp_path):
    records = [_example(i) for i in range(300)]
    splits = _run(tmp_path, records, None)
    assert sorted(splits["train"] + splits["eval"]) == sorted(map(canonical_bytes, records))
    # A hash split of 4:1 buckets (about 60 of 300 in eval), the same one every time.
    assert 30 < len(splits["eval"]) < 90
    assert _run(tmp_path / "again", records, None) == splits


def test_the_split_is_tfx_s_whatever_order_the_writer_put_the_features_in(tmp_path):
    """TFX hashes the deterministic serialization: an example written with its map entries in
    another order (another program, another hash seed) lands in the same split."""
    from tfx.components.example_gen.import_example_gen import executor as stock

    def reordered(record: bytes) -> bytes:
        example = tf.train.Example.FromString(record)
        # The same features, entries written key by key in reverse order.
        parts = [tf.train.Example(features=tf.train.Features(feature={key: example.features
                 .feature[key]})).SerializeToString() for key in sorted(
                 example.features.feature, reverse=True)]
        return b"".join(parts)  # concatenated messages merge into one

    records = [reordered(_example(i)) for i in range(300)]
    assert tf.train.Example.FromString(records[0]) == tf.train.Example.FromString(_example(0))
    ours = _run(tmp_path / "ours", records, None)
    theirs = _run(tmp_path / "stock", records, None, executor=stock.Executor)
    assert {split: sorted(tf.train.Example.FromString(r).SerializeToString(deterministic=True)
                          for r in rows) for split, rows in theirs.items()} == {
        split: sorted(rows) for split, rows in ours.items()}


def test_two_beam_worker_processes_write_the_same_splits(tmp_path):
    """`mtl run --beam-processes 2`: the local runner's worker processes (PipelineConfig.
    data_beam_args) run the same transforms in fresh processes."""
    from pipeline.core.config import PipelineConfig

    records = [_example(i) for i in range(300)]
    flags = PipelineConfig(beam_processes=2).data_beam_args()
    assert "--direct_running_mode=multi_processing" in flags
    two = _run(tmp_path / "two", records, None, flags)
    one = _run(tmp_path / "one", records, None)
    assert {split: sorted(rows) for split, rows in two.items()} == {
        split: sorted(rows) for split, rows in one.items()}  # the order of writes may differ


def test_a_split_key_is_still_read_from_the_parsed_record(tmp_path):
    records = [_example(i) for i in range(300)]
    splits = _run(tmp_path, records, "key")
    parsed = {split: [tf.train.Example.FromString(r).features.feature for r in rows]
              for split, rows in splits.items()}
    ids = sorted(f["id"].int64_list.value[0] for rows in parsed.values() for f in rows)
    assert ids == list(range(300))
    keys = {split: {f["key"].bytes_list.value[0] for f in rows}
            for split, rows in parsed.items()}
    assert keys["train"].isdisjoint(keys["eval"])  # a key's records share one split


def test_only_tf_example_records_hashed_whole_are_copied():
    def properties(payload, partition_feature=None):
        split_config = example_gen_pb2.SplitConfig(
            **({"partition_feature_name": partition_feature} if partition_feature else {}))
        return {"output_data_format": payload, "output_config": proto_utils.proto_to_json(
            example_gen_pb2.Output(split_config=split_config))}

    example = example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE
    assert record_import.copies_records(properties(example))
    assert not record_import.copies_records(properties(example, "key"))
    assert not record_import.copies_records(
        properties(example_gen_pb2.PayloadFormat.FORMAT_TF_SEQUENCE_EXAMPLE))
