"""MkDocs hooks: the documentation's generated parts, rendered from the code at build time.

A page asks for a generated part with a marker line, replaced when the site is built:

  <!-- generated: spec-reference -->   every field of a problem spec (models.spec's field tables
                                       and FIELD_DOCS, ModelHParams for `model.hparams`)
  <!-- generated: fault-table -->      the fault suite's case list (tests/support/fault_cases.py)
  <!-- generated: layers -->           the import layers scripts/import_graph.py enforces

An unknown marker, a field the parser accepts without a meaning, or a meaning for a field it
does not accept stops the build, naming it.

  python scripts/docs_hooks.py spec-reference      # prints a part's Markdown
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


class GeneratedPartError(ValueError):
    """A generated part that cannot be rendered (names the part and what is wrong)."""


def _load(name: str, path: Path):
    """A module of the checkout by its path (scripts/ and tests/ are not installed packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _codes(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def accepted_fields() -> dict[str, tuple[str, ...]]:
    """{section: the fields the spec parser accepts there}, in the parser's order."""
    from models import spec

    features = tuple(dict.fromkeys(f for fields in spec.FEATURE_FIELDS.values() for f in fields))
    return {"problem": spec.PROBLEM_FIELDS, "input": spec.INPUT_FIELDS, "features": features,
            "schema": spec.SCHEMA_FIELDS, "tasks": spec.TASK_FIELDS, "labels": spec.LABELS_FIELDS,
            "gate": spec.GATE_FIELDS, "model": spec.MODEL_FIELDS}


def undocumented_fields() -> list[str]:
    """Fields accepted without a meaning in FIELD_DOCS, and meanings of fields not accepted."""
    from models.spec import FIELD_DOCS

    problems = []
    for section, fields in accepted_fields().items():
        docs = FIELD_DOCS.get(section, {})
        problems += [f"{section}.{f}: accepted by the parser, no entry in FIELD_DOCS"
                     for f in fields if f not in docs]
        problems += [f"{section}.{f}: in FIELD_DOCS, not accepted by the parser"
                     for f in docs if f not in fields]
    problems += [f"{section}: a FIELD_DOCS section the parser does not have"
                 for section in FIELD_DOCS if section not in accepted_fields()]
    return problems


def _hparam_meanings() -> dict[str, str]:
    """{field: meaning} from ModelHParams' docstring ("  name: text" or "  a / b: text")."""
    from models.hparams import ModelHParams

    doc = ModelHParams.__doc__.split("Attributes:", 1)[1]
    meanings: dict[str, str] = {}
    names: list[str] = []
    for line in doc.splitlines():
        match = re.match(r"^      ([a-z_0-9 /]+): (.*)$", line)
        if match:
            names = [n.strip() for n in match.group(1).split("/")]
            for name in names:
                meanings[name] = match.group(2).strip()
        elif line.startswith("        ") and names:
            for name in names:
                meanings[name] += " " + line.strip()
    return meanings


def spec_reference() -> str:
    """The spec reference: one table per section, the kinds and the gate metric per task kind."""
    from models import spec
    from models.hparams import ModelHParams

    problems = undocumented_fields()
    if problems:
        raise GeneratedPartError("spec-reference: " + "; ".join(problems))
    docs, accepted = spec.FIELD_DOCS, accepted_fields()
    out = ["## The problem", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["problem"][f])
                                         for f in accepted["problem"]])
    out += ["## `input`", "", f"Formats: {_codes(spec.INPUT_FORMATS)}.", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["input"][f]) for f in accepted["input"]])
    out += ["## `features[]`", "",
            f"Kinds: {_codes(spec.FEATURE_KINDS)}. Numeric transforms: "
            f"{_codes(spec.NUMERIC_TRANSFORMS)}. Text tokenizers: {_codes(spec.TEXT_TOKENIZERS)}. "
            "A field a kind does not accept is an error naming it.", ""]
    def kinds_of(field: str) -> str:
        kinds = [k for k in spec.FEATURE_KINDS if field in spec.FEATURE_FIELDS[k]]
        return "all" if len(kinds) == len(spec.FEATURE_KINDS) else ", ".join(kinds)

    out += _table(("field", "kinds", "meaning"), [
        (f"`{f}`", kinds_of(f), docs["features"][f]) for f in accepted["features"]])
    out += ["## `features[].schema`", "",
            f"Drift comparators: {_codes(spec.DRIFT_COMPARATORS)}.", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["schema"][f])
                                         for f in accepted["schema"]])
    out += ["## `tasks[]`", "",
            f"Kinds: {_codes(spec.TABULAR_TASK_KINDS)} (one value per example) and "
            f"{_codes(spec.TEXT_TASK_KINDS)} (on a text feature's tokens). A label equal to the "
            f"task's `missing` sentinel (default {spec.DEFAULT_MISSING_LABEL}), or absent, is not "
            "observed.", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["tasks"][f]) for f in accepted["tasks"]])
    out += ["### `tasks[].labels` (span tasks)", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["labels"][f])
                                         for f in accepted["labels"]])
    out += ["## `tasks[].gate`", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["gate"][f]) for f in accepted["gate"]])
    out += ["The gating metric of each task kind (as a spec names it, and as TFMA does):", ""]
    out += _table(("task kind", "`gate.metric`", "TFMA metric"), [
        (f"`{k}`", f"`{spec.GATE_METRICS[k]}`", f"`{spec.TFMA_METRICS[k]}`")
        for k in spec.TASK_KINDS])
    out += ["## `model`", ""]
    out += _table(("field", "meaning"), [(f"`{f}`", docs["model"][f]) for f in accepted["model"]])
    out += ["### `model.hparams`", "",
            "The model's hyperparameters (`ModelHParams`) with their defaults; a problem's "
            "`model.hparams` replaces some of them, and `mtl run` flags replace those.", ""]
    meanings = _hparam_meanings()
    rows = []
    for field in dataclasses.fields(ModelHParams):
        if field.name not in meanings:
            raise GeneratedPartError(f"spec-reference: ModelHParams.{field.name} has no line in "
                                     "the class docstring's Attributes")
        default = list(field.default) if isinstance(field.default, tuple) else field.default
        rows.append((f"`{field.name}`", f"`{json.dumps(default)}`", meanings[field.name]))
    out += _table(("hyperparameter", "default", "meaning"), rows)
    return "\n".join(out)


def fault_table() -> str:
    """The "what happens when" table, from the fault suite's case list."""
    cases = _load("mtl_docs.fault_cases", ROOT / "tests" / "support" / "fault_cases.py")
    return cases.render_table()


def layers() -> str:
    """The import layers, highest first, as scripts/import_graph.py enforces them."""
    graph = _load("mtl_docs.import_graph", ROOT / "scripts" / "import_graph.py")
    by_level: dict[int, list[str]] = {}
    for package, level in graph.LAYERS.items():
        by_level.setdefault(level, []).append(package)
    rows = [(str(len(by_level) - i), _codes(by_level[level]))
            for i, level in enumerate(sorted(by_level, reverse=True))]
    return "\n".join(_table(("layer (highest first)", "packages"), rows))


PARTS = {"spec-reference": spec_reference, "fault-table": fault_table, "layers": layers}


def render(markdown: str, where: str = "page") -> str:
    """`markdown` with every marker replaced by its generated part."""
    def replace(match: re.Match) -> str:
        part = PARTS.get(match.group(1))
        if part is None:
            raise GeneratedPartError(f"{where}: unknown generated part {match.group(1)!r}; "
                                     f"known: {sorted(PARTS)}")
        return part()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files):  # MkDocs hook
    from mkdocs.exceptions import PluginError

    try:
        return render(markdown, page.file.src_path)
    except GeneratedPartError as e:
        raise PluginError(str(e)) from None


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        sys.exit(f"docs_hooks: unknown part {unknown}; known: {sorted(PARTS)}")
    for name in names:
        print(PARTS[name]())
