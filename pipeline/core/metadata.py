"""Read-only access to a home's ML Metadata: the one opener and walk that the run summary, the
metrics history, the span lookup and `mtl schema freeze` share.

Everything here only reads the SQLite store (opened READONLY, so it is safe while a run writes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class NoRunsError(LookupError):
    """The home has no ML Metadata, or no pipeline run recorded in it."""


def readonly_store(metadata_path: str | os.PathLike):
    """The SQLite ML Metadata store at `metadata_path`, opened read-only."""
    # Lazy: ml_metadata loads a native extension; `mtl --help` and the CLI parsers need none.
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def open_home_store(metadata_path: str | os.PathLike, home: str | os.PathLike):
    """`readonly_store`, or NoRunsError naming the home when nothing has run there yet."""
    if not Path(metadata_path).exists():
        raise NoRunsError(f"no ML Metadata at {metadata_path}: no pipeline has run in {home} yet "
                          f"(run `mtl run --root {home}`)")
    return readonly_store(metadata_path)


def runs_oldest_first(store) -> list:
    """Every `pipeline_run` context, oldest first (ties broken by id)."""
    return sorted(store.get_contexts_by_type("pipeline_run"),
                  key=lambda c: (c.create_time_since_epoch, c.id))


def node_property(node, name: str):
    """An MLMD artifact's or execution's property `name` (TFX stores most as custom ones)."""
    if name in node.properties:
        return node.properties[name]
    if name in node.custom_properties:
        return node.custom_properties[name]
    return None


def output_artifacts(store, execution_ids: list[int]) -> list:
    """The output artifacts of these executions (executions -> events -> artifacts)."""
    if not execution_ids:
        return []
    events = store.get_events_by_execution_ids(execution_ids)
    ids = sorted({e.artifact_id for e in events if e.type == e.OUTPUT})
    return store.get_artifacts_by_id(ids) if ids else []


def output_artifacts_by_key(store, execution_id: int) -> dict[str, list]:
    """An execution's output artifacts by output key (Transform's `post_transform_stats`, ...):
    the first step of each output event's path."""
    by_key: dict[str, list[int]] = {}
    for event in store.get_events_by_execution_ids([execution_id]):
        if event.type == event.OUTPUT and event.path.steps:
            by_key.setdefault(event.path.steps[0].key, []).append(event.artifact_id)
    return {key: store.get_artifacts_by_id(sorted(ids)) for key, ids in by_key.items()}


def artifact_type_names(store) -> dict[int, str]:
    """{artifact type id: type name}."""
    return {t.id: t.name for t in store.get_artifact_types()}


def run_problem(store, run_context) -> tuple[dict, tuple[str, ...]] | None:
    """(the problem spec as a dict, the optional tasks enabled) a run's Transform or Trainer
    received in its `custom_config` (`models.spec.ProblemSpec.to_dict`); None when the run
    recorded neither (it failed before them) or predates specs."""
    types = {t.id: t.name for t in store.get_execution_types()}
    found = None
    for execution in store.get_executions_by_context(run_context.id):
        if types.get(execution.type_id, "").split(".")[-1] not in ("Trainer", "Transform"):
            continue
        prop = node_property(execution, "custom_config")
        if prop is None or not prop.string_value:
            continue
        config = json.loads(prop.string_value)
        if isinstance(config, dict) and config.get("spec"):
            found = (config["spec"], tuple(config.get("extra_tasks") or ()))
    return found
