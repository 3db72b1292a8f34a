"""Is this run the last one again? Then nothing runs, and the run says so and why.

A re-run with the same spans, configuration and code is fully cached by TFX except for one
node: when the last run blessed its model, that model is now the latest blessed one, so the
Evaluator's baseline input changed and it re-evaluates the model against itself (and the
Pusher re-checks a push it already made). That evaluation says nothing new.

The run key is the sha256 of everything the components' cache keys are made of on this
machine: the compiled pipeline IR (every component's parameters: the configuration, the code
fingerprints, the schema's fingerprint, the Beam flags, the ML Metadata path), every file under
the data folder (path, size, modification time: what ImportExampleGen's input fingerprint
reads) and the TFX version. After a run completes, the key is written beside the artifacts with
that run's id. A later run is "unchanged" only if its key is the same, caching is on, the
newest run in ML Metadata is still that run (so the latest blessed model and the spans' window
are what that run left behind: its own model or its baseline), and the model it pushed, if any,
is still in the serving folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from pipeline.core import metadata
from pipeline.core.config import PipelineConfig

RECORD_NAME = "last_run.json"
_DONE_STATES = (3, 5)  # COMPLETE, CACHED


def record_path(config: PipelineConfig) -> Path:
    return config.pipeline_root / RECORD_NAME


def data_files(data_dir: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime in ns) of every file and folder under the data folder, sorted.

    Folders count too: a new span folder, even an empty one, is new data that the run must
    see (the pre-flight check refuses an empty newest span)."""
    out = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            stat = path.stat()
            out.append((path.relative_to(data_dir).as_posix(), stat.st_size, stat.st_mtime_ns))
        elif path.is_dir():
            out.append((path.relative_to(data_dir).as_posix() + "/", 0, 0))
    return out


def run_key(config: PipelineConfig, pipeline) -> str:
    """The run key of `pipeline` (built from `config`) on the data as it is now."""
    # Lazy: TFX takes seconds to import; the caller has already built the pipeline with it.
    from google.protobuf import descriptor_pool, text_format
    from tfx import version as tfx_version
    from tfx.dsl.compiler import compiler

    ir = compiler.Compiler().compile(pipeline)
    # Text, not bytes: the deployment config (executor classes, Beam flags, metadata path) is
    # an Any packing maps, whose packed bytes follow the maps' insertion order; the text form
    # expands every Any and prints map entries sorted by key.
    text = text_format.MessageToString(ir, descriptor_pool=descriptor_pool.Default())
    digest = hashlib.sha256()
    digest.update(text.encode())
    digest.update(json.dumps(data_files(config.data_dir)).encode())
    digest.update(tfx_version.__version__.encode())
    return digest.hexdigest()


def read_record(config: PipelineConfig) -> dict | None:
    try:
        return json.loads(record_path(config).read_text())
    except (OSError, ValueError):
        return None


def write_record(config: PipelineConfig, key: str, summary) -> None:
    """Remembers the key of the run `summary` describes (written to a temporary file, then
    renamed, so a reader never sees half of it)."""
    record = {
        "key": key,
        "run_id": summary.run_id,
        "blessed": summary.blessed,
        "pushed_path": summary.pushed_path,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = record_path(config)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)


def forget(config: PipelineConfig) -> None:
    """Drops the record (a run that did not complete leaves nothing to compare with)."""
    record_path(config).unlink(missing_ok=True)


def latest_run_id(config: PipelineConfig) -> str | None:
    """The name of the newest `pipeline_run` context in the home's ML Metadata, or None."""
    if not config.metadata_path.exists():
        return None
    runs = metadata.runs_oldest_first(metadata.readonly_store(config.metadata_path))
    return runs[-1].name if runs else None


def unchanged_reason(config: PipelineConfig, key: str) -> str | None:
    """Why a run with `key` would re-run nothing ("unchanged: ..."), or None: it must run."""
    if not config.enable_cache:
        return None
    record = read_record(config)
    if not record or record.get("key") != key or not config.metadata_path.exists():
        return None
    store = metadata.readonly_store(config.metadata_path)
    runs = metadata.runs_oldest_first(store)
    if not runs or runs[-1].name != record.get("run_id"):
        return None
    executions = store.get_executions_by_context(runs[-1].id)
    if not executions or any(e.last_known_state not in _DONE_STATES for e in executions):
        return None
    pushed = record.get("pushed_path")
    if pushed and not Path(pushed).exists():
        return None
    spans = sorted({p.split("/", 1)[0] for p, _, _ in data_files(config.data_dir)})
    model = ("its model is the latest blessed one, so evaluating it again would compare it "
             "with itself" if record.get("blessed") else
             "the latest blessed model is the same baseline it was judged against")
    return (f"unchanged: same data ({', '.join(spans)}), configuration and code as run "
            f"{record['run_id']}, which completed; {model}. Nothing was re-run.")
