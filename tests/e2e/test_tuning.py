"""`mtl run --tune 2` end to end on small data, then the runs after it: the same spec and flags
reuse the search, a changed flag trains its own hyperparameters. Checked as a user would: the
lines `mtl run` prints, the hyperparameters the Trainer wrote beside its model, and ML
Metadata's executions and artifacts."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from tests.support.pipelines import small_config, small_hparams

pytestmark = pytest.mark.e2e


def _store(config):
    from pipeline.core import metadata

    return metadata.readonly_store(config.metadata_path)


def _node_executions(store, config, node: str) -> list:
    context = store.get_context_by_type_and_name("node", f"{config.pipeline_name}.{node}")
    return store.get_executions_by_context(context.id) if context else []


def _run_executions(store, run_id: str) -> dict[str, list[str]]:
    """{node: [states]} of one pipeline run."""
    from pipeline.monitoring.summary import _STATES

    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    out: dict[str, list[str]] = {}
    for execution in store.get_executions_by_context(run.id):
        for context in store.get_contexts_by_execution(execution.id):
            if store.get_context_types_by_id([context.type_id])[0].name == "node":
                node = context.name.split(".", 1)[1]
                out.setdefault(node, []).append(_STATES[execution.last_known_state])
    return out


def _trainer_input(store, execution_id: int, key: str) -> list[int]:
    return [e.artifact_id for e in store.get_events_by_execution_ids([execution_id])
            if e.type == e.INPUT and e.path.steps and e.path.steps[0].key == key]


def _trained_hparams(config) -> dict:
    runs = sorted((config.pipeline_root / "Trainer" / "model_run").iterdir(),
                  key=lambda p: int(p.name))
    return json.loads((runs[-1] / "hyperparameters.json").read_text())


def test_tune_searches_then_later_runs_reuse_or_not(tmp_path):
    from pipeline.runs import local

    config = small_config(tmp_path / "home", examples=2000, hparams=small_hparams(epochs=1))

    # 1. --tune 2: the Tuner runs two trials; the Trainer trains the best one's values.
    out = io.StringIO()
    first = local.run_watched(config.replace(tune_trials=2, tune_minutes=10), out=out)
    lines = out.getvalue().splitlines()
    tuner_line = next(line for line in lines if " done " in line and " Tuner " in line)
    assert "2 trials, best val_score" in tuner_line
    summary = first.summary
    assert summary.tuning.startswith("Tuning: searched in ")
    assert "2 trials of 2, best val_score" in summary.tuning
    assert summary.tuning in summary.format()

    store = _store(config)
    assert _run_executions(store, summary.run_id)["Tuner"] == ["COMPLETE"]
    assert _run_executions(store, summary.run_id)["Trainer"] == ["COMPLETE"]
    [tuner] = _node_executions(store, config, "Tuner")
    custom = json.loads(tuner.custom_properties["custom_config"].string_value)
    assert custom["tuning_key"] == config.tuning_key()
    from pipeline.core import metadata

    outputs = metadata.output_artifacts_by_key(store, tuner.id)
    [best] = outputs["best_hyperparameters"]
    chosen = json.loads((Path(best.uri) / "best_hyperparameters.txt").read_text())["values"]
    trials = json.loads((Path(outputs["tuner_results"][0].uri) / "tuner_results.json")
                        .read_text())
    assert len(trials) == 2
    assert min(t["score"] for t in trials) == trials[0]["score"]
    assert {k: trials[0][k] for k in chosen} == chosen
    # The first trial trains the run's own hyperparameters.
    own = next(t for t in trials if int(t["trial_id"]) == 0)
    assert own["learning_rate"] == pytest.approx(config.hparams.learning_rate)
    # The Trainer read the artifact: its learning rate, widths and loss weights are the chosen.
    [trainer] = _node_executions(store, config, "Trainer")
    assert _trainer_input(store, trainer.id, "hyperparameters") == [best.id]
    trained = _trained_hparams(config)
    assert trained["tuned"] == chosen
    assert trained["hparams"]["learning_rate"] == pytest.approx(chosen["learning_rate"])
    assert trained["hparams"]["bottom_units"] == [int(u) for u in
                                                   chosen["bottom_units"].split(",")]
    assert trained["loss_weights"]["watch_time"] == pytest.approx(
        chosen["loss_weight_watch_time"])

    # 2. The same spec and flags without --tune: the stored search is reused, none runs.
    second = local.run_watched(config, out=io.StringIO(), force=True).summary
    assert second.tuning.startswith(f"Tuning: reused the search of run {summary.run_id} ")
    store = _store(config)
    executions = _run_executions(store, second.run_id)
    assert "Tuner" not in executions
    assert len(executions["stored_hyperparameters"]) == 1
    assert len(_node_executions(store, config, "Tuner")) == 1
    latest = max(_node_executions(store, config, "Trainer"), key=lambda e: e.id)
    # The Importer hands over the Tuner's own artifact (one artifact, its lineage intact).
    assert _trainer_input(store, latest.id, "hyperparameters") == [best.id]

    # 3. Another learning-rate flag: another tuning key, no stored search matches; the run
    # says so and trains its own hyperparameters (no Importer: tests/pipeline/dag).
    from pipeline.runs import tuning as run_tuning

    said: list[str] = []
    changed = config.replace(hparams=dataclasses.replace(config.hparams, learning_rate=0.004))
    assert changed.tuning_key() != config.tuning_key()
    assert run_tuning.resolve_stored(changed, said.append).tuned_hyperparameters is None
    assert said == [f"Tuning: the stored search (run {summary.run_id}) was for another spec or "
                    f"other flags: training this run's own hyperparameters (`--tune` searches "
                    f"for these)"]
    # The same key again finds the search, whatever the seed.
    again = run_tuning.resolve_stored(
        config.replace(hparams=dataclasses.replace(config.hparams, seed=11)), said.append)
    assert again.tuned_hyperparameters == best.uri
