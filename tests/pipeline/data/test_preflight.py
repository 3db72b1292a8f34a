"""The span check refuses a truncated file wherever the cut falls, naming the file."""

import pytest

from pipeline.data import generator as data
from pipeline.data.preflight import BadSpanError, check_latest_span


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
