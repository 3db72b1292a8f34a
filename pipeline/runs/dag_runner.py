"""The component loop of a local run: TFX's LocalDagRunner, with a line around each launch.

`ReportingDagRunner` is a `LocalDagRunner` whose `run_with_ir` walks the compiled pipeline's
nodes in their (topological) order and launches each with TFX's public portable launcher
(`tfx.orchestration.portable.launcher.Launcher(...).launch()`), exactly as LocalDagRunner's
own loop does, so ML Metadata records the same executions. Around each launch it reports the
start, the end, the wall seconds and whether TFX reused a cached execution (read back from
ML Metadata), the rows StatisticsGen counted, the Tuner's trials, and the Trainer's (and each
tuning trial's) epochs, steps and loss (its Keras callback, models.progress).

A TFX release that changes what the loop builds on costs the lines, never the run: when the
loop cannot be set up (an import, a deployment config or a launcher it cannot build), TFX's
own loop runs the pipeline instead; a failure to read a launch's outcome costs that line's
detail only. Being a LocalDagRunner, the TFX CLI's `tfx pipeline create` (which intercepts
`LocalDagRunner.run` to record the pipeline) intercepts it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
from typing import Any

from tfx.dsl.compiler import constants
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.portable import launcher as launcher_lib
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2
from tfx.utils import telemetry_utils

from pipeline.runs import progress


@dataclasses.dataclass
class _Step:
    node_id: str
    node_type: str
    launcher: Any = None  # None: the node is marked to be skipped


@dataclasses.dataclass
class _Plan:
    connection_config: Any
    steps: list[_Step]


def plan(pipeline: pipeline_pb2.Pipeline) -> _Plan:
    """The launchers of every node, in order, for a pipeline IR whose run id is substituted.

    Builds every launcher before the first runs, so that a TFX that changed the pieces fails
    here, before anything ran, and the caller can fall back to TFX's own loop."""
    runtime_parameter_utils.substitute_runtime_parameter(
        pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: datetime.datetime.now().isoformat()})
    deployment = runner_utils.extract_local_deployment_config(pipeline)
    mlmd = deployment.metadata_connection_config
    connection_config = getattr(mlmd, mlmd.WhichOneof("connection_config"))
    steps = []
    for node in pipeline.nodes:
        pipeline_node = node.pipeline_node
        node_id = pipeline_node.node_info.id
        step = _Step(node_id, pipeline_node.node_info.type.name)
        if not pipeline_node.execution_options.HasField("skip"):
            step.launcher = launcher_lib.Launcher(
                pipeline_node=pipeline_node,
                mlmd_connection=metadata.Metadata(connection_config),
                pipeline_info=pipeline.pipeline_info,
                pipeline_runtime_spec=pipeline.runtime_spec,
                executor_spec=runner_utils.extract_executor_spec(deployment, node_id),
                custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment, node_id))
        steps.append(step)
    return _Plan(connection_config, steps)


def outcome(connection_config, execution_info) -> tuple[str, dict[str, list[str]]]:
    """(status, {output key: [uri, ...]}) of a finished launch, read from ML Metadata: cached
    when TFX reused an earlier execution, skipped when it registered none, FAILED when it
    recorded a failure without raising (inputs it could not resolve), done otherwise."""
    execution_id = getattr(execution_info, "execution_id", None)
    if not execution_id:
        return progress.SKIPPED, {}
    with metadata.Metadata(connection_config) as m:
        [execution] = m.store.get_executions_by_id([execution_id])
        events = m.store.get_events_by_execution_ids([execution_id])
        outputs = [e for e in events if e.type == e.OUTPUT and e.path.steps]
        uris = {a.id: a.uri for a in m.store.get_artifacts_by_id(
            sorted({e.artifact_id for e in outputs}))} if outputs else {}
    by_key: dict[str, list[str]] = {}
    for event in outputs:
        by_key.setdefault(event.path.steps[0].key, []).append(uris.get(event.artifact_id, ""))
    state = execution.last_known_state
    status = {execution.CACHED: progress.CACHED,
              execution.FAILED: progress.FAILED}.get(state, progress.DONE)
    return status, by_key


class ReportingDagRunner(LocalDagRunner):
    """LocalDagRunner that reports each component's launch to a `progress.RunReporter`
    (none: the same loop, silent)."""

    def __init__(self, reporter: progress.RunReporter | None = None):
        super().__init__()
        self.reporter = reporter

    def run_with_ir(self, pipeline: pipeline_pb2.Pipeline,
                    run_options: pipeline_pb2.RunOptions | None = None, **kwargs) -> None:
        if run_options is not None:  # a partial run: TFX's own loop, no lines
            return super().run_with_ir(pipeline, run_options=run_options, **kwargs)
        ours = pipeline_pb2.Pipeline()
        ours.CopyFrom(pipeline)
        try:
            planned = plan(ours)
        except Exception:  # noqa: BLE001 - a TFX we cannot drive still runs the pipeline
            logging.warning("cannot drive TFX's launcher here: TFX's LocalDagRunner runs the "
                            "pipeline, without per-component lines", exc_info=True)
            if self.reporter:
                self.reporter.say("(this TFX version cannot report each component: running "
                                  "the pipeline without per-component lines)")
            return super().run_with_ir(pipeline, **kwargs)
        with telemetry_utils.scoped_labels({telemetry_utils.LABEL_TFX_RUNNER: "local"}):
            for step in planned.steps:
                self._run_step(step, planned.connection_config)
        return None

    def _run_step(self, step: _Step, connection_config) -> None:
        reporter = self.reporter
        if step.launcher is None:
            logging.info("Skipping component %s.", step.node_id)
            if reporter:
                reporter.start(step.node_id)
                reporter.end(progress.SKIPPED)
            return
        logging.info("Component %s is running.", step.node_id)
        progress.keep_absl_info()
        if reporter:
            reporter.start(step.node_id)
        training = None
        try:
            with self._watching(step.node_type) as training, progress.profiled(step.node_id):
                info = step.launcher.launch()
        except BaseException as error:
            if reporter:
                reporter.failed(error)
            raise
        progress.keep_absl_info()
        logging.info("Component %s is finished.", step.node_id)
        if not reporter:
            return
        try:
            status, outputs = outcome(connection_config, info)
        except Exception:  # noqa: BLE001 - a line's detail never fails the run
            logging.exception("could not read the outcome of %s from ML Metadata", step.node_id)
            status, outputs = progress.DONE, {}
        detail = progress.rows_detail(step.node_type, outputs)
        if training is not None and status == progress.DONE and not detail:
            detail = progress.trainer_detail(outputs) or training.detail()
        reporter.end(status, detail)

    @contextlib.contextmanager
    def _watching(self, node_type: str):
        """The live status while a node runs; yields the Trainer's `TrainingStatus` (or None)."""
        reporter = self.reporter
        if reporter is None:
            yield None
            return
        if node_type.endswith(("Trainer", "Tuner")):
            # Lazy: the callback's module imports Keras, which only the Trainer (and the
            # Tuner's trials) need.
            from models.progress import listening

            training = progress.TrainingStatus(reporter)
            with listening(training):
                yield training
            return
        if node_type.endswith(progress.BEAM_NODE_SUFFIXES) and reporter.live:
            watch = progress.BeamWatch()
            reporter.status(watch.status)
            with watch.hooked():
                yield None
            return
        yield None
