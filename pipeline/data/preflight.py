"""Checks of the newest span's files before any component runs.

ImportExampleGen picks the newest span whose folder matches `span-{SPAN}/*.tfrecord.gz`, so an
empty newest span folder would silently make it retrain on the previous span, and a truncated
or corrupt gzip file fails deep inside Beam with a message that names neither file nor span.
`check_latest_span` reads every record of the newest span once and fails with one that does
(CSV spans: every row, against the header).

With a problem spec, the first records are also checked against it
(`check_records_against_spec`): a feature or a label the spec names that the data does not
hold, or holds with another type, is a `models.spec.SpecError` naming the spec's field, the
file and what the data holds, before any component runs.
"""

from __future__ import annotations

import csv
import functools
import gzip
import os
import struct
import zlib
from pathlib import Path

import google_crc32c

from models.spec import ProblemSpec, SpecError, Task
from pipeline.data import layout

# Records of the newest span checked against the spec (enough to see every feature that is
# present in most examples; a feature absent from all of them is absent from the data).
SPEC_SAMPLE = 2000

_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data


def _check_framing(path: Path, verify: bool = True) -> int:
    """Reads a gzipped TFRecord file once and returns its number of records (once per version
    of the file in a process).

    With `verify` (the span check), each record's length and data CRC32C (TFRecord's masked
    checksums) are verified and its data parsed as a tf.train.Example; without it (counting
    the examples, `newest_span_examples`, which every run does before it knows whether
    anything changed) only the framing is read. Either way the gzip stream is read to its
    end-of-stream marker, whose CRC32 covers every byte. TensorFlow's reader can end quietly
    at a gzip stream cut a few bytes into a record header (the end of the decompressed data
    then looks like the end of the file), while Beam's reader in ImportExampleGen fails there
    deep in the pipeline; reading the framing itself catches such a cut here, in one pass in
    this process (one million records verified: a few seconds, where reading them through
    tf.data took over a minute; counted only: about 2 s).
    """
    stat = os.stat(path)
    return _framed_records(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, verify)


def _masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C of `data`."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@functools.lru_cache(maxsize=256)
def _framed_records(path: str, inode: int, size: int, mtime_ns: int, verify: bool) -> int:
    if verify:  # TensorFlow's import takes seconds: only when the records are parsed
        from tensorflow.core.example import example_pb2
    count = 0
    try:
        with gzip.open(path, "rb") as f:
            while True:
                header = f.read(_HEADER)
                if not header:
                    break
                if len(header) < _HEADER:
                    raise EOFError(f"{len(header)} bytes of a record header at the end")
                length_bytes, (length_crc,) = header[:8], struct.unpack("<I", header[8:])
                if verify and _masked_crc(length_bytes) != length_crc:
                    raise OSError(f"record {count}: the length's checksum does not match")
                (length,) = struct.unpack("<Q", length_bytes)
                body = f.read(length + _FOOTER)
                if len(body) < length + _FOOTER:
                    raise EOFError(f"record {count} cut after {len(body)} of {length} bytes")
                if verify:
                    data, (data_crc,) = body[:length], struct.unpack("<I", body[length:])
                    if _masked_crc(data) != data_crc:
                        raise OSError(f"record {count}: the data's checksum does not match")
                    try:
                        example_pb2.Example.FromString(data)
                    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
                        raise BadSpanError(f"{path}: record {count} is not a serialized "
                                           f"tf.train.Example ({e})") from None
                count += 1
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise BadSpanError(
            f"{path}: truncated or corrupt gzip TFRecord file after {count} good records ({e})"
        ) from None
    if count == 0:
        raise BadSpanError(f"{path}: no record (an empty file)")
    return count


class BadSpanError(ValueError):
    """The newest span cannot be read; the message names the folder or file."""


def newest_span_examples(data_dir: str | os.PathLike, input_format: str = "tfrecord") -> int:
    """The number of examples (records, or CSV rows) in the newest span; 0 without a span or
    data file (`check_latest_span` says what is wrong)."""
    spans = layout.existing_spans(data_dir)
    if not spans:
        return 0
    files = sorted(layout.span_dir(data_dir, spans[-1]).glob(layout.FILE_GLOBS[input_format]))
    if input_format == "csv":
        rows = 0
        for path in files:
            with open(path, newline="") as f:
                rows += max(sum(1 for row in csv.reader(f) if row) - 1, 0)  # minus the header
        return rows
    return sum(_check_framing(path, verify=False) for path in files)


def check_latest_span(data_dir: str | os.PathLike, spec: ProblemSpec | None = None,
                      tasks: tuple[Task, ...] | None = None,
                      notes: list[str] | None = None,
                      curated: set[str] | frozenset = frozenset()) -> tuple[int, int]:
    """Reads the newest span under `data_dir`; returns (span, number of examples).

    With `spec`, the span's format is the spec's and its first records are checked against
    the spec's features and the labels of `tasks` (default: the spec's default tasks), except
    those in `curated`, the curated schema's features: a span that lacks one of those, or
    holds it with another type, is bad data, which the validation gate refuses (exit 4) as
    for any schema violation; a spec naming what neither the data nor its schema holds is a
    spec error (exit 2).

    Raises:
      BadSpanError: the folder holds no data file, a file is truncated or corrupt, or a
        record is not a serialized tf.train.Example (a CSV row does not match its header).
      SpecError: the data does not hold a feature or label of the spec, or holds it with
        another type.
    """
    input_format = spec.input_format if spec else "tfrecord"
    spans = layout.existing_spans(data_dir)
    if not spans:
        raise BadSpanError(f"{data_dir} holds no span-<N> folder")
    span = spans[-1]
    folder = layout.span_dir(data_dir, span)
    pattern = layout.FILE_GLOBS[input_format]
    files = sorted(folder.glob(pattern))
    if not files:
        present = sorted(p.name for p in folder.iterdir())
        raise BadSpanError(
            f"{folder} is the newest span but holds no {pattern} file (found: "
            f"{present or 'nothing'}); write the span completely (or remove the folder) before "
            f"running"
        )
    if input_format == "csv":
        total, columns = _check_csv_files(files)
        if spec is not None:
            check_csv_against_spec(spec, tasks, columns, files[0], curated)
        return span, total
    total = _check_tfrecord_files(files)
    if spec is not None:
        check_records_against_spec(spec, tasks, _sample_examples(files), files[0], curated)
        if spec.text_features:
            found = check_text_records(spec, spec.default_tasks if tasks is None else tasks,
                                       files)
            if notes is not None:
                notes.extend(found)
    return span, total


def _sample_examples(files: list[Path]) -> list:
    import tensorflow as tf

    out = []
    for path in files:
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
            out.append(tf.train.Example.FromString(record.numpy()))
            if len(out) >= SPEC_SAMPLE:
                return out
    return out


def _check_tfrecord_files(files: list[Path]) -> int:
    return sum(_check_framing(path) for path in files)


def _check_csv_files(files: list[Path]) -> tuple[int, dict[str, list[str]]]:
    """(rows, {column: sample values}) of a CSV span; every file has the same header."""
    total = 0
    header: list[str] | None = None
    samples: dict[str, list[str]] = {}
    for path in files:
        try:
            with open(path, newline="") as f:
                reader = csv.reader(f)
                first = next(reader, None)
                if not first:
                    raise BadSpanError(f"{path}: empty CSV file (expected a header row)")
                if header is None:
                    header = first
                    samples = {name: [] for name in header}
                elif first != header:
                    raise BadSpanError(f"{path}: header {first} differs from {files[0].name}'s "
                                       f"{header}")
                count = 0
                for row in reader:
                    count += 1
                    if len(row) != len(header):
                        raise BadSpanError(f"{path}: row {count} has {len(row)} fields, the "
                                           f"header {len(header)}")
                    if count <= SPEC_SAMPLE:
                        for name, value in zip(header, row):
                            samples[name].append(value)
        except UnicodeDecodeError as e:
            raise BadSpanError(f"{path}: not UTF-8 text ({e})") from None
        if count == 0:
            raise BadSpanError(f"{path}: no row after the header")
        total += count
    return total, samples


# --- The data against the spec ------------------------------------------------------------------

_KINDS = {"bytes_list": "string", "int64_list": "int", "float_list": "float"}


def _expected_kinds(spec: ProblemSpec, tasks) -> dict[str, tuple[str, tuple[str, ...], str]]:
    """{key: (spec field, accepted value kinds, what the spec declares)}."""
    out = {}
    for i, feature in enumerate(spec.features):
        accepted = (feature.dtype,)
        out[feature.name] = (f"features[{i}]", accepted,
                             f"a {feature.kind} feature of dtype {feature.dtype}")
    for task in tasks:
        i = spec.tasks.index(spec.task(task.name))
        accepted = {"regression": ("float", "int"), "sequence_labeling": ("string",)}.get(
            task.kind, ("int",))
        for key in (task.label_key, task.label_end_key):
            if key is not None:
                out[key] = (f"tasks[{i}].label" + ("s" if task.kind == "span" else ""),
                            accepted, f"a label of {task.kind} task {task.name!r} "
                                      f"({' or '.join(accepted)} values)")
    return out


def _mismatch(spec: ProblemSpec, field: str, key: str, declared: str, found: str,
              path: Path) -> SpecError:
    return SpecError(spec.source, field, f"{key!r} is {declared}, but {path} holds "
                                         f"{found} values")


def check_records_against_spec(spec: ProblemSpec, tasks, examples: list, path: Path,
                               curated=frozenset()) -> None:
    """Every feature and label of the spec (and `tasks`) is in the sampled tf.Examples, with
    the declared type."""
    tasks = spec.default_tasks if tasks is None else tasks
    present: dict[str, set[str]] = {}
    for example in examples:
        for key, value in example.features.feature.items():
            kind = value.WhichOneof("kind")
            if kind:
                present.setdefault(key, set()).add(_KINDS[kind])
    for key, (field, accepted, declared) in _expected_kinds(spec, tasks).items():
        if key in curated:
            continue
        if key not in present:
            raise SpecError(spec.source, field,
                            f"{key!r} ({declared}) is not in the data: the first "
                            f"{len(examples)} examples of {path.parent} hold "
                            f"{sorted(present)}")
        wrong = sorted(present[key] - set(accepted))
        if wrong:
            raise _mismatch(spec, field, key, declared, "/".join(wrong), path.parent)


def _csv_kind(values: list[str]) -> str:
    def parses(cast) -> bool:
        for value in values:
            if value == "":
                continue
            try:
                cast(value)
            except ValueError:
                return False
        return True

    return "int" if parses(int) else "float" if parses(float) else "string"


def check_csv_against_spec(spec: ProblemSpec, tasks, columns: dict[str, list[str]],
                           path: Path, curated=frozenset()) -> None:
    """Every feature and label of the spec (and `tasks`) is a column of the CSV span, and its
    sampled values parse as the declared type (an int column also fits a float feature; a
    column of numbers is read as numbers, so a string id feature needs non-numeric ids or
    dtype int)."""
    tasks = spec.default_tasks if tasks is None else tasks
    sequences = {f.name for f in spec.sequences}
    for key, (field, accepted, declared) in _expected_kinds(spec, tasks).items():
        if key in curated:
            continue
        if key not in columns:
            raise SpecError(spec.source, field, f"{key!r} ({declared}) is not a column of "
                                                f"{path}; its columns: {list(columns)}")
        if key in sequences:
            # One whitespace-separated string of ids per row.
            tokens = [t for value in columns[key] for t in value.split()]
            kind = _csv_kind(tokens)
            if accepted == ("string",) or kind in accepted:
                continue
            raise _mismatch(spec, field, key, declared, kind, path)
        kind = _csv_kind(columns[key])
        if kind == "int" and "float" in accepted:
            continue
        if kind not in accepted:
            raise _mismatch(spec, field, key, declared, kind, path)


# --- Text records -------------------------------------------------------------------------------

def _string(example, key: str, path: Path, record: int) -> str:
    values = example.features.feature[key].bytes_list.value
    if not values:
        return ""
    try:
        return values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise BadSpanError(f"{path}: record {record}: {key!r} is not UTF-8 text") from None


def check_text_records(spec: ProblemSpec, tasks, files: list[Path]) -> list[str]:
    """Every record of a text problem's span against its text tasks: a tag list as long as the
    words of its text (split on spaces) and made of the task's tags, an answer's character
    offsets inside its context. A record that breaks one is refused (`BadSpanError` naming the
    file, the record and the problem). Returns what the run should say: how many texts are
    longer than their `max_length` (they are truncated, never refused)."""
    import tensorflow as tf

    longer = {f.name: 0 for f in spec.text_features}
    seen = 0
    for path in files:
        for record, raw in enumerate(tf.data.TFRecordDataset(str(path), compression_type="GZIP")):
            example = tf.train.Example.FromString(raw.numpy())
            seen += 1
            texts = {}
            for feature in spec.text_features:
                texts[feature.name] = _string(example, feature.name, path, record)
                if len(texts[feature.name].split()) > feature.max_length:
                    longer[feature.name] += 1
            for task in tasks:
                if task.kind == "sequence_labeling":
                    tags = [t.decode("utf-8", errors="replace") for t in
                            example.features.feature[task.label_key].bytes_list.value]
                    words = texts[task.text].split(" ") if texts[task.text] else []
                    if tags and len(tags) != len(words):
                        raise BadSpanError(
                            f"{path}: record {record}: task {task.name!r}: {len(tags)} tags "
                            f"for the {len(words)} words of {task.text!r}")
                    unknown = sorted(set(tags) - set(task.tags))
                    if unknown:
                        raise BadSpanError(
                            f"{path}: record {record}: task {task.name!r}: unknown tags "
                            f"{unknown}; the task's tags: {list(task.tags)}")
                elif task.kind == "span":
                    start = example.features.feature[task.label_key].int64_list.value
                    end = example.features.feature[task.label_end_key].int64_list.value
                    start = start[0] if start else -1
                    end = end[0] if end else -1
                    if start < 0 and end < 0:
                        continue
                    length = len(texts[task.text])
                    if not 0 <= start < end <= length:
                        raise BadSpanError(
                            f"{path}: record {record}: task {task.name!r}: answer "
                            f"[{start}, {end}) is not inside its {length}-character "
                            f"{task.text!r}")
    return [f"{count:,} of {seen:,} {name!r} texts are longer than "
            f"{spec.feature(name).max_length} words: truncated"
            for name, count in longer.items() if count]
