"""The tuning line `mtl run` prints, from a search's recorded budget and trials."""

from __future__ import annotations

import json

from pipeline.monitoring import tuning


def _search(trials, requested=10, minutes=8.0):
    return tuning.Search(run_id="r1", key="k", best_uri="/x", values={
        "learning_rate": 0.0031, "bottom_units": "256,128"}, trials=trials,
        requested_trials=requested, max_minutes=minutes, seconds=12.0)


def test_a_search_cut_short_by_the_cap_says_so():
    trials = [{"trial_id": "03", "score": 1.5}, {"trial_id": "00", "score": 1.75},
              {"trial_id": "01", "score": 2.0}]
    assert _search(trials).describe() == (
        "3 trials of 10 (the 8-minute cap stopped the search), best val_score 1.5000 "
        "(the run's own hyperparameters: 1.7500); chosen: learning_rate=0.0031, "
        "bottom_units=256,128")


def test_a_complete_search_names_no_cap():
    trials = [{"trial_id": "0", "score": 1.25}, {"trial_id": "1", "score": 1.5}]
    assert _search(trials, requested=2).describe().startswith(
        "2 trials of 2, best val_score 1.2500 (the run's own hyperparameters: 1.2500); ")


def test_the_component_line_detail(tmp_path):
    (tmp_path / tuning.RESULTS_FILE).write_text(json.dumps(
        [{"trial_id": "1", "score": 0.91234}, {"trial_id": "0", "score": 1.0}]))
    assert tuning.results_detail(str(tmp_path)) == "2 trials, best val_score 0.9123"
    assert tuning.results_detail(str(tmp_path / "none")) == ""
