"""The documentation's "what happens when" table is the suite's own case list, and each case's
test exists."""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.support import fault_cases as cases

FAULTS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "bad-data-and-faults.md"


def test_the_faults_page_asks_for_the_generated_table():
    # The site's build replaces the marker with cases.render_table() (scripts/docs_hooks.py;
    # tests/docs/test_site.py checks the built page): the page holds no copy that could go stale.
    text = FAULTS_PAGE.read_text()
    assert text.count("<!-- generated: fault-table -->") == 1
    assert cases.TABLE_BEGIN not in text and "| what happens when |" not in text


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
