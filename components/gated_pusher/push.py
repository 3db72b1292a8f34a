"""Pushing a SavedModel into a TF Serving model folder: atomic, idempotent, versioned.

TF Serving's file-system source polls `<base>/<model>/` and loads every child folder whose name
is an integer version; anything else (for instance a hidden `.tmp-*` folder) is ignored. So a
push copies the model into a hidden temporary folder next to the versions and renames it to its
numeric version only once the copy is complete: a reader sees either no version or a whole one.

A push is skipped when the candidate's files are byte-identical to the newest version already
served (same content digest), so re-running a pipeline on unchanged data and code, where TFX
evaluates the cached candidate against itself and blesses it again, does not add a second copy.

Pure Python (no TensorFlow), so the CLI can list versions without importing TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path

TMP_PREFIX = ".tmp-"


def versions(serving_dir: str | os.PathLike) -> list[int]:
    """The numeric versions TF Serving would see under `serving_dir`, ascending."""
    path = Path(serving_dir)
    if not path.is_dir():
        return []
    return sorted(int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit())


def latest_version(serving_dir: str | os.PathLike) -> int | None:
    found = versions(serving_dir)
    return found[-1] if found else None


def model_digest(model_dir: str | os.PathLike) -> str:
    """SHA-256 over every file's relative path and bytes: equal digests mean the same model."""
    root = Path(model_dir)
    if not (root / "saved_model.pb").exists():
        raise FileNotFoundError(f"{root} is not a SavedModel folder (no saved_model.pb)")
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def next_version(serving_dir: str | os.PathLike, now: float | None = None) -> int:
    """A Unix-timestamp version (as TFX's Pusher), strictly above every existing version."""
    stamp = int(time.time() if now is None else now)
    latest = latest_version(serving_dir)
    return stamp if latest is None or stamp > latest else latest + 1


def atomic_push(model_dir: str | os.PathLike, serving_dir: str | os.PathLike,
                version: int | None = None) -> Path:
    """Copies `model_dir` to `serving_dir/<version>` so that no reader sees it half-written.

    The copy goes to `serving_dir/.tmp-<version>-<random>` (same file system, invisible to TF
    Serving), is flushed to disk, then renamed to the version folder in one `rename`. A failure
    before the rename leaves only the hidden folder, which is removed.
    """
    serving_dir = Path(serving_dir)
    serving_dir.mkdir(parents=True, exist_ok=True)
    version = next_version(serving_dir) if version is None else int(version)
    final = serving_dir / str(version)
    if final.exists():
        raise FileExistsError(f"version folder {final} already exists; refusing to overwrite it")
    tmp = serving_dir / f"{TMP_PREFIX}{version}-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(model_dir, tmp)
        for path in tmp.rglob("*"):
            if path.is_file():
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def served_copy_of(model_dir: str | os.PathLike, serving_dir: str | os.PathLike) -> int | None:
    """The newest served version whose content equals `model_dir`'s, if it is the newest one.

    Only the newest version counts: if an older version equals the candidate but a different
    model was pushed since, pushing the candidate again is a real rollback and is allowed.
    """
    latest = latest_version(serving_dir)
    if latest is None:
        return None
    if model_digest(Path(serving_dir) / str(latest)) == model_digest(model_dir):
        return latest
    return None
