"""Kubeflow: the compiled spec, checked strictly with the kfp SDK, and the requests that
`mtl kfp submit` / `mtl kfp schedule` send, recorded by a local fake KFP API server
(tests/support/fake_kfp.py)."""

from __future__ import annotations

import json

import pytest

from kubeflow import compile as compile_lib
from tests.support.fake_kfp import fake_kfp_server
from tests.support.kfp_package import IMAGE, TASKS, param

RUN_FLAGS = ["--", "--root", "/mnt/test_home", "--epochs", "2", "--batch-size", "64",
             "--threshold", "click=0.61", "--with-task", "engagement_level"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    import yaml

    from pipeline.cli import main as cli

    out = tmp_path_factory.mktemp("kfp") / "mtl.yaml"
    assert cli.main(["kfp", "compile", "--output", str(out), "--image", IMAGE, "--pvc", "home-pvc",
                     *RUN_FLAGS]) == 0
    spec, platform = yaml.safe_load_all(out.read_text())
    return out, spec, platform


def test_spec_parses_strictly_with_the_kfp_sdk(compiled):
    from google.protobuf import json_format
    from kfp.client.client import _extract_pipeline_yaml
    from kfp.pipeline_spec import pipeline_spec_pb2

    path, spec, _ = compiled
    parsed = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec(),
                                   ignore_unknown_fields=False)
    assert parsed.pipeline_info.name == "mtl"
    # The same loader `kfp.Client` uses for an uploaded package.
    doc = _extract_pipeline_yaml(str(path))
    assert set(doc.pipeline_spec.root.dag.tasks) == TASKS
    assert set(doc.pipeline_spec.components) == TASKS
    assert set(doc.platform_spec.platforms) == {"kubernetes"}


def test_spec_has_every_component_with_the_image_and_parameters(compiled):
    _, spec, platform = compiled
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == TASKS
    executors = spec["deploymentSpec"]["executors"]
    containers = {name: ex["container"] for name, ex in executors.items() if "container" in ex}
    # Every TFX component runs in the project image; the resolvers are KFP importer/resolver steps.
    assert {n.removesuffix("_executor") for n in containers} == TASKS - {
        "latest_blessed_model_resolver-model-resolver",
        "latest_blessed_model_resolver-model-blessing-resolver"}
    assert {c["image"] for c in containers.values()} == {IMAGE}
    assert "--runner=FnApiRunner" in containers["Transform_executor"]["args"]
    # The home volume is mounted at --root in every container step.
    mounts = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(mounts) == set(containers)
    assert all(m == {"pvcMount": [{"constant": "home-pvc", "mountPath": "/mnt/test_home"}]}
               for m in mounts.values())

    trainer = tasks["Trainer"]
    assert param(trainer, "run_fn") == "models.trainer.run_fn"
    hparams = json.loads(param(trainer, "custom_config"))["hparams"]
    assert (hparams["epochs"], hparams["batch_size"]) == (2, 64)
    # The Trainer reads the schema the AnomaliesGate validated (issue 7), never an unchecked one.
    assert set(trainer["dependentTasks"]) == {"AnomaliesGate", "Transform"}
    assert param(tasks["Transform"], "preprocessing_fn") == "models.preprocessing.preprocessing_fn"
    # The curated schema is read inside the image, where kubeflow/Dockerfile copies config/.
    assert param(tasks["ImportSchemaGen"], "schema_file") == compile_lib.IMAGE_SCHEMA_PATH
    assert param(tasks["ImportExampleGen"], "input_base") == "/mnt/test_home/data"
    assert "span-{SPAN}/*.tfrecord.gz" in param(tasks["ImportExampleGen"], "input_config")
    # The Pusher is components/gated_pusher (issue 4): its destination parameter is serving_dir.
    assert param(tasks["Pusher"], "serving_dir") == "/mnt/test_home/serving/mtl_model"
    assert tasks["Evaluator"]["inputs"]["artifacts"]["baseline_model"]["taskOutputArtifact"][
        "producerTask"] == "latest_blessed_model_resolver-model-resolver"
    eval_config = json.loads(param(tasks["Evaluator"], "eval_config"))
    assert '"click"' in json.dumps(eval_config) and "0.61" in json.dumps(eval_config)
    # The optional task reaches Transform, Trainer and TFMA (its metric module is in the image).
    for name in ("Transform", "Trainer"):
        assert json.loads(param(tasks[name], "custom_config"))["extra_tasks"] == [
            "engagement_level"]
    assert eval_config["model_specs"][0]["label_keys"]["engagement_level"] == (
        "engagement_level_label")
    assert "pipeline.evaluation.multiclass_metrics" in json.dumps(eval_config)


def _transform_statistics(spec: dict) -> tuple[str, bool]:
    """(Transform's disable_statistics parameter, whether it outputs post-transform stats)."""
    value = spec["root"]["dag"]["tasks"]["Transform"]["inputs"]["parameters"][
        "disable_statistics"]["runtimeValue"]["constantValue"]["intValue"]
    outputs = spec["components"]["Transform"]["outputDefinitions"]["artifacts"]
    return value, "post_transform_stats" in outputs


def test_transform_statistics_are_compiled_for_a_text_problem_only(compiled, tmp_path):
    """Kubeflow compiles `create_pipeline`'s pipeline: a text problem's Transform computes the
    statistics that count its truncated texts, the default problem's does not."""
    import yaml

    from pipeline.cli import main as cli

    _, spec, _ = compiled
    assert _transform_statistics(spec) == ("1", False)
    out = tmp_path / "text.yaml"
    assert cli.main(["kfp", "compile", "--output", str(out), "--image", IMAGE, "--",
                     "--root", "/mnt/test_home", "--spec", "text", "--infer-schema"]) == 0
    text_spec = next(yaml.safe_load_all(out.read_text()))
    assert _transform_statistics(text_spec) == ("0", True)


def test_compile_refuses_the_span_window_the_v2_compiler_cannot_express(tmp_path, capsys):
    from pipeline.cli import main as cli

    assert cli.main(["kfp", "compile", "--output", str(tmp_path / "x.json")]) == 2
    assert "expected a .yaml file" in capsys.readouterr().err

    code = cli.main(["kfp", "compile", "--output", str(tmp_path / "x.yaml"), "--",
                     "--root", "/mnt/x", "--train-spans", "3"])
    assert code == 2
    err = capsys.readouterr().err
    assert "train_spans=3" in err
    assert "not the span window's SpanRange resolver" in err
    assert "no ML Metadata connection" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def fake_kfp():
    with fake_kfp_server() as server:
        yield server


def _posts(requests, path):
    return [r["body"] for r in requests if r["method"] == "POST" and r["path"] == path]


def test_submit_creates_the_experiment_and_a_run_of_the_compiled_spec(fake_kfp, compiled, capsys):
    from pipeline.cli import main as cli

    host, requests = fake_kfp
    code = cli.main(["kfp", "submit", "--host", host, "--package", str(compiled[0]),
                     "--experiment", "retraining", *RUN_FLAGS])
    assert code == 0
    assert "submitted run run-42" in capsys.readouterr().out
    assert _posts(requests, "/apis/v2beta1/experiments") == [{"display_name": "retraining"}]
    runs = _posts(requests, "/apis/v2beta1/runs")
    assert len(runs) == 1
    run = runs[0]
    assert run["experiment_id"] == "exp-7" and run["display_name"] == "mtl-run"
    assert run["runtime_config"]["pipeline_root"] == "/mnt/test_home/pipeline_root"
    assert run["pipeline_spec"] == {"pipeline_spec": compiled[1], "platform_spec": compiled[2]}
    assert _posts(requests, "/apis/v2beta1/recurringruns") == []


def test_schedule_creates_a_cron_recurring_run_that_never_overlaps(fake_kfp, compiled, capsys):
    from pipeline.cli import main as cli

    host, requests = fake_kfp
    code = cli.main(["kfp", "schedule", "--host", host, "--package", str(compiled[0]),
                     "--cron", "0 3 * * *", *RUN_FLAGS])
    assert code == 0
    assert "scheduled recurring run rr-9 (0 3 * * *)" in capsys.readouterr().out
    assert _posts(requests, "/apis/v2beta1/experiments") == [{"display_name": "mtl"}]
    assert _posts(requests, "/apis/v2beta1/runs") == []
    [job] = _posts(requests, "/apis/v2beta1/recurringruns")
    assert job["display_name"] == "mtl-retrain"
    assert job["experiment_id"] == "exp-7"
    assert job["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert int(job["max_concurrency"]) == 1 and job["no_catchup"] is True
    assert job["mode"] == "ENABLE"
    assert job["runtime_config"]["pipeline_root"] == "/mnt/test_home/pipeline_root"
    assert job["pipeline_spec"] == {"pipeline_spec": compiled[1], "platform_spec": compiled[2]}


def test_cron_is_converted_to_the_six_field_kfp_format():
    from kubeflow.client import to_kfp_cron

    assert to_kfp_cron("0 3 * * *") == "0 0 3 * * *"
    assert to_kfp_cron("30 0 3 * * 1-5") == "30 0 3 * * 1-5"
    with pytest.raises(ValueError, match="expected 5 fields"):
        to_kfp_cron("0 3 * *")
