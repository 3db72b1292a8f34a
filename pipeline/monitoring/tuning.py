"""Hyperparameter searches read back from ML Metadata (docs/guides/tuning.md).

`latest_search(store, pipeline, key)` finds the newest search whose tuning key is `key` (a
completed or cached `Tuner` execution, its key in the `custom_config` it recorded) and its
`best_hyperparameters` artifact: what a later run reuses. `run_tuning(store, pipeline, run)`
says what a run did about tuning (searched, reused a stored search, or neither), for the line
`mtl run` prints.
"""

from __future__ import annotations

import dataclasses
import json
import os

from models import search_space
from pipeline.core import metadata

TUNER_NODE = "Tuner"
IMPORTER_NODE = "stored_hyperparameters"
TRAINER_NODE = "Trainer"
BEST_FILE = "best_hyperparameters.txt"
RESULTS_FILE = "tuner_results.json"
_COMPLETE, _CACHED = 3, 5


@dataclasses.dataclass(frozen=True)
class Search:
    """One search: the run that ran it, its key, budget and outcome."""

    run_id: str
    key: str
    best_uri: str
    values: dict
    trials: list[dict]
    requested_trials: int | None
    max_minutes: float | None
    seconds: float

    @property
    def best_score(self) -> float | None:
        return self.trials[0]["score"] if self.trials else None

    @property
    def defaults_score(self) -> float | None:
        """The score of the first trial, which trains the run's own hyperparameters."""
        return next((t["score"] for t in self.trials if int(t["trial_id"]) == 0), None)

    def describe(self) -> str:
        capped = (self.requested_trials is not None and len(self.trials) < self.requested_trials
                  and self.max_minutes is not None)
        text = (f"{len(self.trials)} trial{'s' if len(self.trials) != 1 else ''}"
                + (f" of {self.requested_trials}" if self.requested_trials else "")
                + (f" (the {self.max_minutes:g}-minute cap stopped the search)" if capped
                   else ""))
        if self.best_score is not None:
            text += f", best val_score {self.best_score:.4f}"
            if self.defaults_score is not None:
                text += f" (the run's own hyperparameters: {self.defaults_score:.4f})"
        values = {k: v for k, v in self.values.items()}
        return text + f"; chosen: {search_space.describe(values)}"


def results_detail(results_uri: str) -> str:
    """`10 trials, best val_score 2.0412` from a TunerResults folder ("" when unreadable)."""
    path = os.path.join(results_uri, RESULTS_FILE)
    if not os.path.exists(path):
        return ""
    trials = _read_json(path)
    if not trials:
        return "no trial completed"
    return (f"{len(trials)} trial{'s' if len(trials) != 1 else ''}, best val_score "
            f"{trials[0]['score']:.4f}")


def _node_executions(store, pipeline_name: str, node: str) -> list:
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node}")
    if context is None:
        return []
    return store.get_executions_by_context(context.id)


def _run_id(store, execution) -> str:
    for context in store.get_contexts_by_execution(execution.id):
        if store.get_context_types_by_id([context.type_id])[0].name == "pipeline_run":
            return context.name
    return "?"


def _read_json(path: str):
    from tensorflow.io import gfile  # lazy: a file on any filesystem TensorFlow reads

    with gfile.GFile(path) as f:
        return json.loads(f.read())


def _searching_execution(store, artifact_id: int):
    """The completed execution that wrote this artifact (not one that reused it from the
    cache), or None."""
    ids = [e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
           if e.type == e.OUTPUT]
    done = [e for e in store.get_executions_by_id(ids) if e.last_known_state == _COMPLETE]
    return min(done, key=lambda e: (e.create_time_since_epoch, e.id)) if done else None


def _search(store, execution) -> Search | None:
    """The search a Tuner execution ran (or, cached, reused), None when its outputs are gone."""
    prop = metadata.node_property(execution, "custom_config")
    config = json.loads(prop.string_value) if prop is not None and prop.string_value else {}
    outputs = metadata.output_artifacts_by_key(store, execution.id)
    best = outputs.get("best_hyperparameters", [])
    results = outputs.get("tuner_results", [])
    if not best or not os.path.exists(os.path.join(best[0].uri, BEST_FILE)):
        return None
    values = search_space.values_of(_read_json(os.path.join(best[0].uri, BEST_FILE)))
    trials = []
    if results and os.path.exists(os.path.join(results[0].uri, RESULTS_FILE)):
        trials = _read_json(os.path.join(results[0].uri, RESULTS_FILE))
    tuning = config.get("tuning") or {}
    # A cached execution's outputs are those of the execution that searched: its run and time.
    searched = _searching_execution(store, best[0].id) or execution
    seconds = (searched.last_update_time_since_epoch - searched.create_time_since_epoch) / 1e3
    return Search(run_id=_run_id(store, searched), key=config.get("tuning_key", ""),
                  best_uri=best[0].uri, values=values, trials=trials,
                  requested_trials=tuning.get("trials"), max_minutes=tuning.get("max_minutes"),
                  seconds=seconds)


def searches(store, pipeline_name: str) -> list[Search]:
    """Every completed or cached search of the pipeline whose outputs still exist, newest
    first."""
    executions = [e for e in _node_executions(store, pipeline_name, TUNER_NODE)
                  if e.last_known_state in (_COMPLETE, _CACHED)]
    out = []
    for execution in sorted(executions, key=lambda e: (e.create_time_since_epoch, e.id),
                            reverse=True):
        found = _search(store, execution)
        if found is not None:
            out.append(found)
    return out


def latest_search(store, pipeline_name: str, key: str) -> Search | None:
    """The newest search with tuning key `key`, or None."""
    return next((s for s in searches(store, pipeline_name) if s.key == key), None)


def _producer_search(store, artifact_id: int) -> Search | None:
    """The search whose Tuner produced this artifact."""
    execution = _searching_execution(store, artifact_id)
    return _search(store, execution) if execution is not None else None


def run_tuning(store, pipeline_name: str, run_context) -> str | None:
    """The tuning line of a run: `Tuning: searched ...`, `Tuning: reused ...`, or None when the
    run neither searched nor reused a search."""
    for execution in store.get_executions_by_context(run_context.id):
        nodes = [c.name for c in store.get_contexts_by_execution(execution.id)
                 if c.name.startswith(f"{pipeline_name}.")]
        node = nodes[0][len(pipeline_name) + 1:] if nodes else ""
        if node == TUNER_NODE and execution.last_known_state in (_COMPLETE, _CACHED):
            found = _search(store, execution)
            if found is None:
                continue
            verb = ("searched" if execution.last_known_state == _COMPLETE
                    else f"cached (the search of run {found.run_id}, same data, spec and "
                         f"flags)")
            return f"Tuning: {verb} in {found.seconds:.0f} s, {found.describe()}"
        if node == IMPORTER_NODE:
            for artifact in metadata.output_artifacts(store, [execution.id]):
                found = _producer_search(store, artifact.id)
                if found is not None:
                    return (f"Tuning: reused the search of run {found.run_id} (same spec and "
                            f"flags; `--tune` searches again): {found.describe()}")
    return None
