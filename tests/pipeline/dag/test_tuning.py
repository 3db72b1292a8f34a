"""Where the Trainer's hyperparameters come from in `create_pipeline` (built, not run), and
the tuning key that decides whether a stored search is reused."""

from __future__ import annotations

import dataclasses
import json

import pytest

from models.spec import default_spec
from pipeline.cli import run_flags
from pipeline.core.config import PipelineConfig
from pipeline.dag.build import create_pipeline


def _nodes(config):
    return {node.id: node for node in create_pipeline(config).components}


def test_tune_puts_the_tuner_before_the_trainer(tmp_path):
    config = run_flags.run_config(["--root", str(tmp_path), "--tune", "4",
                                   "--tune-minutes", "2.5"])
    nodes = _nodes(config)
    tuner, trainer = nodes["Tuner"], nodes["Trainer"]
    assert trainer.inputs["hyperparameters"] is tuner.outputs["best_hyperparameters"]
    assert tuner.inputs["examples"] is nodes["Transform"].outputs["transformed_examples"]
    assert tuner.exec_properties["tuner_fn"] == "models.tuning.tuner_fn"
    custom = json.loads(tuner.exec_properties["custom_config"])
    assert custom["tuning"]["trials"] == 4 and custom["tuning"]["max_minutes"] == 2.5
    assert custom["tuning_key"] == config.tuning_key()
    # The Tuner trains and scores on the train split only.
    assert '"train"' in tuner.exec_properties["eval_args"]
    assert '"eval"' not in tuner.exec_properties["eval_args"]
    # It searches around the Trainer's own hyperparameters.
    assert custom["hparams"] == json.loads(trainer.exec_properties["custom_config"])["hparams"]
    assert "stored_hyperparameters" not in nodes


def test_a_stored_search_is_imported_and_no_search_runs(tmp_path):
    stored = str(tmp_path / "pipeline_root" / "Tuner" / "best_hyperparameters" / "7")
    nodes = _nodes(PipelineConfig(root=str(tmp_path), tuned_hyperparameters=stored))
    importer = nodes["stored_hyperparameters"]
    assert importer.exec_properties["artifact_uri"] == stored
    assert importer.exec_properties["reimport"] == 0
    assert nodes["Trainer"].inputs["hyperparameters"] is importer.outputs["result"]
    assert "Tuner" not in nodes


def test_without_tuning_the_pipeline_is_unchanged(tmp_path):
    nodes = _nodes(PipelineConfig(root=str(tmp_path)))
    assert "Tuner" not in nodes and "stored_hyperparameters" not in nodes
    assert "hyperparameters" not in nodes["Trainer"].inputs


def test_the_tuning_key_follows_the_spec_and_the_hyperparameter_flags(tmp_path):
    def key(*flags):
        return run_flags.run_config(["--root", str(tmp_path), *flags]).tuning_key()

    base = key()
    # Training length, seed and the search's own budget do not ask for a new search.
    assert key("--seed", "7") == key("--epochs", "5") == key("--tune", "3") == base
    assert key("--tune-minutes", "1") == base
    # Flags that change what is trained do.
    for flags in (["--model", "mmoe"], ["--weighting", "uncertainty"], ["--batch-size", "64"],
                  ["--learning-rate", "0.01"], ["--with-task", "engagement_level"],
                  ["--task-sampling", "uniform"]):
        assert key(*flags) != base, flags
    # So does any change to the spec (here one task's loss weight).
    spec = default_spec()
    changed = dataclasses.replace(spec, tasks=tuple(
        dataclasses.replace(t, loss_weight=0.7) if t.name == "like" else t for t in spec.tasks))
    assert PipelineConfig(spec=changed).tuning_key() != PipelineConfig(spec=spec).tuning_key()


def test_a_run_searches_or_reuses_never_both():
    with pytest.raises(ValueError, match="not both"):
        PipelineConfig(tune_trials=2, tuned_hyperparameters="/x")
    with pytest.raises(ValueError, match="tune_trials must be at least 1"):
        PipelineConfig(tune_trials=0)
    with pytest.raises(ValueError, match="tune_minutes must be > 0"):
        PipelineConfig(tune_minutes=0)
