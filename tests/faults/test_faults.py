"""The fault suite: bad data, bad models, crashes, concurrent runs and bad requests.

Every case starts from a copy of one healthy home with a pushed model (`conftest.py`) and
asserts a clear error (or the correct handling), no push, and an intact `serving/`. The case
list, with the behaviour each test asserts, is `cases.CASES` (rendered into the docs: Bad data and faults).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.support import default_problem as features
from tests.support.faults import (
    BAD_SPAN_EXAMPLES,
    MIN_SPAN_EXAMPLES,
    append_span,
    cli_args,
    fault_config,
    tree_digest,
)

pytestmark = pytest.mark.e2e

GATED = ("Transform", "Trainer", "Evaluator", "Pusher")


def _run_cli(argv: list[str], capsys) -> tuple[int, str]:
    from pipeline.cli import main as cli

    rc = cli.main(argv)
    return rc, capsys.readouterr().err


def _latest_states(config) -> dict[str, str]:
    from pipeline.monitoring import summary as summary_lib

    return {c.node_id: c.state for c in summary_lib.summarize_latest_run(config).components}


def _assert_refused_by_the_gate(config, digest, capsys, *needles: str,
                                run_flags: tuple[str, ...] = ()) -> str:
    """`mtl run` exits 4 naming each needle; the gate failed, nothing after it ran or pushed."""
    rc, err = _run_cli(cli_args(config.home, *run_flags), capsys)
    assert rc == 4, err
    assert "failed validation against the curated schema" in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"
    states = _latest_states(config)
    assert states["ExampleValidator"] == "COMPLETE", states
    assert states["AnomaliesGate"] == "FAILED", states
    assert not set(GATED) & set(states), states
    assert tree_digest(config.home / "serving") == digest
    return err


def _columns_map(name, fn):
    def mutate(columns):
        columns[name] = fn(columns[name])
        return columns
    return mutate


# --- files ---------------------------------------------------------------------------------------

def test_corrupt_tfrecord_file(fault_home, capsys):
    config, digest = fault_home
    span = append_span(config)
    path = next(span.glob("*.tfrecord.gz"))
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])  # truncated mid-stream
    rc, err = _run_cli(cli_args(config.home), capsys)
    assert rc == 4, err
    assert str(path) in err and "truncated or corrupt" in err, err
    assert tree_digest(config.home / "serving") == digest
    # Refused before any component ran: no new pipeline run was recorded.
    assert _latest_states(config).get("Pusher") == "COMPLETE"  # still the baseline's run


def test_empty_span_folder(fault_home, capsys):
    config, digest = fault_home
    (config.data_dir / "span-2").mkdir()
    rc, err = _run_cli(cli_args(config.home), capsys)
    assert rc == 4, err
    assert f"{config.data_dir / 'span-2'} is the newest span but holds no" in err, err
    assert tree_digest(config.home / "serving") == digest


# --- data validated against the curated schema ----------------------------------------------------

def test_span_with_a_feature_missing(fault_home, capsys):
    config, digest = fault_home
    append_span(config, _columns_map("item_ctr_7d", lambda col: [None] * len(col)))
    _assert_refused_by_the_gate(config, digest, capsys, "feature 'item_ctr_7d'",
                                "present in 100% of examples")


def test_feature_with_the_wrong_dtype(fault_home, capsys):
    config, digest = fault_home
    span = append_span(config, _columns_map("user_age", lambda col: [str(v) for v in col]))
    rc, err = _run_cli(cli_args(config.home), capsys)
    assert rc == 4, err
    path = next(span.glob("*.tfrecord.gz"))
    assert (f"{path}: feature 'user_age' holds string values (bytes_list) in "
            f"{BAD_SPAN_EXAMPLES} of its {BAD_SPAN_EXAMPLES} records (the first: record 0); "
            f"expected int values (int64_list), as the curated schema ") in err, err
    assert "Traceback" not in err
    assert tree_digest(config.home / "serving") == digest
    # Refused before any component ran: no new pipeline run was recorded.
    assert _latest_states(config).get("Pusher") == "COMPLETE"  # still the baseline's run


def test_numerics_with_nan_or_inf(fault_home, capsys):
    config, digest = fault_home

    def poison(col):
        col = np.array(col, dtype=np.float32)
        col[::40] = np.nan
        col[1::40] = np.inf
        return col

    append_span(config, _columns_map("price", poison))
    err = _assert_refused_by_the_gate(config, digest, capsys, "feature 'price'", "finite")
    assert "NaN" in err or "nan" in err.lower(), err


def test_binary_label_outside_its_range(fault_home, capsys):
    config, digest = fault_home

    def two(col):
        col = np.array(col)
        col[::25] = 2
        return col

    append_span(config, _columns_map("click", two))
    _assert_refused_by_the_gate(config, digest, capsys, "feature 'click'", "values in [-1, 1]")


def test_task_with_all_labels_missing(fault_home, capsys):
    config, digest = fault_home
    append_span(config, _columns_map("like", lambda col: np.full(len(col), -1, np.int64)))
    _assert_refused_by_the_gate(config, digest, capsys, "feature 'like'", "every label is missing")


def test_optional_task_enabled_on_data_without_its_label(fault_home, capsys):
    config, digest = fault_home
    append_span(config)  # a healthy span, generated without engagement_level
    _assert_refused_by_the_gate(config, digest, capsys, "feature 'engagement_level'",
                                "absent from every example, but the run trains its task",
                                run_flags=("--with-task", "engagement_level"))


def test_large_drift(fault_home, capsys):
    config, digest = fault_home
    append_span(config, _columns_map("price", lambda col: np.asarray(col) * 10.0))
    _assert_refused_by_the_gate(config, digest, capsys, "feature 'price'", "distribution drift",
                                "Jensen-Shannon divergence to the reference")


def test_span_with_too_few_examples(fault_home, capsys):
    config, digest = fault_home
    append_span(config, examples=30)
    err = _assert_refused_by_the_gate(config, digest, capsys, "the span has 30 examples",
                                      f"fewer than the {MIN_SPAN_EXAMPLES} required")
    assert "drift" not in err, err  # the count, not its noise


def test_a_label_with_one_value_in_the_span(fault_home, capsys):
    config, digest = fault_home
    append_span(config, _columns_map("click", lambda col: np.ones(len(col), np.int64)))
    _assert_refused_by_the_gate(config, digest, capsys, "feature 'click'",
                                "the label has a single observed value in this span",
                                f"all {BAD_SPAN_EXAMPLES} observed labels are 1")


# --- models, crashes, concurrency -------------------------------------------------------------

def test_regressed_model_is_not_pushed(fault_home):
    """An untrained candidate (learning rate 0) against the blessed baseline: refused."""
    from models.hparams import ModelHParams
    from pipeline.runs import local as local_runner

    config, digest = fault_home
    bad = fault_config(config.home, hparams=ModelHParams(
        epochs=1, batch_size=128, seed=7, learning_rate=0.0, steps_per_epoch=2))
    summary = local_runner.run(bad)
    states = {c.node_id: c.state for c in summary.components}
    assert states["Transform"] == "CACHED" and states["Trainer"] == "COMPLETE", states
    assert summary.blessed is False, summary.format()
    assert any("'click'" in f for f in summary.failures), summary.failures
    assert not summary.pushed
    assert tree_digest(config.home / "serving") == digest


def _wait_for(predicate, timeout: float, what: str, proc) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"mtl run exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def _unseen_categories(columns):
    """Every 25th row: a category and an item id that no span ever had (4%)."""
    n = len(columns["category"])
    for i in range(0, n, 25):
        columns["category"][i] = f"c_new_{i}"
        columns["item_id"][i] = f"i_new_{i}"
    return columns


def test_killed_run_resumes_and_concurrent_run_is_refused(fault_home, capsys):
    """A span with unseen categories; `mtl run` is SIGKILLed during the Trainer (a second run
    meanwhile is refused), then run again: it resumes from the cache and finishes."""
    from ml_metadata.proto import metadata_store_pb2

    from pipeline.cli import run_flags
    from pipeline.core import metadata
    from pipeline.monitoring import summary as summary_lib
    from pipeline.runs import local as local_runner

    config, digest = fault_home
    append_span(config, _unseen_categories)
    trainer_dir = config.pipeline_root / "Trainer" / "model"
    before = set(os.listdir(trainer_dir)) if trainer_dir.exists() else set()
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *cli_args(config.home)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    try:
        _wait_for(lambda: (config.home / ".mtl.lock").exists()
                  and (config.home / ".mtl.lock").read_text().strip() == str(proc.pid),
                  120, "the lock", proc)
        # Two runs on one home: the second is refused at once, naming the holder.
        rc, err = _run_cli(cli_args(config.home), capsys)
        assert rc == 2 and f"is in use by another mtl run (pid {proc.pid})" in err, err
        # Kill it during the Trainer (its output folder appears when it starts).
        _wait_for(lambda: trainer_dir.exists() and set(os.listdir(trainer_dir)) - before,
                  600, "the Trainer", proc)
        time.sleep(2.0)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    assert tree_digest(config.home / "serving") == digest  # nothing partial

    killed = summary_lib.summarize_latest_run(config)
    killed_states = {c.node_id: c.state for c in killed.components}
    assert killed_states["AnomaliesGate"] == "COMPLETE", killed_states  # unseen ids: no anomaly
    assert killed_states["Transform"] == "COMPLETE", killed_states
    assert killed_states["Trainer"] == "RUNNING", killed_states
    assert "Pusher" not in killed_states

    resumed = local_runner.run(run_flags.run_config(cli_args(config.home)[1:]))
    states = {c.node_id: c.state for c in resumed.components}
    for node in ("ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                 "AnomaliesGate", "Transform"):
        assert states[node] == "CACHED", states
    for node in ("Trainer", "Evaluator", "Pusher"):
        assert states[node] == "COMPLETE", states
    assert resumed.blessed is not None and all(np.isfinite(tm.gate_value) for tm in resumed.tasks)

    # ML Metadata: the killed Trainer never became COMPLETE, so nothing reused its output.
    store = metadata.readonly_store(config.metadata_path)
    trainer_type = next(t.name for t in store.get_execution_types()
                        if t.name.rsplit(".", 1)[-1] == "Trainer")
    trainer_runs = store.get_executions_by_type(trainer_type)
    states_seen = sorted(metadata_store_pb2.Execution.State.Name(e.last_known_state)
                         for e in trainer_runs)
    assert states_seen.count("RUNNING") == 1, states_seen
    # serving/: the baseline's version untouched, every version complete.
    after = tree_digest(config.home / "serving")
    assert {k: v for k, v in after.items() if k in digest} == digest
    versions = [v for v in os.listdir(config.serving_dir) if v.isdigit()]  # what TF Serving loads
    for version in versions:
        assert (config.serving_dir / version / "saved_model.pb").exists(), version
    if resumed.pushed:
        assert resumed.blessed and os.path.exists(os.path.join(resumed.pushed_path, "saved_model.pb"))
    else:
        assert sorted(versions) == sorted({k.split(os.sep)[1] for k in digest})


# --- serving -------------------------------------------------------------------------------------

def test_serving_survives_bad_requests(baseline_home, fault_home):
    import tensorflow as tf

    _, summary, _, _ = baseline_home
    config, _ = fault_home
    serve = tf.saved_model.load(summary.pushed_path).signatures["serving_default"]
    files = sorted(str(p) for p in (config.data_dir / "span-1").glob("*.tfrecord.gz"))
    good = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(4):
        example = tf.train.Example.FromString(record.numpy())
        for key in features.LABEL_KEYS:
            if key in example.features.feature:  # an optional label may be absent
                del example.features.feature[key]
        good.append(example)
    reference = serve(examples=tf.constant([e.SerializeToString() for e in good]))

    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(examples=tf.constant([b"\x00\xffnot a tf.Example\x13"]))
    wrong = tf.train.Example()
    wrong.CopyFrom(good[0])
    wrong.features.feature["price"].Clear()
    wrong.features.feature["price"].bytes_list.value.append(b"12.5")
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(examples=tf.constant([wrong.SerializeToString()]))

    # NaN and infinity take the default (0), exactly like an absent price.
    variants = {}
    for name, value in (("nan", float("nan")), ("inf", float("inf")), ("zero", 0.0)):
        example = tf.train.Example()
        example.CopyFrom(good[0])
        example.features.feature["price"].float_list.value[:] = [value]
        variants[name] = example.SerializeToString()
    absent = tf.train.Example()
    absent.CopyFrom(good[0])
    del absent.features.feature["price"]
    variants["absent"] = absent.SerializeToString()
    out = serve(examples=tf.constant([variants[k] for k in ("nan", "inf", "zero", "absent")]))
    for task in features.TASKS:
        values = out[task.name].numpy()
        assert np.isfinite(values).all(), (task.name, values)
        np.testing.assert_allclose(values, values[2], rtol=1e-5)

    # The model still serves after the bad requests, with the same scores.
    again = serve(examples=tf.constant([e.SerializeToString() for e in good]))
    for task in features.TASKS:
        np.testing.assert_allclose(again[task.name].numpy(), reference[task.name].numpy())
