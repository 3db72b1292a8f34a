"""`mtl metrics` and `mtl report` on a home without runs, and bad usage."""

from __future__ import annotations

import json


def test_cli_on_a_home_without_runs(tmp_path, capsys):
    from pipeline.cli.main import main

    assert main(["metrics", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no ML Metadata" in captured.err and str(tmp_path) in captured.err
    assert main(["metrics", "--root", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["metrics", "--root", str(tmp_path), "--check"]) == 1
    assert "no run to check" in capsys.readouterr().err
    out = tmp_path / "r.html"
    assert main(["report", "--root", str(tmp_path), "--out", str(out)]) == 1
    assert "nothing to report" in capsys.readouterr().err and not out.exists()
    assert main(["metrics", "--root", str(tmp_path / "missing")]) == 2
    assert "no home folder" in capsys.readouterr().err
    assert main(["metrics", "--root", str(tmp_path), "--max-drop", "nope=1"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err
