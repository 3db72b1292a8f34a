"""Transform over a rolling window of spans: each span analyzed once, none transformed again.

TFX's `Transform` with its analyzer cache (`analyzer_cache` in, `updated_analyzer_cache` out):
tf.Transform keys the cache by input dataset (a span artifact's `train` split), so a run
computes the analyzers' partial results (vocabulary counts, mean/variance sums, quantile
sketches) of the spans not in the cache only and combines them with the cached ones of the
older spans of the window. The executor here is TFX's, and additionally

- logs which spans it analyzes and which it takes from the cache (decided as TFX's executor
  decides, from the cache's manifests and the analyzers' cache keys), and records them on the
  `updated_analyzer_cache` artifact (custom properties `analyzed_spans`, `cached_spans`);
- writes `window_spans.json` into the transform graph: the span of each input split, so the
  Trainer can tell the newest span from the older ones (incremental training).

Nothing is materialized in a window run (`materialize=False`): the Trainer applies the
transform graph to the raw examples of the window as it reads them (models/trainer.py). With
statistics disabled, TFX's executor then reads only the spans it analyzes.
"""

from __future__ import annotations

import json
import logging
import os
import pickle

import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.beam import analysis_graph_builder, analyzer_cache
from tfx.components import Transform
from tfx.components.transform import executor as transform_executor
from tfx.components.transform import labels
from tfx.components.util import examples_utils, tfxio_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils

# In the transform graph artifact: {"<split uri>": span} of every input split of the window.
WINDOW_SPANS_FILE = "window_spans.json"
ANALYZED_SPANS = "analyzed_spans"
CACHED_SPANS = "cached_spans"


def _span(artifact) -> int:
    return int(artifact.span) if artifact.has_property("span") else int(
        artifact.get_int_custom_property("span"))


def split_spans(examples: list) -> dict[str, int]:
    """{split uri: span} for every split of every Examples artifact."""
    out = {}
    for artifact in examples:
        for split in artifact_utils.decode_split_names(artifact.split_names):
            out[artifact_utils.get_split_uri([artifact], split)] = _span(artifact)
    return out


def spans_text(spans) -> str:
    return ",".join(str(s) for s in sorted(spans))


def _manifest_entries(cache_dir: str, dataset_key) -> set:
    """The cache entry keys tf.Transform's cache holds for one dataset (its MANIFEST, a
    pickled {entry key: index}, tensorflow_transform/beam/analyzer_cache.py)."""
    path = os.path.join(cache_dir, dataset_key.key, "MANIFEST")
    if not tf.io.gfile.exists(path):
        return set()
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            return set(pickle.loads(f.read()))
        except Exception:  # noqa: BLE001 - tf.Transform then reads it as no cache, as here
            return set()


def cache_decision(patterns: list[str], cache_dir: str | None, preprocessing_fn,
                   typespecs: dict) -> tuple[list[str], list[str]]:
    """(analyzed, cached): which analysis inputs tf.Transform computes and which it takes
    from the cache, by the functions TFX's Transform executor decides with
    (`get_analysis_cache_entry_keys`, `get_analysis_dataset_keys`) on the cache's manifests.
    A dataset is cached when every analyzer's entry for it is in the cache."""
    if not cache_dir:
        return list(patterns), []
    keys = {p: transform_executor._Dataset(p, None, None, None).dataset_key  # noqa: SLF001
            for p in patterns}
    wanted = set(analysis_graph_builder.get_analysis_cache_entry_keys(
        preprocessing_fn, typespecs, list(keys.values()), False))
    input_cache = {}
    for key in keys.values():
        present = _manifest_entries(cache_dir, key) & wanted
        if present:
            # The graph builder checks only that an entry is there (not None); nothing reads it.
            input_cache[key] = analyzer_cache.DatasetCache({e: e for e in present}, None)
    needed = set(analysis_graph_builder.get_analysis_dataset_keys(
        preprocessing_fn, typespecs, list(keys.values()), input_cache, False))
    analyzed = [p for p in patterns if keys[p] in needed]
    return analyzed, [p for p in patterns if p not in analyzed]


class Executor(transform_executor.Executor):
    """TFX's Transform executor, saying which spans it analyzed and which came from the cache."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802
        self._input_dict = input_dict
        self._decision = None
        super().Do(input_dict, output_dict, exec_properties)
        graph_uri = artifact_utils.get_single_uri(
            output_dict[standard_component_specs.TRANSFORM_GRAPH_KEY])
        io_utils.write_string_file(os.path.join(graph_uri, WINDOW_SPANS_FILE),
                                   json.dumps(self._split_spans(), sort_keys=True))
        if self._decision is None:
            return
        analyzed, cached = self._decision
        for artifact in output_dict.get(standard_component_specs.UPDATED_ANALYZER_CACHE_KEY, []):
            artifact.set_string_custom_property(ANALYZED_SPANS, spans_text(analyzed))
            artifact.set_string_custom_property(CACHED_SPANS, spans_text(cached))

    def _split_spans(self) -> dict[str, int]:
        return split_spans(self._input_dict[standard_component_specs.EXAMPLES_KEY])

    def _GetPreprocessingFn(self, inputs, unused_outputs):  # noqa: N802
        """TFX's (an extension point of its executor), then the cache decision logged."""
        fn = super()._GetPreprocessingFn(inputs, unused_outputs)
        try:
            self._decide(fn, inputs[labels.SCHEMA_PATH_LABEL])
        except Exception as e:  # noqa: BLE001 - a report must not fail the Transform it reports
            logging.warning("Transform analyzer cache: could not tell which spans are cached "
                            "(%s: %s); tf.Transform's own cache decision still applies",
                            type(e).__name__, e)
        return fn

    def _decide(self, fn, schema_path: str) -> None:
        examples = self._input_dict[standard_component_specs.EXAMPLES_KEY]
        span_of = {io_utils.all_files_pattern(uri): span
                   for uri, span in self._split_spans().items()
                   if uri.rstrip("/").endswith("Split-train")}
        cache = self._input_dict.get(standard_component_specs.ANALYZER_CACHE_KEY) or []
        cache_dir = artifact_utils.get_single_uri(cache) if cache else None
        schema = io_utils.parse_pbtxt_file(schema_path, schema_pb2.Schema())
        typespecs = tfxio_utils.make_tfxio(
            file_pattern=next(iter(span_of)), telemetry_descriptors=["mtl"],
            payload_format=examples_utils.get_payload_format(examples[0]),
            schema=schema).TensorAdapter().OriginalTypeSpecs()
        analyzed, cached = cache_decision(list(span_of), cache_dir, fn, typespecs)
        self._decision = (sorted({span_of[p] for p in analyzed}),
                          sorted({span_of[p] for p in cached}))
        logging.info("Transform analyzer cache: analyzed span(s) %s; span(s) %s taken from "
                     "the cache", spans_text(self._decision[0]) or "none",
                     spans_text(self._decision[1]) or "none")


class LatestCacheStrategy(LatestArtifactStrategy):
    """TFX's `LatestArtifactStrategy` (the latest analyzer cache), resolving to no artifact on
    the first run instead of to None, which TFX records as a FAILED resolver execution (the
    run goes on, Transform's `analyzer_cache` being optional, but its summary says FAILED)."""

    def resolve_artifacts(self, store, input_dict):  # noqa: D102
        return self._resolve(input_dict)


class WindowTransform(Transform):
    """`Transform` whose executor logs the spans it analyzed (see the module docstring)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
