"""The pipeline on Beam's portability framework, as Flink, Spark and Dataflow runner v2 drive
Python workers: the embedded job service (`--runner=PortableRunner --job_endpoint=embed`)
with an EXTERNAL environment, whose SDK workers a worker pool (started and stopped here)
starts as separate `python` processes (`mtl run --beam-workers pool:localhost:PORT`; the
embedded job service asks for one worker per Beam job). Its outputs are compared with the
in-memory run's (the session's `small_run`, same data and seed):

- statistics: equal (floats to 1e-9 relative: partial results merge in another order);
- vocabularies: byte for byte;
- transformed rows: in the same order, integers equal, floats within 1e-6 (a z-scored
  feature's mean and variance are combined in another order: last-bit differences);
- TFMA metrics: example counts equal; since the Trainer saw those last-bit differences, the
  models differ by float rounding: AUC within 0.002, other metrics within 0.1%.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline.cli.run_flags import portable_beam_args
from tests.support.beam_pool import worker_pool

pytestmark = pytest.mark.e2e

# Float fields of the statistics may differ in the last bits when partial results are merged
# in another order; everything else must be identical.
STATS_REL_TOL = 1e-9
ROW_FLOAT_TOL = 1e-6
AUC_TOL = 0.002
METRIC_REL_TOL = 1e-3


def _one(root: Path, pattern: str) -> Path:
    [path] = sorted(root.glob(pattern))
    return path


def _statistics(root: Path, split: str) -> dict:
    from google.protobuf import json_format
    from tensorflow_metadata.proto.v0 import statistics_pb2

    path = _one(root, f"StatisticsGen/statistics/*/Split-{split}/FeatureStats.pb")
    stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())
    return json_format.MessageToDict(stats)


def _differences(a, b, where="", out=None) -> list[str]:
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            _differences(a.get(key), b.get(key), f"{where}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _differences(x, y, f"{where}[{i}]", out)
    elif isinstance(a, float) and isinstance(b, (int, float)):
        if not math.isclose(a, b, rel_tol=STATS_REL_TOL, abs_tol=1e-12):
            out.append(f"{where}: {a} != {b}")
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")
    return out


def _vocabularies(root: Path) -> dict[str, bytes]:
    assets = _one(root, "Transform/transform_graph/*/transform_fn/assets")
    return {p.name: p.read_bytes() for p in sorted(assets.iterdir())}


def _transformed_rows(root: Path, split: str) -> list[dict[str, list]]:
    import tensorflow as tf

    files = sorted(root.glob(f"Transform/transformed_examples/*/Split-{split}/*"))
    rows = []
    for record in tf.data.TFRecordDataset([str(f) for f in files], compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        rows.append({key: list(f.float_list.value) or list(f.int64_list.value)
                     or list(f.bytes_list.value) for key, f in example.features.feature.items()})
    return rows


def _max_float_difference(rows_a: list[dict], rows_b: list[dict]) -> float:
    """Largest float difference between rows in the same position; integer and bytes
    features must be equal."""
    assert len(rows_a) == len(rows_b)
    largest = 0.0
    for i, (a, b) in enumerate(zip(rows_a, rows_b)):
        assert a.keys() == b.keys(), i
        for key, values in a.items():
            other = b[key]
            assert len(values) == len(other), (i, key)
            if values and isinstance(values[0], float):
                largest = max([largest, *(abs(x - y) for x, y in zip(values, other))])
            else:
                assert values == other, (i, key, values, other)
    return largest


def test_portable_runner_with_an_external_worker_pool_matches_the_in_memory_run(small_run,
                                                                                tmp_path):
    from pipeline.runs import local as local_runner

    memory_config, memory = small_run
    pool_log = tmp_path / "worker_pool.log"
    with worker_pool(pool_log) as port:
        config = memory_config.replace(
            root=str(tmp_path / "home"),
            beam_pipeline_args=portable_beam_args(f"pool:localhost:{port}"))
        portable = local_runner.run(config)
    # The pool started the SDK workers, each a `python` process (one per Beam job: ExampleGen,
    # StatisticsGen, Transform, Evaluator).
    started = pool_log.read_text().count("Starting worker with command")
    assert started >= 4, pool_log.read_text()[-3000:]

    a, b = Path(memory_config.pipeline_root), Path(config.pipeline_root)
    report = {"worker_processes_started": started}
    for split in ("train", "eval"):
        diffs = _differences(_statistics(a, split), _statistics(b, split))
        assert diffs == [], diffs[:20]
        rows_a, rows_b = _transformed_rows(a, split), _transformed_rows(b, split)
        largest = _max_float_difference(rows_a, rows_b)
        assert largest <= ROW_FLOAT_TOL
        report[f"{split}_transformed_rows"] = len(rows_a)
        report[f"{split}_largest_float_difference"] = largest
    vocab_a, vocab_b = _vocabularies(a), _vocabularies(b)
    assert vocab_a == vocab_b and vocab_a
    report["vocabulary_files"] = len(vocab_a)

    metrics_a = {t.task.name: t.candidate for t in memory.tasks}
    metrics_b = {t.task.name: t.candidate for t in portable.tasks}
    assert metrics_a and set(metrics_a) == set(metrics_b)
    differences = {}
    for task, values in metrics_a.items():
        assert set(values) == set(metrics_b[task])
        for name, value in values.items():
            other = metrics_b[task][name]
            differences[f"{task}/{name}"] = abs(value - other)
            if "count" in name:
                assert value == other, (task, name, value, other)
            elif name == "auc":
                assert abs(value - other) <= AUC_TOL, (task, name, value, other)
            else:
                assert math.isclose(value, other, rel_tol=METRIC_REL_TOL), (task, name, value,
                                                                          other)
    report["tfma_in_memory"] = {t: {k: round(v, 6) for k, v in m.items()}
                                for t, m in metrics_a.items()}
    report["tfma_portable"] = {t: {k: round(v, 6) for k, v in m.items()}
                               for t, m in metrics_b.items()}
    report["tfma_largest_difference"] = max(differences.items(), key=lambda kv: kv[1])
    assert portable.blessed == memory.blessed
    print(json.dumps(report, sort_keys=True))
