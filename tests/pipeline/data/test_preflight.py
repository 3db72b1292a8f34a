"""The span check refuses a truncated file wherever the cut falls, naming the file."""

import pytest

from pipeline.data.preflight import BadSpanError, check_latest_span
from pipeline.datasets import generator as data


@pytest.fixture(scope="module")
def span_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("preflight")
    data.generate(root / "data", num_examples=200, seed=3)
    (path,) = (root / "data" / "span-1").glob("*.tfrecord.gz")
    return root / "data", path, path.read_bytes()


def test_a_complete_span_passes_with_its_example_count(span_file):
    data_dir, path, blob = span_file
    path.write_bytes(blob)
    assert check_latest_span(data_dir) == (1, 200)


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
def test_a_cut_anywhere_is_refused_naming_the_file(span_file, fraction):
    data_dir, path, blob = span_file
    # Every byte offset near the cut: some fall inside a record, some a few bytes into a header.
    cut = int(len(blob) * fraction)
    try:
        for offset in range(cut, cut + 24):
            path.write_bytes(blob[:offset])
            with pytest.raises(BadSpanError, match="truncated or corrupt") as excinfo:
                check_latest_span(data_dir)
            assert str(path) in str(excinfo.value)
    finally:
        path.write_bytes(blob)


def test_garbage_in_place_of_gzip_is_refused(span_file):
    data_dir, path, blob = span_file
    try:
        path.write_bytes(b"not a gzip file at all")
        with pytest.raises(BadSpanError, match="truncated or corrupt"):
            check_latest_span(data_dir)
    finally:
        path.write_bytes(blob)


def _rewritten(blob: bytes, records) -> bytes:
    """A gzipped TFRecord file of `records` (bytes, or (bytes, masked data CRC) pairs)."""
    import gzip
    import struct

    from pipeline.data.preflight import _masked_crc

    out = b""
    for record in records:
        data, crc = record if isinstance(record, tuple) else (record, _masked_crc(record))
        length = struct.pack("<Q", len(data))
        out += length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", crc)
    return gzip.compress(out)


def test_a_record_whose_checksum_does_not_match_is_refused(span_file):
    import tensorflow as tf

    data_dir, path, blob = span_file
    records = [bytes(r.numpy()) for r in tf.data.TFRecordDataset(str(path), "GZIP")]
    try:
        # A valid gzip stream (its own CRC matches) holding a record whose TFRecord data
        # checksum does not: a writer's bug, or a bit flipped before compression.
        path.write_bytes(_rewritten(blob, [records[0], (records[1], 12345), *records[2:]]))
        with pytest.raises(BadSpanError, match=r"after 1 good records \(record 1: the data's "
                                               r"checksum does not match\)"):
            check_latest_span(data_dir)
        path.write_bytes(_rewritten(blob, records))
        assert check_latest_span(data_dir) == (1, 200)  # the same records, checksums right
    finally:
        path.write_bytes(blob)


def test_a_record_that_is_not_a_tf_example_is_refused_by_number(span_file):
    import tensorflow as tf

    data_dir, path, blob = span_file
    records = [bytes(r.numpy()) for r in tf.data.TFRecordDataset(str(path), "GZIP")]
    try:
        path.write_bytes(_rewritten(blob, [*records[:5], b"\xff\xff not a proto", *records[5:]]))
        with pytest.raises(BadSpanError, match="record 5 is not a serialized tf.train.Example"):
            check_latest_span(data_dir)
    finally:
        path.write_bytes(blob)
