"""Checks the project's import graph: no cycle, imports run one way, lazy imports only for heavy
libraries. Prints the problems (exit 1) or a one-line summary (exit 0).

  python scripts/import_graph.py          # run from anywhere; reads the source, runs none of it

Layers, highest first; a module may import its own sub-package and any lower layer, never a
higher one:

  pipeline.cli
  pipeline.runs, kubeflow
  pipeline.dag, pipeline.monitoring, pipeline.serving
  pipeline.datasets
  pipeline.data, pipeline.evaluation
  pipeline.core
  components
  models

An import inside a function is allowed only for a library that takes long to import (TensorFlow,
TFX, Beam, TFMA, ...) or a project module that imports one at its top: start-up time is the one
reason to hide an import.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "components", "pipeline", "kubeflow")
LAYERS: dict[str, int] = {
    "models": 0,
    "components": 1,
    "pipeline.core": 2,
    "pipeline.data": 3, "pipeline.evaluation": 3,
    "pipeline.datasets": 4,
    "pipeline.dag": 5, "pipeline.monitoring": 5, "pipeline.serving": 5,
    "pipeline.runs": 6, "kubeflow": 6,
    "pipeline.cli": 7,
}
# Each takes a fraction of a second or more to import (pyarrow ~0.7 s, tfx_bsl's coders ~0.6 s).
HEAVY = ("tensorflow", "tensorflow_transform", "tensorflow_model_analysis",
         "tensorflow_data_validation", "tensorflow_serving", "tensorflow_metadata", "tfx",
         "apache_beam", "ml_metadata", "kfp", "keras", "tf_keras", "matplotlib", "grpc",
         "tensorflow_text", "yaml", "google.protobuf", "tfx_bsl", "pyarrow")


# Project modules that load a heavy library at import time through a call the parser cannot
# follow: the local server's gRPC servicer class derives from TF Serving's generated base class.
HEAVY_AT_IMPORT = {"pipeline.serving.local_server"}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            out[module_name(path, root)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module `name` refers to (a module, or the package a name comes from)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, bool, int]]:
    """(imported name, inside a function, line) for every import of `path`."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                # `from pkg import module` imports the module; `from module import name`, the module.
                submodules = [f"{child.module}.{a.name}" for a in child.names
                              if f"{child.module}.{a.name}" in modules]
                found.extend((name, in_function, child.lineno)
                             for name in submodules or [child.module])
            visit(child, nested)

    visit(tree, False)
    return found


def layer(module: str) -> tuple[str, int] | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix, LAYERS[prefix]
    return None


def is_heavy(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in HEAVY)


def check(root: Path = ROOT) -> tuple[list[str], dict[str, set[str]]]:
    """(problems, graph {module: project modules it imports}) of the tree under `root`."""
    modules = sources(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    lazy: list[tuple[str, str, int]] = []
    top_heavy: dict[str, bool] = {}
    for module, path in modules.items():
        for name, in_function, line in imports(path, modules):
            target = _resolve(name, modules) if name.split(".")[0] in PACKAGES else None
            if target is not None and target != module:
                graph[module].add(target)
            if not in_function and is_heavy(name):
                top_heavy[module] = True
            if in_function:
                lazy.append((module, name, line))
    problems = []
    # Heavy at import time: a module that imports a heavy library, or a module that does, at its top.
    heavy_modules = set(top_heavy) | HEAVY_AT_IMPORT
    top_graph = {m: set() for m in modules}
    for module, path in modules.items():
        for name, in_function, _ in imports(path, modules):
            target = _resolve(name, modules) if name.split(".")[0] in PACKAGES else None
            if target and not in_function and target != module:
                top_graph[module].add(target)
    changed = True
    while changed:
        changed = False
        for module, targets in top_graph.items():
            if module not in heavy_modules and targets & heavy_modules:
                heavy_modules.add(module)
                changed = True
    for module, name, line in lazy:
        target = _resolve(name, modules) if name.split(".")[0] in PACKAGES else None
        if not (is_heavy(name) or (target is not None and target in heavy_modules)):
            problems.append(f"{modules[module].relative_to(root)}:{line}: import of {name} inside "
                            "a function, but it is cheap to import: import it at the top")
    for module, targets in graph.items():
        own = layer(module)
        for target in sorted(targets):
            theirs = layer(target)
            if own is None or theirs is None or own[0] == theirs[0]:
                continue
            if theirs[1] >= own[1]:
                problems.append(f"{modules[module].relative_to(root)}: {module} ({own[0]}) imports "
                                f"{target} ({theirs[0]}): imports must run down the layers")
    for cycle in cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle + [cycle[0]]))
    return problems, graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def main() -> int:
    problems, graph = check()
    for problem in problems:
        print(problem)
    if problems:
        return 1
    edges = sum(len(t) for t in graph.values())
    print(f"import graph ok: {len(graph)} modules, {edges} project imports, no cycle, "
          "every import runs down the layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
