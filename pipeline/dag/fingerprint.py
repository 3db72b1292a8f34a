"""Fingerprints of the user code, so ML Metadata caching follows code changes.

The pipeline names its user code by dotted path (`models.preprocessing.preprocessing_fn`,
`models.trainer.run_fn`), for which TFX fingerprints no code at all: a changed model would
silently reuse a stale cached Trainer. We put a hash of the relevant source files into each
component's `custom_config`, an execution property that is part of the cache key:

- Transform: `preprocessing.py` and the modules it imports from `models` (the `spec`
  package), so editing the model does not re-run Transform;
- Trainer: every module of `models` (sub-packages included), so editing the model re-runs the
  Trainer (and everything after it); editing `preprocessing_fn` re-runs Transform, whose new
  output re-runs the rest.

Source files are read, never imported: compiling a pipeline does not import TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

MODELS_PACKAGE = "models"
# Modules (`name.py`) and packages (`name`: every module under it) of `models`.
TRANSFORM_MODULES: tuple[str, ...] = ("preprocessing.py", "text_preprocessing.py", "spec",
                                     "hparams.py", "signatures.py")


def package_dir(package: str = MODELS_PACKAGE) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} not found; is the project installed?")
    return Path(list(spec.submodule_search_locations)[0])


def files_fingerprint(paths: list[Path], root: Path) -> str:
    """sha256 over the files' paths (relative to root) and contents, in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def transform_fingerprint(root: Path | None = None) -> str:
    root = root or package_dir()
    paths: list[Path] = []
    for name in TRANSFORM_MODULES:
        path = root / name
        paths += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files_fingerprint(paths, root)


def trainer_fingerprint(root: Path | None = None) -> str:
    root = root or package_dir()
    return files_fingerprint(sorted(root.rglob("*.py")), root)
