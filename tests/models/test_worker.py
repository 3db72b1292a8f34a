"""The worker entry point's usage check (training itself: tests/e2e/test_multi_worker.py)."""

from __future__ import annotations

from models import worker


def test_without_exactly_one_arguments_file_it_prints_usage(capsys):
    assert worker.main([]) == 2
    assert worker.main(["a.json", "b.json"]) == 2
    assert "usage: python -m models.worker ARGS.json" in capsys.readouterr().err
