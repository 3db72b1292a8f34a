"""Span-based retraining: the rolling training window and the span each artifact came from.

Data arrives as spans (``data/span-<N>/``). Each run's ImportExampleGen ingests the newest span
only (its driver resolves ``{SPAN}`` to the highest span present), so one Examples artifact per
span accumulates in ML Metadata, each with a ``span`` property. With ``train_spans`` K > 1 a
Resolver (``SpanRangeStrategy`` with ``RollingRange(num_spans=K)``) hands Transform and Trainer
the latest K of them; ImportExampleGen's ``RangeConfig`` itself only accepts a single static
span (tfx/components/example_gen/utils.py), hence the resolver.

No leakage between training and evaluation: ImportExampleGen splits every span by a hash of the
serialized example, so the newest span's ``eval`` split, on which the Evaluator gates, is never
in any span's ``train`` split.
"""

from __future__ import annotations

from pathlib import Path

from tfx.dsl.input_resolution.strategies.span_range_strategy import SpanRangeStrategy

from pipeline.core import metadata

WINDOW_RESOLVER_ID = "span_window_resolver"


def _version_key(artifact) -> tuple[int, int, int]:
    version = artifact.version if artifact.has_property("version") else 0
    return (int(version or 0), artifact.mlmd_artifact.create_time_since_epoch, artifact.id)


class LatestVersionSpanRangeStrategy(SpanRangeStrategy):
    """`SpanRangeStrategy`, keeping only the latest artifact of each span.

    A span is ingested again when it is re-run without cache or its files change; TFX's
    SpanRangeStrategy would then hand Transform and the Trainer every copy (duplicated
    training data). Here the latest version wins, then the newest artifact (create time, id),
    the span-version semantics of TFX's canned `rolling_range` resolver function. Spans come
    newest first, as with SpanRangeStrategy.
    """

    def _resolve(self, input_dict):
        from tfx.dsl.input_resolution.strategies import span_range_strategy as base

        result = {}
        for key, artifacts in super()._resolve(input_dict).items():
            latest: dict[int, object] = {}
            for artifact in artifacts:
                span = base._get_span_custom_property(artifact)
                if span not in latest or _version_key(artifact) > _version_key(latest[span]):
                    latest[span] = artifact
            result[key] = [latest[span] for span in sorted(latest, reverse=True)]
        return result


def rolling_range(num_spans: int):
    """`RangeConfig` selecting the latest `num_spans` spans."""
    from tfx.proto import range_config_pb2

    if num_spans < 1:
        raise ValueError(f"train_spans must be at least 1, got {num_spans}")
    return range_config_pb2.RangeConfig(
        rolling_range=range_config_pb2.RollingRange(num_spans=num_spans)
    )


def artifact_spans(metadata_path: str | Path, run_id: str, node_id: str,
                   pipeline_name: str) -> list[int]:
    """Spans of the Examples artifacts that node `node_id` read (input) or wrote (output) in run
    `run_id`, read from ML Metadata; sorted ascending."""
    store = metadata.readonly_store(metadata_path)
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    node = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if run is None or node is None:
        raise LookupError(f"{metadata_path}: no run {run_id!r} or node {node_id!r}")
    node_executions = {e.id for e in store.get_executions_by_context(node.id)}
    executions = [e.id for e in store.get_executions_by_context(run.id) if e.id in node_executions]
    events = store.get_events_by_execution_ids(executions)
    examples_type = store.get_artifact_type("Examples").id
    ids = sorted({e.artifact_id for e in events})
    spans = set()
    for artifact in store.get_artifacts_by_id(ids):
        if artifact.type_id == examples_type and "span" in artifact.custom_properties:
            spans.add(artifact.custom_properties["span"].int_value)
    return sorted(spans)
