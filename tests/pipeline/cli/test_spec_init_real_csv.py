"""`mtl spec init` on a CSV span as exported from a real table: empty cells, multi-word names,
integer area codes, a column that is nearly always empty; and on spans it cannot draft from."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from models.spec import load_spec
from pipeline.cli.main import main
from pipeline.data.preflight import check_latest_span

ROWS = 1500
COMPANIES = ("Blue River Cab", "Yellow Checker Taxi", "Flash Cab", "City Service",
             "Sun Taxi", "Star North Management", "Medallion Leasing", "Globe Taxi",
             "Top Cab Affiliation", "Choice Taxi Association", "Taxi Affiliation Services",
             "Chicago Carriage Cab", "Five Star Taxi", "Nova Taxi Affiliation", "Setare Inc",
             "Patriot Taxi Dba Peace Taxi", "Koam Taxi Association", "Metro Jet Taxi",
             "Leonard Cab Co", "Gold Coast Taxi")


def write_trips(data: Path, rows: int = ROWS, seed: int = 11, note_every: int = 500) -> Path:
    """Taxi trips: 8% empty company cells, 5% empty area codes, 20% empty fares, a tip note
    in one row of `note_every` (3 rows out of 1,500)."""
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.ones(77))
    folder = data / "span-1"
    folder.mkdir(parents=True)
    path = folder / "trips.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["company", "pickup_area", "fare", "trip_seconds", "tip_note",
                         "tipped"])
        for i in range(rows):
            company = COMPANIES[min(int(rng.zipf(1.5)) - 1, len(COMPANIES) - 1)]
            area = int(rng.choice(np.arange(1, 78), p=popularity))
            seconds = int(rng.gamma(3.0, 300.0))
            fare = round(3.25 + seconds / 60 * 0.9 + rng.normal(0, 1), 2)
            writer.writerow([
                "" if rng.random() < 0.08 else company,
                "" if rng.random() < 0.05 else area,
                "" if rng.random() < 0.2 else fare,
                seconds,
                "thanks" if i % note_every == 0 else "",
                int(rng.random() < 0.4),
            ])
    return path


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
    assert check_latest_span(data, spec) == (1, ROWS)


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
