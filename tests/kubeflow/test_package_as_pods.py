"""The Kubeflow package, run as its pods run it, until the Pusher writes a model.

The project is built as a wheel and installed without `-e` (tests/support/wheel.py), as
kubeflow/Dockerfile installs it; from outside the checkout the installed `mtl` generates a small
span into a local home, compiles the package with that home as `--root`, and runs it with
`mtl kfp run-local` (kubeflow/local_runner.py): every task of the package, in dependency order,
as its own process with the container's command and arguments from the package, that is TFX's
Kubeflow V2 entrypoint (`kubeflow_v2_run_executor`) reading the `ExecutorInput` JSON a KFP launcher
would pass, with artifact URIs under the home's pipeline root.

Stand-ins for what a pod has and this machine has not (kubeflow/local_runner.py says more): the
image's `python` is this interpreter and the image's site-packages is the wheel's install folder
(the packaged curated schema is read there); the home volume is the local home at the same path.

STUB: the two resolver steps of the latest-blessed-model resolver. On KFP they query ML Metadata
for the latest blessed model; there is no metadata store of past KFP runs here, so they resolve
to no artifact, as on a first run (no blessed model yet): the Evaluator runs without a baseline.
"""

from __future__ import annotations

import json

import pytest

from tests.support.pipelines import naive_flags, small_data_gates
from tests.support.wheel import build_and_install, run

# The wheel's small run's loosened bounds (tests/packaging/test_wheel.py): this test checks the
# mechanics of the package, not the quality of a model trained on 3,000 examples.
LOOSE = {"click": 0.3, "conversion": 0.3, "watch_time": 200.0, "like": 0.3}
EXAMPLES = 3000
RUN_ID = "first"
RESOLVERS = {"latest_blessed_model_resolver-model-blessing-resolver",
             "latest_blessed_model_resolver-model-resolver"}


@pytest.fixture(scope="module")
def package_run(tmp_path_factory):
    """(package spec, local run summary, home, wheel install folder) after running the whole
    package once."""
    import yaml

    inst = build_and_install(tmp_path_factory.mktemp("pods"))
    home = inst.work / "home"
    run([inst.mtl, "generate-data", "--out", str(home / "data"), "--examples", str(EXAMPLES),
         "--seed", "7"], inst.env, inst.work)
    package = inst.work / "mtl.yaml"
    flags = ["--root", str(home), "--epochs", "1", "--batch-size", "128", "--seed", "7"]
    for task, bound in LOOSE.items():
        flags += ["--threshold", f"{task}={bound}"]
    flags += naive_flags(small_data_gates(LOOSE))
    run([inst.mtl, "kfp", "compile", "--output", str(package), "--", *flags], inst.env, inst.work)
    out = run([inst.mtl, "kfp", "run-local", "--package", str(package), "--run-id", RUN_ID],
              inst.env, inst.work, timeout=1800)
    spec = next(yaml.safe_load_all(package.read_text()))
    summary_path = home / "pipeline_root" / "mtl" / RUN_ID / "local_run.json"
    summary = json.loads(summary_path.read_text())
    print(f"\ncompiled package: {len(spec['root']['dag']['tasks'])} tasks; executed in order:")
    for task in summary["tasks"]:
        status = "stub" if task["exit_code"] is None else f"exit {task['exit_code']}"
        print(f"  {task['name']:<55} {task['kind']:<9} {status:<7} {task['seconds']:6.1f} s")
    assert f"ran {len(summary['tasks'])} tasks" in out
    return spec, summary, home, inst.site


def _output(summary: dict, task: str, key: str) -> dict:
    [record] = [t for t in summary["tasks"] if t["name"] == task]
    [artifact] = record["outputs"][key]
    return artifact


@pytest.mark.e2e
def test_every_compiled_task_runs_in_dependency_order(package_run):
    spec, summary, _, _ = package_run
    tasks = spec["root"]["dag"]["tasks"]
    executed = [t["name"] for t in summary["tasks"]]
    assert sorted(executed) == sorted(tasks) and summary["failed"] is None
    position = {name: i for i, name in enumerate(executed)}
    for name, task in tasks.items():
        upstream = set(task.get("dependentTasks", []))
        upstream |= {a["taskOutputArtifact"]["producerTask"]
                     for a in task.get("inputs", {}).get("artifacts", {}).values()}
        assert all(position[u] < position[name] for u in upstream), (name, upstream)
    executors = spec["deploymentSpec"]["executors"]
    for task in summary["tasks"]:
        executor = executors[spec["components"][tasks[task["name"]]["componentRef"]["name"]][
            "executorLabel"]]
        if task["name"] in RESOLVERS:
            assert "resolver" in executor and task["kind"] == "resolver"
            assert task["exit_code"] is None and task["note"].startswith("stub")
            assert all(v == [] for v in task["outputs"].values())
        else:
            # TFX's Kubeflow V2 entrypoint, as the package's container command says.
            assert executor["container"]["command"][-1] == (
                "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor")
            assert task["kind"] == "container" and task["exit_code"] == 0, task


@pytest.mark.e2e
def test_artifacts_flow_between_tasks_through_the_executor_outputs(package_run):
    _, summary, home, site = package_run
    run_dir = home / "pipeline_root" / "mtl" / RUN_ID
    examples = _output(summary, "ImportExampleGen", "examples")
    assert examples["uri"] == str(run_dir / "ImportExampleGen" / "examples")
    # The span the pre-cache check resolved, and the splits the executor wrote.
    assert examples["metadata"]["custom:span"] == 1.0
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "eval"]
    trainer_input = json.loads((run_dir / "Trainer" / "executor_input.json").read_text())
    assert trainer_input["inputs"]["artifacts"]["examples"]["artifacts"][0]["uri"] == str(
        run_dir / "Transform" / "transformed_examples")
    evaluator_input = json.loads((run_dir / "Evaluator" / "executor_input.json").read_text())
    assert evaluator_input["inputs"]["artifacts"]["baseline_model"] == {"artifacts": []}
    # The packaged schema, read from the wheel's install folder in place of the image's.
    import_input = json.loads((run_dir / "ImportSchemaGen" / "executor_input.json").read_text())
    assert import_input["inputs"]["parameters"]["schema_file"]["stringValue"] == str(
        site / "models" / "problems" / "recommendation" / "schema.pbtxt")


@pytest.mark.e2e
def test_the_pusher_writes_a_blessed_model_that_loads(package_run):
    import tensorflow as tf

    _, summary, home, _ = package_run
    blessing = _output(summary, "Evaluator", "blessing")
    assert blessing["metadata"]["blessed"] == 1.0
    assert blessing["metadata"]["current_model_id"] == f"{RUN_ID}/Trainer/model"
    pushed = _output(summary, "Pusher", "pushed_model")["metadata"]
    assert pushed["pushed"] == 1.0 and pushed["push_decision"] == "pushed"
    serving = home / "serving" / "mtl_model"
    [version] = list(serving.iterdir())
    assert pushed["pushed_destination"] == str(version) and version.name.isdigit()
    model = tf.saved_model.load(str(version))
    assert "serving_default" in model.signatures
