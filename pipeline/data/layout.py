"""What a span folder looks like, in one place: the generator writes it, the pre-flight check
and ImportExampleGen read it.

  <data>/span-<N>/<any name>.tfrecord.gz    gzipped TFRecords of tf.train.Example
  <data>/span-<N>/<any name>.csv            or CSV files with a header row (a spec whose
                                            `input.format` is csv)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SPAN_PREFIX = "span-"
FILE_SUFFIX = ".tfrecord.gz"
FILE_GLOB = f"*{FILE_SUFFIX}"
# The data files of a span, by input format (`models.spec.ProblemSpec.input_format`).
FILE_GLOBS = {"tfrecord": FILE_GLOB, "csv": "*.csv"}
SPAN_DIR_RE = re.compile(rf"^{SPAN_PREFIX}(\d+)$")
# ImportExampleGen's input pattern: the newest span folder's files.
SPAN_PATTERN = f"{SPAN_PREFIX}{{SPAN}}/{FILE_GLOB}"


def span_pattern(input_format: str = "tfrecord") -> str:
    """The ExampleGen input pattern of a span's files in `input_format`."""
    return f"{SPAN_PREFIX}{{SPAN}}/{FILE_GLOBS[input_format]}"


def span_dir(data_dir: str | os.PathLike, span: int) -> Path:
    return Path(data_dir) / f"{SPAN_PREFIX}{span}"


def existing_spans(data_dir: str | os.PathLike) -> list[int]:
    """The span numbers with a folder under `data_dir`, ascending ([] when there is none)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    spans = []
    for child in data_dir.iterdir():
        match = SPAN_DIR_RE.match(child.name)
        if match and child.is_dir():
            spans.append(int(match.group(1)))
    return sorted(spans)
