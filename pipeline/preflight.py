"""Checks of the newest span's files before any component runs.

ImportExampleGen picks the newest span whose folder matches `span-{SPAN}/*.tfrecord.gz`, so an
empty newest span folder would silently make it retrain on the previous span, and a truncated
or corrupt gzip file fails deep inside Beam with a message that names neither file nor span.
`check_latest_span` reads every record of the newest span once and fails with one that does.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline import data as data_lib

FILE_GLOB = "*.tfrecord.gz"


class BadSpanError(ValueError):
    """The newest span cannot be read; the message names the folder or file."""


def check_latest_span(data_dir: str | os.PathLike) -> tuple[int, int]:
    """Reads the newest span under `data_dir`; returns (span, number of examples).

    Raises:
      BadSpanError: the folder holds no data file, a file is truncated or corrupt, or a
        record is not a serialized tf.train.Example.
    """
    import tensorflow as tf

    spans = data_lib.existing_spans(data_dir)
    if not spans:
        raise BadSpanError(f"{data_dir} holds no span-<N> folder")
    span = spans[-1]
    folder = Path(data_dir) / f"span-{span}"
    files = sorted(folder.glob(FILE_GLOB))
    if not files:
        present = sorted(p.name for p in folder.iterdir())
        raise BadSpanError(
            f"{folder} is the newest span but holds no {FILE_GLOB} file (found: {present or 'nothing'});"
            f" write the span completely (or remove the folder) before running"
        )
    total = 0
    for path in files:
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
        if count == 0:
            raise BadSpanError(f"{path}: no record (an empty file)")
        total += count
    return span, total
