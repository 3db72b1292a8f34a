"""The import graph: no cycle, imports run down the layers, lazy imports only for heavy
libraries (scripts/import_graph.py), and `mtl --help` loads none of TensorFlow or TFX."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "import_graph.py"


@pytest.fixture(scope="module")
def graph_lib():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_project_passes_the_check_as_a_command():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no cycle" in proc.stdout


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_an_upward_import_and_a_cheap_lazy_import_are_each_named(tmp_path, graph_lib):
    root = _tree(tmp_path, {
        "models/__init__.py": "",
        "models/a.py": "from models import b\n",
        "models/b.py": "from models import a\n",
        "pipeline/__init__.py": "",
        "pipeline/core/__init__.py": "",
        "pipeline/core/config.py": "from pipeline.cli import main\n",
        "pipeline/cli/__init__.py": "",
        "pipeline/cli/main.py": "def f():\n    import json\n    from tfx import v1\n",
        "components/__init__.py": "",
        "kubeflow/__init__.py": "",
    })
    problems, graph = graph_lib.check(root)
    assert graph["models.a"] == {"models.b"}
    text = "\n".join(problems)
    assert "import cycle: models.a -> models.b -> models.a" in text
    assert "pipeline.core.config (pipeline.core) imports pipeline.cli.main (pipeline.cli)" in text
    assert "pipeline/cli/main.py:2: import of json inside a function" in text
    assert "tfx" not in text  # a heavy library may be imported lazily
    assert len(problems) == 3



def test_the_datasets_sit_between_the_spans_and_the_dag(tmp_path, graph_lib):
    # The embedded datasets write spans (pipeline.data) and are used by the runners; a span
    # module importing a dataset, or a dataset importing the DAG, runs up the layers.
    root = _tree(tmp_path, {
        "models/__init__.py": "",
        "components/__init__.py": "",
        "kubeflow/__init__.py": "",
        "pipeline/__init__.py": "",
        "pipeline/data/__init__.py": "",
        "pipeline/data/layout.py": "",
        "pipeline/data/preflight.py": "from pipeline.datasets import generator\n",
        "pipeline/datasets/__init__.py": "",
        "pipeline/datasets/generator.py": "from pipeline.data import layout\n",
        "pipeline/datasets/embedded.py": "from pipeline.dag import build\n",
        "pipeline/dag/__init__.py": "",
        "pipeline/dag/build.py": "",
        "pipeline/runs/__init__.py": "",
        "pipeline/runs/local.py": "from pipeline.datasets import embedded\n",
    })
    problems, _ = graph_lib.check(root)
    assert sorted(problems) == [
        "pipeline/data/preflight.py: pipeline.data.preflight (pipeline.data) imports "
        "pipeline.datasets.generator (pipeline.datasets): imports must run down the layers",
        "pipeline/datasets/embedded.py: pipeline.datasets.embedded (pipeline.datasets) imports "
        "pipeline.dag.build (pipeline.dag): imports must run down the layers",
    ]

def test_the_command_line_starts_without_tensorflow_or_tfx():
    code = ("import sys, pipeline.cli.main as m; m.build_parser(); "
            "print(sorted(n for n in ('tensorflow', 'tfx', 'apache_beam', 'tensorflow_model_analysis',"
            " 'ml_metadata', 'kfp') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, timeout=120).stdout
    assert out.strip() == "[]"


def test_no_test_module_imports_another_test_module():
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests"):
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
                if not all(n == "tests.support" or n.startswith("tests.support.") for n in names[:-1]):
                    offenders.append(f"{path.relative_to(ROOT)}: from {node.module} import ...")
    assert offenders == []
