"""The run summary's gate table and push lines, on hand-made metrics (no pipeline run)."""

from __future__ import annotations

from pipeline.evaluation import gates
from pipeline.monitoring.summary import RunSummary, TaskMetrics
from tests.support import default_problem as features


def _summary(**changes) -> RunSummary:
    click, watch = features.task_by_name("click"), features.task_by_name("watch_time")
    values = dict(
        run_id="r1", components=[], blessed=False, failures=[], pushed=False,
        pushed_path=None, evaluation_uri=None,
        tasks=[TaskMetrics(click, {"auc": 0.70, "weighted_example_count": 900.0},
                           {"auc": 0.73}, {}),
               TaskMetrics(watch, {"root_mean_squared_error": 41.0,
                                   "weighted_example_count": 30.0}, {}, {})],
        gates=gates.resolve((click, watch), {"watch_time": {"min_labels": 40}}),
        push_decision="not_blessed", push_reason="the Evaluator did not bless the model",
    )
    values.update(changes)
    return RunSummary(**values)


def test_gate_table_shows_candidate_baseline_thresholds_and_why():
    text = _summary().format()
    lines = text.splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("Gate per task")):]
    assert "naive bound" in lines[1]
    click = next(line for line in lines if line.split()[:2] == ["click", "auc"])
    # naive: a constant score's AUC 0.5, and the naive-baseline bound 0.5 + 0.01.
    assert click.split() == ["click", "auc", "0.7000", "0.7300", "≥", "0.65", "drop", "≤",
                             "0.02", "0.5000", "≥", "0.5100", "900", "FAIL"]
    assert ("      task 'click' auc 0.7000 vs baseline 0.7300: allowed drop ≤ 0.02 "
            "(limit 0.7100)") in lines
    watch = next(line for line in lines if line.split()[:2] == ["watch_time", "root_mean_squared_error"])
    assert watch.split()[-5:] == ["baseline)", "-", "-", "30", "FAIL"]  # no naive RMSE read
    assert ("      task 'watch_time' has 30 observed labels in the evaluation split, fewer "
            "than the 40 required") in lines
    assert "Push decision: not_blessed (the Evaluator did not bless the model)" in lines


def test_latency_line_and_summary_without_gates_keeps_the_old_format():
    text = _summary(latency_p99_ms=7.071, latency_budget_ms=50.0).format()
    assert "Latency: serving_default p99 at batch 1 = 7.07 ms (budget 50 ms)" in text
    old = _summary(gates={}, push_decision=None).format()
    assert "Gate per task" not in old and "Push decision" not in old
    assert old.splitlines()[-1] == "Pushed: no"


def test_gate_table_names_the_mean_predictor_a_constant_would_beat():
    watch = features.task_by_name("watch_time")
    summary = _summary(
        tasks=[TaskMetrics(watch, {"root_mean_squared_error": 37.3, "naive_rmse": 32.7,
                                   "naive_rmse_ratio": 37.3 / 32.7,
                                   "weighted_example_count": 4900.0}, {}, {})],
        gates=gates.resolve((watch,)))
    lines = summary.format().splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("Gate per task")):]
    row = next(line for line in lines if line.split()[:2] == ["watch_time", "root_mean_squared_error"])
    # Candidate 37.3 passes the absolute bound (<= 60) but not 0.95 x the mean predictor's 32.7.
    assert row.split() == ["watch_time", "root_mean_squared_error", "37.3000", "-", "≤", "60",
                           "(no", "baseline)", "32.7000", "≤", "31.0650", "4900", "FAIL"]
    assert ("      task 'watch_time' RMSE 37.30 is not below 0.95 x the mean predictor's 32.70 "
            "(= 31.07) on the same 4,900 observed labels") in lines
