"""Which spans the window's Transform analyzes and which it takes from the analyzer cache."""

from __future__ import annotations

import os
import pickle

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.beam import analysis_graph_builder
from tfx.components.transform import executor as transform_executor

from components.window_transform import cache_decision

SPECS = {"x": tf.TensorSpec([None], tf.float32), "y": tf.TensorSpec([None], tf.string)}


def preprocessing_fn(inputs):
    return {"x": tft.scale_to_z_score(inputs["x"]),
            "y": tft.compute_and_apply_vocabulary(inputs["y"])}


def _key(pattern):
    return transform_executor._Dataset(pattern, None, None, None).dataset_key  # noqa: SLF001


def _write_manifest(cache_dir, pattern, entries):
    folder = os.path.join(cache_dir, _key(pattern).key)
    os.makedirs(folder)
    with open(os.path.join(folder, "MANIFEST"), "wb") as f:
        f.write(pickle.dumps({e: i for i, e in enumerate(entries)}, protocol=0))


def test_a_span_is_cached_only_when_every_analyzer_entry_is_in_the_cache(tmp_path):
    patterns = [f"/root/examples/{i}/Split-train/*" for i in (1, 2, 3)]
    wanted = sorted(analysis_graph_builder.get_analysis_cache_entry_keys(
        preprocessing_fn, SPECS, [_key(p) for p in patterns], False))
    assert len(wanted) == 2  # the mean/variance and the vocabulary counts
    cache = str(tmp_path / "cache")
    _write_manifest(cache, patterns[0], wanted)              # span 1: complete
    _write_manifest(cache, patterns[1], wanted[:1] + [b"stale-entry"])  # span 2: one missing
    analyzed, cached = cache_decision(patterns, cache, preprocessing_fn, SPECS)
    assert cached == [patterns[0]]
    assert analyzed == patterns[1:]
    # No cache at all (the first run): everything is analyzed.
    assert cache_decision(patterns, None, preprocessing_fn, SPECS) == (patterns, [])


def test_the_cache_resolver_gives_the_latest_cache_or_none_without_failing():
    from tfx.types import standard_artifacts

    from components.window_transform import LatestCacheStrategy

    def cache(i):
        artifact = standard_artifacts.TransformCache()
        artifact.id = i
        return artifact

    strategy = LatestCacheStrategy()
    assert strategy.resolve_artifacts(None, {"cache": []}) == {"cache": []}
    resolved = strategy.resolve_artifacts(None, {"cache": [cache(3), cache(7), cache(5)]})
    assert [a.id for a in resolved["cache"]] == [7]
