"""Checks of the newest span's files before any component runs.

ImportExampleGen picks the newest span whose folder matches `span-{SPAN}/*.tfrecord.gz`, so an
empty newest span folder would silently make it retrain on the previous span, and a truncated
or corrupt gzip file fails deep inside Beam with a message that names neither file nor span.
`check_latest_span` reads every record of the newest span once and fails with one that does
(CSV spans: every row, against the header).

Types: ExampleGen and StatisticsGen read each feature as one type (bytes_list, int64_list or
float_list) for the whole span. A file whose feature holds another type than the curated
schema's (or, before a problem has one, the spec's), or than the span's other records, would
fail inside Beam naming neither the file nor the type expected; the check reads the type of
every feature of every record and refuses such a span naming the file, the feature, the type
found and the type expected (`BadSpanError`, exit 4). In a CSV span, every cell of a column the
schema or the spec holds as numbers is read the way CsvExampleGen infers a column's type: cells
that are not numbers are refused naming the file, the column, how many and the first line.

With a problem spec, the span is also checked against it: a feature or a label the spec names
that the data does not hold, or holds only with another type (no record holds the declared
one), is a `models.spec.SpecError` naming the spec's field, the folder and what the data
holds, before any component runs: the spec does not describe the data.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import gzip
import os
import struct
import zlib
from pathlib import Path

import google_crc32c

from models.spec import ProblemSpec, SpecError, Task
from pipeline.data import layout

# CSV rows checked against the kinds of the spec's sequences (their tokens), and shown as the
# values of a column that is not what the spec says.
SPEC_SAMPLE = 2000
# Records decoded at once (tfx_bsl's decoder, the one ExampleGen's readers use).
TYPE_BATCH = 1024
# Type mismatches listed in one error (the rest are counted).
MAX_LISTED = 10

_HEADER = 12  # uint64 length + uint32 masked CRC of the length
_FOOTER = 4  # uint32 masked CRC of the data

# A feature's value type, in the spec's words, and the tf.Example list that holds it.
VALUE_LISTS = {"string": "bytes_list", "int": "int64_list", "float": "float_list"}
_KINDS = {list_name: kind for kind, list_name in VALUE_LISTS.items()}
# tensorflow_metadata's FeatureType values (the proto is not imported for this).
_SCHEMA_TYPES = {1: "string", 2: "int", 3: "float"}
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _values(kind: str) -> str:
    """"float" -> "float values (float_list)"."""
    return f"{kind} values ({VALUE_LISTS[kind]})"


@dataclasses.dataclass(frozen=True)
class FileScan:
    """What reading one file found: its records, and the value types of its features,
    {feature: {kind: (records holding that kind, the first such record)}} (empty when the
    records were only counted)."""

    records: int
    types: dict


def _check_framing(path: Path, verify: bool = True) -> FileScan:
    """Reads a gzipped TFRecord file once (once per version of the file in a process).

    With `verify` (the span check), each record's length and data CRC32C (TFRecord's masked
    checksums) are verified and its data decoded as a tf.train.Example, noting each feature's
    value type; without it (counting the examples, `newest_span_examples`, which every run
    does before it knows whether anything changed) only the framing is read. Either way the
    gzip stream is read to its end-of-stream marker, whose CRC32 covers every byte.
    TensorFlow's reader can end quietly at a gzip stream cut a few bytes into a record header
    (the end of the decompressed data then looks like the end of the file), while Beam's
    reader in ImportExampleGen fails there deep in the pipeline; reading the framing itself
    catches such a cut here, in one pass in this process.
    """
    stat = os.stat(path)
    return _framed_records(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, verify)


def _masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C of `data`."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@functools.lru_cache(maxsize=256)
def _framed_records(path: str, inode: int, size: int, mtime_ns: int, verify: bool) -> FileScan:
    count = 0
    types: dict[str, dict[str, tuple[int, int]]] = {}
    batch: list[bytes] = []
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
                    batch.append(data)
                    if len(batch) == TYPE_BATCH:
                        read_types(types, batch, count + 1 - len(batch), path)
                        batch = []
                count += 1
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise BadSpanError(
            f"{path}: truncated or corrupt gzip TFRecord file after {count} good records ({e})"
        ) from None
    if batch:
        read_types(types, batch, count - len(batch), path)
    if count == 0:
        raise BadSpanError(f"{path}: no record (an empty file)")
    return FileScan(count, types)


@functools.lru_cache(maxsize=1)
def _decoder():
    # Imported only when records are decoded: TFX's libraries take seconds to import.
    from tfx_bsl.coders import example_coder

    return example_coder.ExamplesToRecordBatchDecoder()


def _arrow_kind(arrow_type) -> str | None:
    import pyarrow as pa

    if not (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)):
        return None  # null: the feature is in no record of the batch, or holds no list
    value = arrow_type.value_type
    if pa.types.is_floating(value):
        return "float"
    if pa.types.is_integer(value):
        return "int"
    if (pa.types.is_binary(value) or pa.types.is_large_binary(value)
            or pa.types.is_string(value) or pa.types.is_large_string(value)):
        return "string"
    return None


def _note(types: dict, name: str, kind: str, records: int, first: int) -> None:
    kinds = types.setdefault(name, {})
    if kind in kinds:
        kinds[kind] = (kinds[kind][0] + records, kinds[kind][1])
    else:
        kinds[kind] = (records, first)


def read_types(types: dict, batch: list[bytes], start: int, path: str) -> None:
    """Adds the value types of the features of `batch` (records `start`...) to `types`.

    The batch is decoded as ExampleGen's readers decode it (tfx_bsl, in C++: a fraction of the
    time of parsing each record in Python); a batch that does not decode (a record that is not
    a tf.train.Example, or a feature with two types in the batch) is read record by record to
    name the record."""
    try:
        decoded = _decoder().DecodeBatch(batch)
    except RuntimeError:
        read_types_by_record(types, batch, start, path)
        return
    for name, column in zip(decoded.schema.names, decoded.columns):
        kind = _arrow_kind(column.type)
        present = len(column) - column.null_count
        if kind is None or not present:
            continue
        if kind in types.get(name, {}):
            _note(types, name, kind, present, 0)
        else:
            first = int(column.is_valid().to_numpy(zero_copy_only=False).argmax())
            _note(types, name, kind, present, start + first)


def read_types_by_record(types: dict, batch: list[bytes], start: int, path: str) -> None:
    from tensorflow.core.example import example_pb2

    for i, data in enumerate(batch):
        try:
            example = example_pb2.Example.FromString(data)
        except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise BadSpanError(f"{path}: record {start + i} is not a serialized "
                               f"tf.train.Example ({e})") from None
        for name, value in example.features.feature.items():
            kind = value.WhichOneof("kind")
            if kind:
                _note(types, name, _KINDS[kind], 1, start + i)


class BadSpanError(ValueError):
    """The newest span cannot be read, or holds what the pipeline cannot take; the message
    names the folder or file (and the feature)."""


def forget_files() -> None:
    """Forgets what reading the span files found (a benchmark reads them again)."""
    _framed_records.cache_clear()


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
            try:
                with open(path, newline="") as f:
                    rows += max(sum(1 for row in csv.reader(f) if row) - 1, 0)  # the header
            except (UnicodeDecodeError, csv.Error) as e:
                raise BadSpanError(f"{path}: not a UTF-8 CSV file ({e})") from None
        return rows
    return sum(_check_framing(path, verify=False).records for path in files)


def schema_feature_types(path: str | os.PathLike) -> dict[str, str]:
    """{feature: "string" | "int" | "float"} of a curated schema file (its top-level
    features of those types; the columns it ignores, deprecated, are not checked)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse(Path(path).read_text(), schema_pb2.Schema())
    return {f.name: _SCHEMA_TYPES[f.type] for f in schema.feature
            if f.type in _SCHEMA_TYPES and f.lifecycle_stage != schema_pb2.DEPRECATED}


def check_latest_span(data_dir: str | os.PathLike, spec: ProblemSpec | None = None,
                      tasks: tuple[Task, ...] | None = None,
                      notes: list[str] | None = None,
                      schema: str | os.PathLike | None = None,
                      input_format: str | None = None) -> tuple[int, int]:
    """Reads the newest span under `data_dir`; returns (span, number of examples).

    Every feature of every record (CSV: every cell of the columns the schema or the spec
    holds as numbers) is checked for its type: against `schema`'s (the curated schema file),
    else the spec's (features, and the labels of `tasks`, default: the spec's default tasks),
    else the span's other records. With `spec`, the span's format is the spec's (else
    `input_format`, default tfrecord), and a feature or label the spec names that neither the
    data nor `schema` holds, or that the data holds only with another type, is a spec error
    (exit 2). A feature the schema holds that the span lacks is the validation gate's to
    refuse (exit 4), as any schema violation.

    Raises:
      BadSpanError: the folder holds no data file, a file is truncated or corrupt, a record
        is not a serialized tf.train.Example (a CSV row does not match its header), or a
        file holds a feature with another type than expected.
      SpecError: the data does not hold a feature or label of the spec, or holds it only
        with another type.
    """
    input_format = spec.input_format if spec else (input_format or "tfrecord")
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
    expected = _expectations(spec, tasks, schema)
    if input_format == "csv":
        total, columns, whole = _check_csv_files(files, expected)
        if spec is not None:
            check_csv_against_spec(spec, tasks, columns, files[0], expected, whole)
        return span, total
    scans = {path: _check_framing(path) for path in files}
    check_record_types(scans, expected, folder)
    total = sum(scan.records for scan in scans.values())
    if spec is not None:
        check_records_against_spec(spec, tasks, scans, folder, expected)
        if spec.text_features:
            found = check_text_records(spec, spec.default_tasks if tasks is None else tasks,
                                       files)
            if notes is not None:
                notes.extend(found)
    return span, total


# --- What each feature is expected to hold --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Expected:
    """The value kinds a feature may hold and who says so: the curated schema (`field` None)
    or the spec (`field` its field, `declared` what it declares)."""

    kinds: tuple[str, ...]
    says: str
    field: str | None = None
    declared: str = ""
    tokens: bool = False  # a CSV column of whitespace-separated tokens (a spec's sequence)


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


def _expectations(spec: ProblemSpec | None, tasks, schema) -> dict[str, Expected]:
    """The curated schema's type of each of its features; the spec's for the features and
    labels the schema does not hold."""
    out = {}
    if spec is not None:
        tasks = spec.default_tasks if tasks is None else tasks
        sequences = {f.name for f in spec.sequences}
        for key, (field, accepted, declared) in _expected_kinds(spec, tasks).items():
            out[key] = Expected(accepted, f"as spec {spec.source or spec.name} declares it "
                                          f"({field}: {declared})", field, declared,
                                tokens=key in sequences)
    if schema is not None:
        for name, kind in schema_feature_types(schema).items():
            out[name] = Expected((kind,), f"as the curated schema {schema} holds it")
    return out


def _type_error(folder: Path, problems: list[str]) -> BadSpanError:
    if len(problems) == 1:
        return BadSpanError(problems[0])
    listed = problems[:MAX_LISTED]
    more = len(problems) - len(listed)
    return BadSpanError(f"{folder}: {len(problems)} type mismatches (ExampleGen and "
                        f"StatisticsGen read one type per feature):\n  " + "\n  ".join(listed)
                        + (f"\n  ... and {more} more" if more else ""))


# --- TFRecord spans -------------------------------------------------------------------------------

def check_record_types(scans: dict[Path, FileScan], expected: dict[str, Expected],
                       folder: Path) -> None:
    """Every feature holds the type `expected` of it in every record; a feature `expected`
    does not name (or a regression label, which may be int or float) one type across the
    span, its most frequent. A feature the spec (not a schema) declares that no record holds
    with the declared type is left to `check_records_against_spec`: the spec does not
    describe the data."""
    by_feature: dict[str, dict[str, list[tuple[Path, int, int]]]] = {}
    for path, scan in scans.items():
        for name, kinds in scan.types.items():
            for kind, (records, first) in kinds.items():
                by_feature.setdefault(name, {}).setdefault(kind, []).append(
                    (path, records, first))
    problems = []
    for name in sorted(by_feature):
        kinds = by_feature[name]

        def records_of(kind: str) -> int:
            return sum(n for _, n, _ in kinds[kind])  # noqa: B023 - called in this iteration

        rule = expected.get(name)
        accepted = [k for k in kinds if rule is None or k in rule.kinds]
        if rule is not None and rule.field is not None and not accepted:
            continue  # the spec's error
        if not accepted:
            expected_kind, says = rule.kinds[0], rule.says
        elif len(accepted) == 1 and rule is not None:
            expected_kind, says = accepted[0], rule.says
        else:
            if len(kinds) == 1:
                continue
            expected_kind = max(accepted, key=records_of)
            says = (f"as the span's other {records_of(expected_kind):,} records hold it (a "
                    f"feature has one type in a span)")
        for kind in sorted(set(kinds) - {expected_kind}):
            for path, records, first in kinds[kind]:
                problems.append(
                    f"{path}: feature {name!r} holds {_values(kind)} in {records:,} of its "
                    f"{scans[path].records:,} records (the first: record {first}); expected "
                    f"{_values(expected_kind)}, {says}")
    if problems:
        raise _type_error(folder, problems)


def _mismatch(spec: ProblemSpec, field: str, key: str, declared: str, found: str,
              path: Path) -> SpecError:
    return SpecError(spec.source, field, f"{key!r} is {declared}, but {path} holds "
                                         f"{found} values")


def check_records_against_spec(spec: ProblemSpec, tasks, scans: dict[Path, FileScan],
                               folder: Path, expected: dict[str, Expected]) -> None:
    """Every feature and label of the spec (and `tasks`) that the curated schema does not
    hold is in the span, and some of its records hold the declared type (other records
    holding another type are `check_record_types`'s to refuse)."""
    present: dict[str, set[str]] = {}
    for scan in scans.values():
        for key, kinds in scan.types.items():
            present.setdefault(key, set()).update(kinds)
    examples = sum(scan.records for scan in scans.values())
    tasks = spec.default_tasks if tasks is None else tasks
    for key, (field, accepted, declared) in _expected_kinds(spec, tasks).items():
        if expected[key].field is None:
            continue  # the curated schema holds it
        if key not in present:
            raise SpecError(spec.source, field,
                            f"{key!r} ({declared}) is not in the data: the {examples:,} "
                            f"examples of {folder} hold {sorted(present)}")
        if not present[key] & set(accepted):
            raise _mismatch(spec, field, key, declared, "/".join(sorted(present[key])), folder)


# --- CSV spans ------------------------------------------------------------------------------------

def _cell_kind(value: str) -> str:
    """The type CsvExampleGen infers from one non-empty cell (tfx_bsl's csv_decoder: an int
    in int64's range, else a float, else a string)."""
    try:
        number = int(value)
    except ValueError:
        try:
            float(value)
        except ValueError:
            return "string"
        return "float"
    return "int" if _INT64_MIN <= number <= _INT64_MAX else "string"


def _fits(value: str, kind: str) -> bool:
    """Whether a non-empty cell is read as `kind` ("int") or as a number ("float")."""
    try:
        number = int(value) if kind == "int" else float(value)
    except ValueError:
        return False
    return kind != "int" or _INT64_MIN <= number <= _INT64_MAX


@dataclasses.dataclass
class _ColumnCheck:
    """One file's cells of a column expected to hold numbers: how many, and those that are not
    of the kind expected."""

    index: int
    kind: str  # "int", or "float" (any number)
    cells: int = 0  # non-empty
    wrong: int = 0
    first: tuple[int, str] | None = None  # (line, value) of the first wrong cell
    found: set = dataclasses.field(default_factory=set)


def _check_csv_files(files: list[Path], expected: dict[str, Expected] | None = None,
                     ) -> tuple[int, dict[str, list[str]], dict[str, str]]:
    """(rows, {column: its first values}, {column: kind found} of the spec's columns no cell
    of which holds the declared kind) of a CSV span.

    Every file has the same header and its rows as many fields. Every non-empty cell of a
    column `expected` holds as numbers is a number (an int column's an int), as CsvExampleGen
    infers a column's type from all its cells; a column expected to hold strings has a cell
    somewhere that is not a number. A sequence's column (whitespace-separated tokens) is
    `check_csv_against_spec`'s.
    """
    expected = expected or {}
    total = 0
    header: list[str] | None = None
    samples: dict[str, list[str]] = {}
    checks: dict[Path, dict[str, _ColumnCheck]] = {}
    strings: dict[str, int] = {}  # columns expected to hold strings, until a cell is one
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
                    strings = {name: i for i, name in enumerate(header) if name in expected
                               and not expected[name].tokens
                               and expected[name].kinds == ("string",)}
                elif first != header:
                    raise BadSpanError(f"{path}: header {first} differs from {files[0].name}'s "
                                       f"{header}")
                numbers = {name: _ColumnCheck(i, "int" if expected[name].kinds == ("int",)
                                              else "float")
                           for i, name in enumerate(header)
                           if name in expected and not expected[name].tokens
                           and "string" not in expected[name].kinds}
                checks[path] = numbers
                count = 0
                for row in reader:
                    count += 1
                    if len(row) != len(header):
                        raise BadSpanError(f"{path}: row {count} has {len(row)} fields, the "
                                           f"header {len(header)}")
                    if count <= SPEC_SAMPLE:
                        for name, value in zip(header, row):
                            samples[name].append(value)
                    for check in numbers.values():
                        value = row[check.index]
                        if not value:
                            continue
                        check.cells += 1
                        if not _fits(value, check.kind):
                            check.wrong += 1
                            check.found.add(_cell_kind(value))
                            if check.first is None:
                                check.first = (reader.line_num, value)
                    if strings:
                        for name, index in list(strings.items()):
                            if row[index] and _cell_kind(row[index]) == "string":
                                del strings[name]
        except UnicodeDecodeError as e:
            raise BadSpanError(f"{path}: not UTF-8 text ({e})") from None
        except csv.Error as e:
            raise BadSpanError(f"{path}: not a CSV file ({e})") from None
        if count == 0:
            raise BadSpanError(f"{path}: no row after the header")
        total += count
    whole = _check_csv_types(checks, set(strings), expected, files[0].parent)
    for name in strings:
        if any(samples[name]):
            whole[name] = _csv_kind(samples[name])
    return total, samples, whole


def _check_csv_types(checks: dict[Path, dict[str, _ColumnCheck]], strings: set[str],
                     expected: dict[str, Expected], folder: Path) -> dict[str, str]:
    """Refuses the cells that are not of their column's kind (`BadSpanError`); returns {column:
    kind found} of the spec's numeric columns none of whose cells is of the declared kind."""
    problems = []
    whole: dict[str, str] = {}
    for name in sorted({name for by_name in checks.values() for name in by_name}):
        rule = expected[name]
        found = [(path, by_name[name]) for path, by_name in checks.items() if by_name[name].wrong]
        if not found:
            continue
        cells = sum(by_name[name].cells for by_name in checks.values())
        if rule.field is not None and sum(check.wrong for _, check in found) == cells:
            kinds = set().union(*(check.found for _, check in found))
            whole[name] = "string" if "string" in kinds else "/".join(sorted(kinds))
            continue
        for path, check in found:
            line, value = check.first
            what = "integers" if check.kind == "int" else "numbers"
            problems.append(
                f"{path}: column {name!r} holds {check.wrong:,} cells that are not {what} "
                f"(read as {'/'.join(sorted(check.found))} values) among its {check.cells:,} "
                f"non-empty cells (the first: line {line}, {value!r}); expected "
                f"{_values(check.kind)}, {rule.says}")
    for name in sorted(strings):
        rule = expected[name]
        if rule.field is None:  # the spec's: check_csv_against_spec
            problems.append(
                f"{folder}: column {name!r} holds only numbers in this span (CsvExampleGen "
                f"reads it as numbers); expected {_values('string')}, {rule.says}")
    if problems:
        raise _type_error(folder, problems)
    return whole


def _csv_kind(values: list[str]) -> str:
    kinds = {_cell_kind(value) for value in values if value}
    return "string" if "string" in kinds else "float" if "float" in kinds else "int"


def check_csv_against_spec(spec: ProblemSpec, tasks, columns: dict[str, list[str]],
                           path: Path, expected: dict[str, Expected],
                           whole: dict[str, str]) -> None:
    """Every feature and label of the spec (and `tasks`) that the curated schema does not
    hold is a column of the CSV span, holding the declared type: `whole` names the columns
    none of whose cells does (`_check_csv_files`: an int column also fits a float feature; a
    column of numbers is read as numbers, so a string id feature needs non-numeric ids or
    dtype int); a sequence's whitespace-separated tokens are checked in its first values."""
    tasks = spec.default_tasks if tasks is None else tasks
    sequences = {f.name for f in spec.sequences}
    for key, (field, accepted, declared) in _expected_kinds(spec, tasks).items():
        if expected[key].field is None:
            continue  # the curated schema holds it
        if key not in columns:
            raise SpecError(spec.source, field, f"{key!r} ({declared}) is not a column of "
                                                f"{path}; its columns: {list(columns)}")
        if key in whole:
            raise _mismatch(spec, field, key, declared, whole[key], path.parent)
        if key in sequences:
            # One whitespace-separated string of ids per row.
            kind = _csv_kind([t for value in columns[key] for t in value.split()])
            if accepted != ("string",) and kind not in accepted:
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
