"""Runs a compiled KFP package on this machine the way its pods run it, to check the package
before uploading it:

  mtl kfp compile --output mtl.yaml -- --root "$PWD/home" --epochs 1
  mtl kfp run-local --package mtl.yaml

Each container task runs as its own process with the command and arguments of the package's
`deploymentSpec`, in dependency order (`dependentTasks` and the producers of its input
artifacts). Before a task starts, this module does what the KFP driver and launcher do for a pod:

- builds the task's `ExecutorInput` (the JSON that replaces the `{{$}}` argument): its constant
  parameters as the package holds them (`runtimeValue.constantValue` goes to `inputs.parameters`,
  `runtimeValue.constant` to `inputs.parameterValues`), its input artifacts as recorded from their
  producers' outputs (name, URI, type, metadata), and one output artifact per output key with a
  URI under `<pipeline root>/<pipeline name>/<run id>/<task>/<key>`; `outputs.outputFile` is the
  pod's private output metadata file (here `<task folder>/.pod/tmp/kfp_outputs/...`);
- runs the container's `lifecycle.preCacheCheck` first when it has one (ImportExampleGen's span
  driver) and applies the execution properties it writes to the task's parameters, as the
  pipelines service does before it runs the executor;
- after the task, reads the `ExecutorOutput` the entrypoint wrote and records each output
  artifact (the provisioned URI and name, with the URI and metadata the executor reported), for
  the tasks downstream.

What a pod has that this machine has not, and what stands in for it:

- The image: `python` in a command is this interpreter, and string parameters that name a path
  inside the image's site-packages (the packaged curated schema) are read from the local
  install's site-packages (`image_paths`). The project must be importable from the environment
  the tasks inherit (a wheel install, or PYTHONPATH).
- The volume: the package mounts the home at its `--root`; here that folder must exist at the
  same path (compile with a local `--root`).
- STUB: the resolver tasks. On KFP a `resolver` executor queries ML Metadata with the filters of
  its `outputArtifactQueries` (the latest blessed model's ModelBlessing, then its Model); there
  is no metadata store of past KFP runs here, so every query resolves to no artifact, the answer
  of a first run (no blessed model yet): the Evaluator gets no baseline.
- Caching (`cachingOptions.enableCache`) is not reproduced: every task runs.

Any other kind of step or placeholder stops the run with an error that names it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubeflow.compile import IMAGE_SITE_PACKAGES

# The KFP launcher's fixed output metadata path inside a pod (kfp backend: component.
# OutputMetadataFilepath); TFX's entrypoint uses its folder as the task's temporary folder.
POD_OUTPUT_FILE = "tmp/kfp_outputs/output_metadata.json"
EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
SUMMARY_FILE = "local_run.json"
RESOLVER_STUB = "stub: no metadata store of past runs, every query resolves to no artifact"


class PackageError(ValueError):
    """The package holds something this runner cannot run faithfully."""


@dataclass
class TaskRun:
    """One executed task: `kind` is "container" (a process ran, `exit_code` is its status) or
    "resolver" (stubbed, no process: `exit_code` is None)."""

    name: str
    kind: str
    exit_code: int | None
    seconds: float
    log: str | None = None
    note: str = ""
    outputs: dict[str, list[dict]] = field(default_factory=dict)


@dataclass
class LocalRun:
    run_id: str
    run_dir: str
    tasks: list[TaskRun]
    failed: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None

    def output(self, task: str, key: str) -> dict | None:
        """The single artifact `task` recorded under `key`, or None."""
        for run in self.tasks:
            if run.name == task and run.outputs.get(key):
                return run.outputs[key][0]
        return None


def load_package(path: str | os.PathLike) -> tuple[dict, dict | None]:
    """(PipelineSpec, Kubernetes platform document or None) of a `mtl kfp compile` package."""
    import yaml

    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    if not docs or "deploymentSpec" not in docs[0] or "root" not in docs[0]:
        raise PackageError(f"{path}: not a KFP pipeline package (no deploymentSpec/root)")
    return docs[0], (docs[1] if len(docs) > 1 else None)


def task_order(spec: dict) -> list[str]:
    """The root DAG's tasks in an order where every task comes after the tasks it depends on
    (`dependentTasks` and the producers of its input artifacts); ties in name order."""
    tasks = spec["root"]["dag"]["tasks"]
    needs = {}
    for name, task in tasks.items():
        deps = set(task.get("dependentTasks", []))
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            if "taskOutputArtifact" in source:
                deps.add(source["taskOutputArtifact"]["producerTask"])
        unknown = deps - set(tasks)
        if unknown:
            raise PackageError(f"task {name} depends on unknown tasks {sorted(unknown)}")
        needs[name] = deps
    order, done = [], set()
    while len(order) < len(tasks):
        ready = sorted(n for n in tasks if n not in done and needs[n] <= done)
        if not ready:
            raise PackageError(f"the tasks {sorted(set(tasks) - done)} depend on each other")
        order.append(ready[0])
        done.add(ready[0])
    return order


def _map_image_path(value, image_paths: dict[str, str]):
    if not isinstance(value, str):
        return value
    for image_dir, local_dir in image_paths.items():
        if value == image_dir or value.startswith(image_dir.rstrip("/") + "/"):
            return local_dir.rstrip("/") + value[len(image_dir.rstrip("/")):]
    return value


def _legacy_value(value) -> dict:
    """A JSON value as the legacy `pipelinespec.Value` of `inputs.parameters`."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"intValue": str(int(value))}
    if isinstance(value, (int, float)) and float(value).is_integer():
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": json.dumps(value)}


def _parameters(name: str, task: dict, image_paths: dict[str, str]) -> tuple[dict, dict]:
    """(inputs.parameters, inputs.parameterValues) of `task`'s constant parameters."""
    legacy, values = {}, {}
    for key, source in task.get("inputs", {}).get("parameters", {}).items():
        runtime = source.get("runtimeValue", {})
        if "constantValue" in runtime:
            value = dict(runtime["constantValue"])
            if "stringValue" in value:
                value["stringValue"] = _map_image_path(value["stringValue"], image_paths)
            legacy[key] = value
        elif "constant" in runtime:
            values[key] = _map_image_path(runtime["constant"], image_paths)
        else:
            raise PackageError(f"task {name}: parameter {key} is {sorted(source)}; only constant "
                               "parameters are supported (no pipeline or task-output parameters)")
    return legacy, values


def _check_placeholders(name: str, args: list[str]) -> None:
    for arg in args:
        if arg != EXECUTOR_INPUT_PLACEHOLDER and re.search(r"\{\{\$[^}]*\}\}", arg):
            raise PackageError(f"task {name}: argument {arg!r} holds a placeholder other than "
                               f"{EXECUTOR_INPUT_PLACEHOLDER}, which this runner does not resolve")


def _validate_executor_input(name: str, executor_input: dict) -> None:
    """Parses the JSON strictly as the KFP `ExecutorInput` message, as the entrypoint will."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    try:
        json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput(),
                              ignore_unknown_fields=False)
    except json_format.ParseError as e:
        raise PackageError(f"task {name}: the executor input is not a valid ExecutorInput: {e}")\
            from None


def _command(parts: list[str], executor_input: dict, python: str) -> list[str]:
    payload = json.dumps(executor_input, sort_keys=True)
    parts = [payload if p == EXECUTOR_INPUT_PLACEHOLDER else p for p in parts]
    if parts and parts[0] in ("python", "python3"):
        parts = [python, *parts[1:]]
    return parts


def _run_process(cmd: list[str], cwd: Path, env: dict, log_path: Path, echo: bool) -> int:
    with open(log_path, "ab") as log:
        log.write(("$ " + " ".join(cmd[:4]) + " ...\n").encode())
        log.flush()
        if echo:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
            for line in proc.stdout:
                log.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            return proc.wait()
        return subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def _read_executor_output(path: Path) -> dict:
    if not path.is_file():
        return {}
    with open(path) as f:
        return json.load(f)


def _merge_outputs(provisioned: dict, executor_output: dict) -> dict[str, list[dict]]:
    """The launcher's record of the outputs: each provisioned artifact, with the URI and the
    metadata the executor reported for it."""
    recorded = {}
    for key, artifact_list in provisioned.items():
        artifacts = copy.deepcopy(artifact_list["artifacts"])
        reported = executor_output.get("artifacts", {}).get(key, {}).get("artifacts", [])
        for artifact, report in zip(artifacts, reported):
            if report.get("uri"):
                artifact["uri"] = report["uri"]
            if report.get("metadata"):
                artifact.setdefault("metadata", {}).update(report["metadata"])
        recorded[key] = artifacts
    return recorded


def _apply_pre_cache_check(executor_input: dict, output: dict) -> None:
    """The execution properties a pre-cache check wrote become the task's parameters (in both
    forms: the entrypoint of a schema 2.0 package reads `inputs.parameters`), and the artifact
    properties it computed go to the provisioned output artifacts."""
    inputs = executor_input["inputs"]
    for key, value in output.get("parameterValues", {}).items():
        inputs.setdefault("parameterValues", {})[key] = value
        inputs.setdefault("parameters", {})[key] = _legacy_value(value)
    for key, artifact_list in output.get("artifacts", {}).items():
        provisioned = executor_input["outputs"]["artifacts"].get(key, {}).get("artifacts", [])
        for artifact, report in zip(provisioned, artifact_list.get("artifacts", [])):
            if report.get("metadata"):
                artifact.setdefault("metadata", {}).update(report["metadata"])


def check_volumes(platform: dict | None) -> list[str]:
    """The home folders the package mounts; each must exist here at the same path."""
    mounts = set()
    executors = ((platform or {}).get("platforms", {}).get("kubernetes", {})
                 .get("deploymentSpec", {}).get("executors", {}))
    for config in executors.values():
        for mount in config.get("pvcMount", []):
            mounts.add(mount["mountPath"])
    missing = sorted(m for m in mounts if not os.path.isdir(m))
    if missing:
        raise PackageError(f"the package mounts the home at {missing}, which does not exist here: "
                           "compile with `--root` set to a local home (holding data/span-<N>/)")
    return sorted(mounts)


def default_pipeline_root(platform: dict | None) -> str:
    """<home>/pipeline_root, as `mtl kfp submit` sends it, for a package mounting one home."""
    mounts = check_volumes(platform)
    if len(mounts) != 1:
        raise PackageError(f"the package mounts {len(mounts)} folders ({mounts}): give the "
                           "pipeline root explicitly")
    return os.path.join(mounts[0], "pipeline_root")


def check_package(spec: dict) -> list[str]:
    """The task order, after checking that every step is one this runner can run faithfully:
    container steps whose arguments hold no placeholder but `{{$}}`, whose parameters are
    constants and whose input artifacts come from upstream tasks, and resolver steps (stubbed)."""
    order = task_order(spec)
    executors = spec["deploymentSpec"]["executors"]
    for name in order:
        task = spec["root"]["dag"]["tasks"][name]
        executor = executors[spec["components"][task["componentRef"]["name"]]["executorLabel"]]
        if "resolver" in executor:
            continue
        if "container" not in executor:
            raise PackageError(f"task {name}: executor kind {sorted(executor)} is not supported "
                               "(container and resolver steps only)")
        container = executor["container"]
        hook = container.get("lifecycle", {}).get("preCacheCheck", {})
        for parts in (container.get("command", []) + container.get("args", []),
                      hook.get("command", []) + hook.get("args", [])):
            _check_placeholders(name, parts)
        _parameters(name, task, {})
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            if "taskOutputArtifact" not in source:
                raise PackageError(f"task {name}: input artifact {key} is {sorted(source)}; "
                                   "only artifacts of upstream tasks are supported")
    return order


def run_package(package: str | os.PathLike, pipeline_root: str | None = None,
                run_id: str | None = None, image_paths: dict[str, str] | None = None,
                python: str = sys.executable, env: dict | None = None,
                echo: bool = False, on_task=None) -> LocalRun:
    """Runs every task of `package` (see the module docstring); stops at the first failing task.

    `image_paths` maps folders inside the image to local folders (default: the image's
    site-packages to the one this project is installed in). The tasks inherit `env` (default
    this process's). `on_task(TaskRun)` is called after each task. Writes `SUMMARY_FILE` in the
    run's folder and returns the run.
    """
    spec, platform = load_package(package)
    check_volumes(platform)
    if pipeline_root is None:
        pipeline_root = default_pipeline_root(platform)
    if image_paths is None:
        image_paths = {IMAGE_SITE_PACKAGES: str(Path(__file__).resolve().parents[1])}
    env = dict(os.environ if env is None else env)
    run_id = run_id or time.strftime("local-%Y%m%d-%H%M%S")
    pipeline_name = spec.get("pipelineInfo", {}).get("name", "pipeline")
    run_dir = Path(os.path.abspath(pipeline_root)) / pipeline_name / run_id
    if run_dir.exists():
        raise PackageError(f"{run_dir} exists: pick another run id")
    order = check_package(spec)
    run_dir.mkdir(parents=True)
    executors = spec["deploymentSpec"]["executors"]
    components = spec["components"]
    tasks = spec["root"]["dag"]["tasks"]
    recorded: dict[str, dict[str, list[dict]]] = {}
    run = LocalRun(run_id=run_id, run_dir=str(run_dir), tasks=[])

    for name in order:
        task = tasks[name]
        component = components[task["componentRef"]["name"]]
        executor = executors[component["executorLabel"]]
        outputs_spec = component.get("outputDefinitions", {}).get("artifacts", {})
        start = time.monotonic()
        if "resolver" in executor:
            # STUB (see the module docstring): no metadata store to query.
            recorded[name] = {key: [] for key in executor["resolver"]["outputArtifactQueries"]}
            result = TaskRun(name, "resolver", None, 0.0, note=RESOLVER_STUB,
                             outputs=recorded[name])
        else:
            result = _run_container(name, task, executor["container"], outputs_spec, recorded,
                                    run_dir, run_id, image_paths, python, env, echo)
            recorded[name] = result.outputs
        result.seconds = round(time.monotonic() - start, 1)
        run.tasks.append(result)
        if on_task is not None:
            on_task(result)
        if result.exit_code not in (None, 0):
            run.failed = name
            break
    with open(run_dir / SUMMARY_FILE, "w") as f:
        json.dump(asdict(run), f, indent=2, sort_keys=True)
    return run


def _run_container(name, task, container, outputs_spec, recorded, run_dir, run_id, image_paths,
                   python, env, echo) -> TaskRun:
    task_dir = run_dir / name
    pod = task_dir / ".pod"  # the pod's own filesystem: its working folder and /tmp
    pod.mkdir(parents=True)
    legacy, values = _parameters(name, task, image_paths)
    inputs: dict = {"artifacts": {}}
    if legacy:
        inputs["parameters"] = legacy
    if values:
        inputs["parameterValues"] = values
    for key, source in task.get("inputs", {}).get("artifacts", {}).items():
        producer = source["taskOutputArtifact"]
        inputs["artifacts"][key] = {
            "artifacts": copy.deepcopy(recorded[producer["producerTask"]].get(
                producer["outputArtifactKey"], []))}
    provisioned = {
        key: {"artifacts": [{"name": f"{run_id}/{name}/{key}", "uri": str(task_dir / key),
                             "type": output["artifactType"], "metadata": {}}]}
        for key, output in outputs_spec.items()}
    executor_input = {"inputs": inputs,
                      "outputs": {"artifacts": provisioned,
                                  "outputFile": str(pod / POD_OUTPUT_FILE)}}
    log_path = task_dir / "task.log"
    task_env = dict(env)
    hook = container.get("lifecycle", {}).get("preCacheCheck")
    if hook:
        parts = list(hook.get("command", [])) + list(hook.get("args", []))
        _validate_executor_input(name, executor_input)
        code = _run_process(_command(parts, executor_input, python), pod, task_env, log_path,
                            echo)
        if code != 0:
            return TaskRun(name, "container", code, 0.0, str(log_path),
                           note="its preCacheCheck failed")
        _apply_pre_cache_check(executor_input, _read_executor_output(pod / POD_OUTPUT_FILE))
    parts = list(container.get("command", [])) + list(container.get("args", []))
    _validate_executor_input(name, executor_input)
    with open(task_dir / "executor_input.json", "w") as f:
        json.dump(executor_input, f, indent=2, sort_keys=True)
    code = _run_process(_command(parts, executor_input, python), pod, task_env, log_path, echo)
    outputs = {}
    if code == 0:
        outputs = _merge_outputs(executor_input["outputs"]["artifacts"],
                                 _read_executor_output(pod / POD_OUTPUT_FILE))
    return TaskRun(name, "container", code, 0.0, str(log_path), outputs=outputs)
