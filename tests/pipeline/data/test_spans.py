"""The rolling span window: latest K spans, one artifact (the latest version) per span."""

from __future__ import annotations

import pytest
from tfx.types import standard_artifacts

from pipeline.data.spans import LatestVersionSpanRangeStrategy, rolling_range


def _examples(artifact_id: int, span: int, version: int = 0, created: int = 0):
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.span = span
    artifact.version = version
    artifact.set_int_custom_property("span", span)
    artifact.mlmd_artifact.create_time_since_epoch = created
    return artifact


def _resolve(num_spans, artifacts):
    strategy = LatestVersionSpanRangeStrategy(range_config=rolling_range(num_spans))
    return [a.id for a in strategy._resolve({"examples": artifacts})["examples"]]


def test_latest_k_spans_newest_first():
    artifacts = [_examples(1, 1), _examples(2, 2), _examples(3, 3), _examples(4, 4)]
    assert _resolve(2, artifacts) == [4, 3]
    assert _resolve(3, artifacts) == [4, 3, 2]
    assert _resolve(10, artifacts) == [4, 3, 2, 1]
    assert _resolve(1, artifacts[:1]) == [1]


def test_a_span_ingested_twice_is_used_once():
    # Span 2 re-ingested (no cache): ids 2 and 5, same version; the newer one wins. Span 3 has
    # versions 1 and 0: version 1 wins although created earlier.
    artifacts = [_examples(1, 1, created=10), _examples(2, 2, created=20),
                 _examples(3, 3, version=1, created=30), _examples(6, 3, version=0, created=60),
                 _examples(5, 2, created=50)]
    assert _resolve(2, artifacts) == [3, 5]
    assert _resolve(3, artifacts) == [3, 5, 1]


def test_rolling_range_rejects_an_empty_window():
    with pytest.raises(ValueError, match="train_spans must be at least 1, got 0"):
        rolling_range(0)
