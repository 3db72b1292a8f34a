"""Checks of the newest span's files before any component runs.

ImportExampleGen picks the newest span whose folder matches `span-{SPAN}/*.tfrecord.gz`, so an
empty newest span folder would silently make it retrain on the previous span, and a truncated
or corrupt gzip file fails deep inside Beam with a message that names neither file nor span.
`check_latest_span` reads every record of the newest span once and fails with one that does.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

from pipeline.data import layout
from pipeline.data.layout import FILE_GLOB

_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data


def _check_framing(path: Path) -> int:
    """Counts the records of a gzipped TFRecord file from its framing alone.

    TensorFlow's reader can end quietly at a gzip stream cut a few bytes into a record header
    (the end of the decompressed data then looks like the end of the file), while Beam's
    reader in ImportExampleGen fails there deep in the pipeline. Reading the gzip stream to its
    end-of-stream marker and every record's length header catches such a cut here.
    """
    count = 0
    try:
        with gzip.open(path, "rb") as f:
            while True:
                header = f.read(_HEADER)
                if not header:
                    return count
                if len(header) < _HEADER:
                    raise EOFError(f"{len(header)} bytes of a record header at the end")
                (length,) = struct.unpack("<Q", header[:8])
                body = f.read(length + _FOOTER)
                if len(body) < length + _FOOTER:
                    raise EOFError(f"record {count} cut after {len(body)} of {length} bytes")
                count += 1
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise BadSpanError(
            f"{path}: truncated or corrupt gzip TFRecord file after {count} good records ({e})"
        ) from None


class BadSpanError(ValueError):
    """The newest span cannot be read; the message names the folder or file."""


def check_latest_span(data_dir: str | os.PathLike) -> tuple[int, int]:
    """Reads the newest span under `data_dir`; returns (span, number of examples).

    Raises:
      BadSpanError: the folder holds no data file, a file is truncated or corrupt, or a
        record is not a serialized tf.train.Example.
    """
    import tensorflow as tf

    spans = layout.existing_spans(data_dir)
    if not spans:
        raise BadSpanError(f"{data_dir} holds no span-<N> folder")
    span = spans[-1]
    folder = layout.span_dir(data_dir, span)
    files = sorted(folder.glob(FILE_GLOB))
    if not files:
        present = sorted(p.name for p in folder.iterdir())
        raise BadSpanError(
            f"{folder} is the newest span but holds no {FILE_GLOB} file (found: {present or 'nothing'});"
            f" write the span completely (or remove the folder) before running"
        )
    total = 0
    for path in files:
        framed = _check_framing(path)
        count = 0
        try:
            for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
                try:
                    tf.train.Example.FromString(record.numpy())
                except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
                    raise BadSpanError(
                        f"{path}: record {count} is not a serialized tf.train.Example ({e})"
                    ) from None
                count += 1
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError,
                tf.errors.InvalidArgumentError) as e:
            raise BadSpanError(
                f"{path}: truncated or corrupt gzip TFRecord file after {count} good records "
                f"({e.message.splitlines()[0] if e.message else type(e).__name__})"
            ) from None
        if count != framed:
            raise BadSpanError(
                f"{path}: truncated or corrupt gzip TFRecord file: {framed} framed records but "
                f"only {count} readable"
            )
        if count == 0:
            raise BadSpanError(f"{path}: no record (an empty file)")
        total += count
    return span, total
