"""The documentation's generated parts (scripts/docs_hooks.py): the spec reference follows the
spec parser's field tables, the fault table is the suite's case list, the layers are the import
check's, and a field without a meaning or an unknown marker stops the build."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from models import spec
from tests.support import fault_cases

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "docs_hooks.py"


@pytest.fixture(scope="module")
def hooks():
    module_spec = importlib.util.spec_from_file_location("docs_hooks", SCRIPT)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_every_field_the_parser_accepts_has_a_meaning_and_no_other(hooks):
    assert hooks.undocumented_fields() == []
    for section, fields in hooks.accepted_fields().items():
        assert sorted(spec.FIELD_DOCS[section]) == sorted(fields), section
        assert all(spec.FIELD_DOCS[section][f].strip() for f in fields), section


def test_the_accepted_fields_are_what_the_parser_accepts(hooks):
    # A field outside the tables is refused, and the error lists exactly the table's fields.
    base = {"name": "p", "features": [{"name": "x", "kind": "numeric"}],
            "tasks": [{"name": "y", "kind": "binary", "gate": {"bound": 0.6, "max_change": 0.1}}]}
    with pytest.raises(spec.SpecError, match=r"zzz: unknown field; known fields here: "
                                             r"\['features', 'input', 'model', 'name', "
                                             r"'slices', 'tasks'\]"):
        spec.ProblemSpec.from_dict({**base, "zzz": 1})
    assert sorted(hooks.accepted_fields()["problem"]) == [
        "features", "input", "model", "name", "slices", "tasks"]
    feature = {"name": "x", "kind": "numeric", "vocabulary_size": 3}
    with pytest.raises(spec.SpecError, match=r"features\[0\]\.vocabulary_size: unknown field"):
        spec.ProblemSpec.from_dict({**base, "features": [feature]})
    assert "vocabulary_size" not in spec.FEATURE_FIELDS["numeric"]


def test_a_field_without_a_meaning_stops_the_reference(hooks, monkeypatch):
    monkeypatch.setattr(spec, "TASK_FIELDS", (*spec.TASK_FIELDS, "temperature"))
    monkeypatch.setitem(spec.FIELD_DOCS, "gate", {**spec.FIELD_DOCS["gate"], "ceiling": "x"})
    assert hooks.undocumented_fields() == [
        "tasks.temperature: accepted by the parser, no entry in FIELD_DOCS",
        "gate.ceiling: in FIELD_DOCS, not accepted by the parser"]
    with pytest.raises(hooks.GeneratedPartError, match="tasks.temperature"):
        hooks.spec_reference()


def test_the_spec_reference_rows(hooks):
    text = hooks.spec_reference()
    # Which kinds take a field comes from the parser's table: read by hand from it.
    assert ("| `vocabulary_size` | categorical, sequence, text | Size of the frequency vocabulary"
            in text)
    assert "| `transform` | numeric |" in text
    assert "| `name` | all |" in text
    assert "| `binary` | `auc` | `auc` |" in text
    assert "| `regression` | `rmse` | `root_mean_squared_error` |" in text
    # model.hparams: the defaults of ModelHParams, in YAML/JSON spelling.
    assert "| `embedding_learning_rate` | `0.005` |" in text
    assert "| `steps_per_epoch` | `null` |" in text
    assert "| `bottom_units` | `[128, 64]` |" in text
    assert "| `tower_batch_norm` | `false` |" in text


def test_markers_are_replaced_and_an_unknown_one_is_refused(hooks):
    page = "# Faults\n\n<!-- generated: fault-table -->\n\nafter\n"
    assert hooks.render(page) == f"# Faults\n\n{fault_cases.render_table()}\n\nafter\n"
    assert hooks.render("no marker here\n") == "no marker here\n"
    with pytest.raises(hooks.GeneratedPartError, match=r"guide.md: unknown generated part "
                                                       r"'fault-tabel'"):
        hooks.render("<!-- generated: fault-tabel -->\n", "guide.md")


def test_the_layers_are_the_import_checks(hooks):
    lines = hooks.layers().splitlines()
    assert lines[2] == "| 8 | `pipeline.cli` |"
    assert "| 5 | `pipeline.datasets` |" in lines
    assert lines[-1] == "| 1 | `models` |"


def test_a_part_prints_from_the_command_line():
    proc = subprocess.run([sys.executable, str(SCRIPT), "fault-table"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == fault_cases.render_table() + "\n"
