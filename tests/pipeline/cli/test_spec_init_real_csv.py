"""`mtl spec init` on a CSV span as exported from a real table: empty cells, multi-word names,
integer area codes, a column that is nearly always empty; and on spans it cannot draft from."""

from __future__ import annotations

from models.spec import load_spec
from pipeline.cli.main import main
from pipeline.data.preflight import check_latest_span
from tests.support.real_tables import TRIP_ROWS, write_trips


def test_the_draft_of_a_csv_with_empty_cells_and_multi_word_names_checks_and_runs_the_span(
        tmp_path, capsys):
    data = tmp_path / "trips"
    write_trips(data)
    out = tmp_path / "trips.yaml"
    assert main(["spec", "init", "--data", str(data), "--label", "tipped:binary",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    text = out.read_text()
    assert text.endswith("\n") and not text.endswith("\n\n")
    spec = load_spec(out)
    assert {f.name: (f.kind, f.dtype) for f in spec.features} == {
        "company": ("categorical", "string"), "pickup_area": ("categorical", "int"),
        "fare": ("numeric", "float"), "trip_seconds": ("numeric", "int")}
    assert "  #   tip_note: absent from 1,497 of 1,500 examples (99.8%; more than 95%): too " \
           "rare to learn from" in text
    assert "# absent from" in text.split("- name: company")[1].splitlines()[0]
    assert main(["spec", "check", str(out)]) == 0
    assert capsys.readouterr().out == (
        "trips: 4 features (2 categorical, 2 numeric), 1 tasks (1 binary), slices: company\n")
    # The span the spec was drafted from passes the span check against it.
    assert check_latest_span(data, spec) == (1, TRIP_ROWS)


def test_spans_spec_init_cannot_draft_from_are_named(tmp_path, capsys):
    empty = tmp_path / "empty" / "span-1"
    empty.mkdir(parents=True)
    (empty / "part-0.csv").write_text("company,fare,tipped\n")
    assert main(["spec", "init", "--data", str(tmp_path / "empty"), "--label",
                 "tipped:binary"]) == 4
    assert capsys.readouterr().err == (
        f"mtl spec init: {empty / 'part-0.csv'}: no row after the header\n")

    (tmp_path / "none" / "span-1").mkdir(parents=True)
    assert main(["spec", "init", "--data", str(tmp_path / "none"), "--label",
                 "tipped:binary"]) == 2
    assert "holds no data file (expected *.tfrecord.gz or *.csv)" in capsys.readouterr().err

    unlabelled = tmp_path / "unlabelled" / "span-1"
    unlabelled.mkdir(parents=True)
    (unlabelled / "part-0.csv").write_text(
        "company,fare,tipped\n" + "".join(f"Flash Cab,{i}.5,\n" for i in range(50)))
    assert main(["spec", "init", "--data", str(tmp_path / "unlabelled"), "--label",
                 "tipped:binary"]) == 2
    assert capsys.readouterr().err == (
        "mtl spec init: label 'tipped' is absent from every example (an empty column): no "
        "observed value to learn from\n")
