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


def test_truncation_lines_come_before_the_blessing_and_only_for_text_features():
    from pipeline.monitoring.summary import Truncation

    lines = _summary(truncation=[Truncation("text", 64, 320, 16000),
                                 Truncation("question", 16, 0, 16000)]).format().splitlines()
    first = lines.index("Truncated: text 320 of 16,000 transformed examples (2.0%) longer "
                        "than 64 tokens")
    assert lines[first + 1] == ("Truncated: question 0 of 16,000 transformed examples (0.0%) "
                                "longer than 16 tokens")
    assert lines[first - 1] == "" and lines[first + 3].startswith("Blessed:")
    assert not any(line.startswith("Truncated") for line in _summary().format().splitlines())


def test_truncation_is_counted_from_the_statistics_of_each_truncated_flag(tmp_path):
    import pandas as pd
    import tensorflow_data_validation as tfdv

    from models.spec import ProblemSpec
    from pipeline.monitoring.summary import TRANSFORM_STATS_FILE, Truncation, read_truncation
    from tests.support.text_problem import SPEC

    # What Transform's post-transform statistics hold: the flag per example (1: truncated).
    stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame({
        "text_truncated": [1, 0, 1, 0, 0, 1, 0],
        "question_truncated": [0, 0, 0, 0, 0, 0, 1],
        "text_length": [13, 4, 20, 12, 0, 14, 3],
    }))
    (tmp_path / TRANSFORM_STATS_FILE).write_bytes(stats.SerializeToString())
    spec = ProblemSpec.from_dict(SPEC)
    assert read_truncation(str(tmp_path), spec) == [Truncation("text", 12, 3, 7),
                                                    Truncation("question", 6, 1, 7)]
    # Statistics without a feature's flag (a run from before it existed) say nothing of it.
    stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame({"text_truncated": [0, 1]}))
    (tmp_path / TRANSFORM_STATS_FILE).write_bytes(stats.SerializeToString())
    assert read_truncation(str(tmp_path), spec) == [Truncation("text", 12, 1, 2)]
