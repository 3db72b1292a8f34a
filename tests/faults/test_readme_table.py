"""The README's "what happens when" table is the suite's own case list, and each case's test exists."""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.support import fault_cases as cases

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_is_rendered_from_the_case_list():
    text = README.read_text()
    start, end = text.find(cases.TABLE_BEGIN), text.find(cases.TABLE_END)
    assert start >= 0 and end > start, "README lacks the fault-table markers"
    assert text[start:end + len(cases.TABLE_END)] == cases.render_table(), (
        "README table is stale: paste the output of `python -m tests.support.fault_cases`")


def test_every_case_names_an_existing_test():
    assert len({c.id for c in cases.CASES}) == len(cases.CASES)
    for case in cases.CASES:
        module, _, name = case.test.rpartition("::")
        target = importlib.import_module(module or "tests.faults.test_faults")
        assert callable(getattr(target, name, None)), f"{case.id}: no test {case.test}"
        assert name.startswith("test_"), case.test


def test_render_table_lists_each_fault_once():
    table = cases.render_table()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(cases.CASES) + 1  # + header
    assert rows[1] == f"| {cases.CASES[0].fault} | {cases.CASES[0].behaviour} |"
