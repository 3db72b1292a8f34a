"""Kubeflow: `mtl kfp compile -- --tune N` compiles the Tuner into the package, feeding the
Trainer's `hyperparameters` (checked strictly with the kfp SDK's own loader)."""

from __future__ import annotations

import json

import yaml

from pipeline.cli import main as cli
from tests.support.kfp_package import IMAGE, TASKS, param


def test_the_tuner_is_compiled_and_feeds_the_trainer(tmp_path):
    from kfp.client.client import _extract_pipeline_yaml

    out = tmp_path / "tuned.yaml"
    assert cli.main(["kfp", "compile", "--output", str(out), "--image", IMAGE, "--",
                     "--root", "/mnt/test_home", "--tune", "3", "--tune-minutes", "4"]) == 0
    doc = _extract_pipeline_yaml(str(out))
    assert set(doc.pipeline_spec.root.dag.tasks) == TASKS | {"Tuner"}
    spec = next(yaml.safe_load_all(out.read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    tuner = tasks["Tuner"]
    assert param(tuner, "tuner_fn") == "models.tuning.tuner_fn"
    config = json.loads(param(tuner, "custom_config"))
    assert (config["tuning"]["trials"], config["tuning"]["max_minutes"]) == (3, 4.0)
    # Trials never read the eval split: both splits the Tuner is given are the train split.
    assert json.loads(param(tuner, "eval_args"))["splits"] == ["train"]
    assert json.loads(param(tuner, "train_args"))["splits"] == ["train"]
    hyperparameters = tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]
    assert hyperparameters["taskOutputArtifact"] == {
        "producerTask": "Tuner", "outputArtifactKey": "best_hyperparameters"}
    assert "Tuner" in tasks["Trainer"]["dependentTasks"]
    # The image runs the Tuner like every other component.
    executors = spec["deploymentSpec"]["executors"]
    assert executors["Tuner_executor"]["container"]["image"] == IMAGE
