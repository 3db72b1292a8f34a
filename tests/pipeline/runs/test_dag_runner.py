"""The component loop (pipeline.runs.dag_runner) on a two-component TFX pipeline: the lines
around each launch, TFX's cache, a failing component, and a TFX it cannot drive (the run
still completes, without the lines)."""

# No `from __future__ import annotations`: TFX reads the components' type hints.
import io
import re
import types

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as pipeline_lib
from tfx.types import standard_artifacts

from pipeline.core.metadata import readonly_store
from pipeline.runs import dag_runner, progress


@component
def Write(text: Parameter[str], out: OutputArtifact[standard_artifacts.String]):  # noqa: N802
    out.value = text


@component
def Check(fail: Parameter[int], out: OutputArtifact[standard_artifacts.String]):  # noqa: N802
    if fail:
        raise ValueError("the check failed")
    out.value = "ok"


def _pipeline(root, text="a", fail=0):
    write = Write(text=text)
    check = Check(fail=fail).with_id("Check")
    check.add_upstream_node(write)
    return pipeline_lib.Pipeline(
        pipeline_name="loop", pipeline_root=str(root / "root"), components=[write, check],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.db")))


def _run(root, **kwargs):
    out = io.StringIO()
    reporter = progress.RunReporter(out, total=2)
    dag_runner.ReportingDagRunner(reporter).run(_pipeline(root, **kwargs))
    reporter.close()
    return [re.sub(r" +\d+\.\d s", " S s", line) for line in out.getvalue().splitlines()]


def _states(root) -> list[str]:
    store = readonly_store(root / "metadata.db")
    names = metadata_store_pb2.Execution.State.Name
    return [names(e.last_known_state) for e in sorted(store.get_executions(), key=lambda e: e.id)]


def test_lines_around_each_launch_then_cached(tmp_path):
    assert _run(tmp_path) == [
        "[1/2] start   Write",
        "[1/2] done    Write S s",
        "[2/2] start   Check",
        "[2/2] done    Check S s"]
    assert _states(tmp_path) == ["COMPLETE", "COMPLETE"]
    assert _run(tmp_path)[1::2] == [
        "[1/2] cached  Write S s",
        "[2/2] cached  Check S s"]
    assert _states(tmp_path) == ["COMPLETE", "COMPLETE", "CACHED", "CACHED"]
    # A changed parameter runs that component again.
    assert _run(tmp_path, text="b")[1] == "[1/2] done    Write S s"


def test_a_failing_component_gets_its_line_and_the_error_propagates(tmp_path):
    out = io.StringIO()
    reporter = progress.RunReporter(out, total=2)
    with pytest.raises(ValueError, match="the check failed"):
        dag_runner.ReportingDagRunner(reporter).run(_pipeline(tmp_path, fail=1))
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("[2/2] FAILED  Check") and lines[-1].endswith("ValueError")
    assert _states(tmp_path) == ["COMPLETE", "FAILED"]


def test_a_tfx_it_cannot_drive_still_runs_the_pipeline(tmp_path, monkeypatch):
    """A TFX whose launcher takes other arguments: TFX's own loop runs every component, the
    reporter says why there are no component lines."""
    def changed_launcher(**kwargs):
        raise TypeError("Launcher() got an unexpected keyword argument 'pipeline_node'")

    monkeypatch.setattr(dag_runner, "launcher_lib", types.SimpleNamespace(
        Launcher=changed_launcher))
    lines = _run(tmp_path)
    assert lines == ["(this TFX version cannot report each component: running the pipeline "
                     "without per-component lines)"]
    assert _states(tmp_path) == ["COMPLETE", "COMPLETE"]
    store = readonly_store(tmp_path / "metadata.db")
    [check] = [a for a in store.get_artifacts() if "/Check/" in a.uri]
    assert open(check.uri).read() == "ok"


def test_an_outcome_it_cannot_read_costs_the_detail_only(tmp_path, monkeypatch):
    def unreadable(connection_config, execution_info):
        raise AttributeError("'ExecutionInfo' object has no attribute 'execution_id'")

    monkeypatch.setattr(dag_runner, "outcome", unreadable)
    assert _run(tmp_path)[1::2] == [
        "[1/2] done    Write S s",
        "[2/2] done    Check S s"]
    assert _states(tmp_path) == ["COMPLETE", "COMPLETE"]


def test_the_silent_loop_records_the_same_executions(tmp_path):
    pipeline = _pipeline(tmp_path)
    dag_runner.ReportingDagRunner().run(pipeline)
    assert _states(tmp_path) == ["COMPLETE", "COMPLETE"]
    store = readonly_store(tmp_path / "metadata.db")
    uris = sorted(a.uri for a in store.get_artifacts())
    assert [open(u).read() for u in uris] == ["ok", "a"]
