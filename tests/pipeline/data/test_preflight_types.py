"""The span check reads the type of every feature of every record (every numeric cell of a CSV
span) and refuses a file whose feature has another type than the curated schema's, the spec's
or the span's other records, naming the file, the feature, the type found and the type
expected, before any component runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.spec import ProblemSpec, SpecError
from pipeline.data import preflight
from pipeline.data.preflight import BadSpanError, check_latest_span

SPEC = ProblemSpec.from_dict({
    "name": "tiny",
    "features": [
        {"name": "city", "kind": "categorical", "vocabulary_size": 10, "embedding_dim": 4},
        {"name": "price", "kind": "numeric", "dtype": "float"},
    ],
    "tasks": [{"name": "click", "kind": "binary",
               "gate": {"metric": "auc", "bound": 0.5, "max_change": 0.1}}],
}, source="tiny.yaml")
SPEC_SAYS = "as spec tiny.yaml declares it (features[1]: a numeric feature of dtype float)"

SCHEMA = """
feature { name: "city" type: BYTES }
feature { name: "price" type: FLOAT }
feature { name: "click" type: INT }
"""


def _example(**values) -> bytes:
    import tensorflow as tf

    feature = {}
    for key, value in values.items():
        if isinstance(value, float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        elif isinstance(value, int):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _row(i: int, price=None) -> bytes:
    return _example(city=b"paris" if i % 2 else b"rome",
                    price=float(i) + 0.5 if price is None else price, click=i % 2)


def _write(folder: Path, name: str, records: list[bytes]) -> Path:
    import tensorflow as tf

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for record in records:
            writer.write(record)
    return path


def _span(tmp_path: Path, *files: list[bytes]) -> tuple[Path, list[Path]]:
    data = tmp_path / "data"
    paths = [_write(data / "span-1", f"part-{i}.tfrecord.gz", records)
             for i, records in enumerate(files)]
    return data, paths


def _schema(tmp_path: Path) -> Path:
    path = tmp_path / "schema.pbtxt"
    path.write_text(SCHEMA)
    return path


def test_a_file_holding_price_as_bytes_is_named_with_the_type_found_and_expected(tmp_path):
    good = [_row(i) for i in range(4)]
    bad = [_row(i, price=str(i).encode()) for i in range(3)]
    data, (_, bad_path) = _span(tmp_path, good, bad)
    # First run: the spec says what to expect.
    with pytest.raises(BadSpanError) as error:
        check_latest_span(data, SPEC)
    assert str(error.value) == (
        f"{bad_path}: feature 'price' holds string values (bytes_list) in 3 of its 3 records "
        f"(the first: record 0); expected float values (float_list), {SPEC_SAYS}")
    # With a curated schema: the schema does.
    schema = _schema(tmp_path)
    with pytest.raises(BadSpanError) as error:
        check_latest_span(data, SPEC, schema=schema)
    assert str(error.value) == (
        f"{bad_path}: feature 'price' holds string values (bytes_list) in 3 of its 3 records "
        f"(the first: record 0); expected float values (float_list), as the curated schema "
        f"{schema} holds it")


def test_one_odd_record_is_found_in_a_later_batch(tmp_path, monkeypatch):
    # Batches of 4: the odd record (9) sits in the third batch, which then decodes record by
    # record; another file holds an int label where the schema says INT as well.
    monkeypatch.setattr(preflight, "TYPE_BATCH", 4)
    records = [_row(i) for i in range(12)]
    records[9] = _row(9, price=7)
    data, (path,) = _span(tmp_path, records)
    with pytest.raises(BadSpanError) as error:
        check_latest_span(data, SPEC, schema=_schema(tmp_path))
    assert str(error.value).startswith(
        f"{path}: feature 'price' holds int values (int64_list) in 1 of its 12 records (the "
        f"first: record 9); expected float values (float_list)")


def test_several_mismatches_are_listed_and_an_unnamed_feature_needs_one_type(tmp_path):
    first = [_example(city=b"a", price=1.5, click=0, note=b"x") for _ in range(5)]
    second = [_example(city=3, price=2.5, click=1, note=4.0) for _ in range(2)]
    data, (_, path) = _span(tmp_path, first, second)
    with pytest.raises(BadSpanError) as error:
        check_latest_span(data, SPEC)
    assert str(error.value).splitlines() == [
        f"{data / 'span-1'}: 2 type mismatches (ExampleGen and StatisticsGen read one type per "
        f"feature):",
        f"  {path}: feature 'city' holds int values (int64_list) in 2 of its 2 records (the "
        f"first: record 0); expected string values (bytes_list), as spec tiny.yaml declares it "
        f"(features[0]: a categorical feature of dtype string)",
        f"  {path}: feature 'note' holds float values (float_list) in 2 of its 2 records (the "
        f"first: record 0); expected string values (bytes_list), as the span's other 5 records "
        f"hold it (a feature has one type in a span)",
    ]


def test_a_regression_label_may_be_int_or_float_but_one_of_them(tmp_path):
    spec = ProblemSpec.from_dict({
        "name": "r", "features": [{"name": "price", "kind": "numeric"}],
        "tasks": [{"name": "y", "kind": "regression",
                   "gate": {"metric": "rmse", "bound": 9, "max_change": 1}}]})
    ints = [_example(price=1.0, y=3) for _ in range(2)]
    floats = [_example(price=1.0, y=2.5) for _ in range(3)]
    data, _ = _span(tmp_path / "one", floats)
    assert check_latest_span(data, spec) == (1, 3)
    data, (path, _) = _span(tmp_path / "two", ints, floats)
    with pytest.raises(BadSpanError, match=re.escape(
            f"{path}: feature 'y' holds int values (int64_list) in 2 of its 2 records (the first: "
            f"record 0); expected float values (float_list), as the span's other 3 records")):
        check_latest_span(data, spec)


def test_a_span_holding_another_type_everywhere_is_the_specs_error_before_a_schema(tmp_path):
    data, _ = _span(tmp_path, [_row(i, price=b"1") for i in range(3)])
    with pytest.raises(SpecError, match=re.escape(
            "spec tiny.yaml: features[1]: 'price' is a numeric feature of dtype float, but "
            f"{data / 'span-1'} holds string values")):
        check_latest_span(data, SPEC)
    # Once the problem has a curated schema, it is bad data (the schema was frozen from good).
    with pytest.raises(BadSpanError, match="in 3 of its 3 records"):
        check_latest_span(data, SPEC, schema=_schema(tmp_path))


# --- CSV spans -----------------------------------------------------------------------------------

CSV_SPEC = ProblemSpec.from_dict({**SPEC.to_dict(), "input": {"format": "csv"}},
                                 source="tiny.yaml")


def _csv(tmp_path: Path, *files: str) -> tuple[Path, list[Path]]:
    folder = tmp_path / "data" / "span-1"
    folder.mkdir(parents=True)
    paths = []
    for i, text in enumerate(files):
        path = folder / f"part-{i}.csv"
        path.write_text(text)
        paths.append(path)
    return tmp_path / "data", paths


GOOD_CSV = "city,price,click\nparis,1.5,0\nrome,,1\nparis,3,\n"


def test_a_numeric_column_with_text_in_some_cells_is_named_with_its_line(tmp_path):
    data, (_, path) = _csv(tmp_path, GOOD_CSV,
                           "city,price,click\nrome,2.5,0\nrome,n/a,1\nparis,unknown,1\n"
                           "paris,4,0\n")
    with pytest.raises(BadSpanError) as error:
        check_latest_span(data, CSV_SPEC)
    assert str(error.value) == (
        f"{path}: column 'price' holds 2 cells that are not numbers (read as string values) "
        f"among its 4 non-empty cells (the first: line 3, 'n/a'); expected float values "
        f"(float_list), {SPEC_SAYS}")
    # Empty cells are absent values, not text: the good file alone passes.
    data, _ = _csv(tmp_path / "good", GOOD_CSV)
    assert check_latest_span(data, CSV_SPEC) == (1, 3)


def test_a_csv_label_of_int_classes_holding_floats_and_a_schema_string_column(tmp_path):
    data, (path,) = _csv(tmp_path, "city,price,click\nparis,1.5,0\nrome,2,1.0\nparis,3,1\n")
    with pytest.raises(BadSpanError, match=re.escape(
            f"{path}: column 'click' holds 1 cells that are not integers (read as float values) "
            f"among its 3 non-empty cells (the first: line 3, '1.0'); expected int values "
            f"(int64_list), as spec tiny.yaml declares it (tasks[0].label: a label of binary "
            f"task 'click' (int values))")):
        check_latest_span(data, CSV_SPEC)
    # A column the schema holds as strings that holds only numbers in this span: CsvExampleGen
    # would write it as numbers.
    data, _ = _csv(tmp_path / "digits", "city,price,click\n75,1.5,0\n13,2,1\n")
    schema = _schema(tmp_path)
    with pytest.raises(BadSpanError, match=re.escape(
            f"{data / 'span-1'}: column 'city' holds only numbers in this span (CsvExampleGen "
            f"reads it as numbers); expected string values (bytes_list), as the curated schema "
            f"{schema} holds it")):
        check_latest_span(data, CSV_SPEC, schema=schema)


def test_a_csv_column_of_text_where_the_spec_says_numbers_is_the_specs_error(tmp_path):
    data, _ = _csv(tmp_path, "city,price,click\nparis,cheap,0\nrome,dear,1\n")
    with pytest.raises(SpecError, match=re.escape(
            "'price' is a numeric feature of dtype float, but "
            f"{data / 'span-1'} holds string values")):
        check_latest_span(data, CSV_SPEC)


def test_a_column_the_schema_ignores_may_change_type(tmp_path):
    """A column the spec does not name is deprecated in the curated schema: the gate requires
    nothing of it, so the span check holds it to one type across the span only."""
    schema = tmp_path / "schema.pbtxt"
    schema.write_text(SCHEMA + 'feature { name: "note" type: FLOAT lifecycle_stage: DEPRECATED }\n')
    assert "note" not in preflight.schema_feature_types(schema)
    good = [_example(city=b"rome", price=1.5, click=1, note=b"text") for _ in range(3)]
    other = [_example(city=b"paris", price=2.5, click=0, note=b"more") for _ in range(3)]
    data, _ = _span(tmp_path, good, other)
    assert check_latest_span(data, SPEC, schema=schema) == (1, 6)
