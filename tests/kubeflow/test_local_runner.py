"""kubeflow/local_runner.py on small hand-written packages whose containers are a few lines of
Python: the executor input each task gets, the order, the resolver stub, and the refusals.
(tests/kubeflow/test_package_as_pods.py runs the real compiled package.)"""

from __future__ import annotations

import json

import pytest
import yaml

from kubeflow import local_runner

TYPE = {"instanceSchema": "title: tfx.Examples\ntype: object\n"}
# A container that records its executor input and reports its output artifact with metadata.
SCRIPT = (
    "import json, os, sys\n"
    "ei = json.loads(sys.argv[1])\n"
    "out = ei['outputs']\n"
    "os.makedirs(os.path.dirname(out['outputFile']), exist_ok=True)\n"
    "arts = {k: {'artifacts': [dict(v['artifacts'][0], metadata={'seen': len(ei['inputs'])})]}\n"
    "        for k, v in out['artifacts'].items()}\n"
    "json.dump({'artifacts': arts}, open(out['outputFile'], 'w'))\n"
    "sys.exit(int(ei['inputs'].get('parameters', {}).get('fail', {}).get('intValue', 0)))\n"
)


def _package(tmp_path, home, args=("{{$}}",), fail=0, mount=True):
    container = {"image": "img", "command": ["python", "-c", SCRIPT], "args": list(args)}
    out = {"artifacts": {"examples": {"artifactType": TYPE}}}
    spec = {
        "pipelineInfo": {"name": "p"},
        "components": {
            "Make": {"executorLabel": "Make_executor", "outputDefinitions": out},
            "Use": {"executorLabel": "Use_executor", "outputDefinitions": out},
            "Find": {"executorLabel": "Find_executor", "outputDefinitions": out},
        },
        "deploymentSpec": {"executors": {
            "Make_executor": {"container": container},
            "Use_executor": {"container": container},
            "Find_executor": {"resolver": {"outputArtifactQueries": {
                "examples": {"filter": 'schema_title="tfx.Examples"'}}}},
        }},
        "root": {"dag": {"tasks": {
            # Use depends on Make only through its input artifact (no dependentTasks).
            "Use": {"componentRef": {"name": "Use"}, "inputs": {
                "artifacts": {"examples": {"taskOutputArtifact": {
                    "producerTask": "Make", "outputArtifactKey": "examples"}}},
                "parameters": {"fail": {"runtimeValue": {"constantValue": {"intValue": str(fail)}}},
                               "path": {"runtimeValue": {"constantValue": {
                                   "stringValue": "/image/site/pkg/file.txt"}}}}}},
            "Make": {"componentRef": {"name": "Make"}},
            "Find": {"componentRef": {"name": "Find"}},
        }}},
    }
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {
        "Make_executor": {"pvcMount": [{"constant": "pvc", "mountPath": str(home)}]}}}}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump_all([spec] + ([platform] if mount else [])))
    return path


def test_tasks_run_in_order_with_the_executor_input_a_launcher_builds(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    run = local_runner.run_package(_package(tmp_path, home), run_id="r1",
                                   image_paths={"/image/site": "/local/site"})
    assert run.ok and [t.name for t in run.tasks] == ["Find", "Make", "Use"]
    run_dir = home / "pipeline_root" / "p" / "r1"
    assert run.run_dir == str(run_dir)
    find, make, use = run.tasks
    # STUB: the resolver runs no process and resolves to no artifact.
    assert (find.kind, find.exit_code, find.outputs) == ("resolver", None, {"examples": []})
    assert make.exit_code == use.exit_code == 0
    made = make.outputs["examples"][0]
    assert made == {"name": "r1/Make/examples", "uri": str(run_dir / "Make" / "examples"),
                    "type": TYPE, "metadata": {"seen": 1}}
    given = json.loads((run_dir / "Use" / "executor_input.json").read_text())
    assert given["inputs"]["artifacts"]["examples"]["artifacts"] == [made]
    assert given["inputs"]["parameters"] == {"fail": {"intValue": "0"},
                                             "path": {"stringValue": "/local/site/pkg/file.txt"}}
    assert given["outputs"]["outputFile"] == str(
        run_dir / "Use" / ".pod" / local_runner.POD_OUTPUT_FILE)
    summary = json.loads((run_dir / local_runner.SUMMARY_FILE).read_text())
    assert [t["name"] for t in summary["tasks"]] == ["Find", "Make", "Use"]


def test_the_run_stops_at_the_first_failing_task(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    run = local_runner.run_package(_package(tmp_path, home, fail=3), run_id="r1")
    assert run.failed == "Use" and run.tasks[-1].exit_code == 3


def test_refusals_name_what_cannot_be_run(tmp_path):
    home = tmp_path / "home"
    with pytest.raises(local_runner.PackageError, match="does not exist here"):
        local_runner.run_package(_package(tmp_path, home))
    home.mkdir()
    with pytest.raises(local_runner.PackageError, match="placeholder other than"):
        local_runner.run_package(_package(tmp_path, home,
                                          args=["{{$.inputs.parameters['fail']}}"]))
    with pytest.raises(local_runner.PackageError, match="give the pipeline root"):
        local_runner.run_package(_package(tmp_path, home, mount=False))


def test_task_order_refuses_a_cycle():
    spec = {"root": {"dag": {"tasks": {"A": {"dependentTasks": ["B"]},
                                       "B": {"dependentTasks": ["A"]}}}}}
    with pytest.raises(local_runner.PackageError, match="depend on each other"):
        local_runner.task_order(spec)
