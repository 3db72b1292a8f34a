"""The fault suite's case list: each fault, the behaviour the suite asserts, and its test.

The documentation's "what happens when" table (docs/guides/bad-data-and-faults.md) is rendered
from this list when the site is built (scripts/docs_hooks.py; `python -m tests.support.fault_cases`
prints it), and `test_fault_table.py` fails when a case names a test that does not exist.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    fault: str
    behaviour: str
    test: str  # the test asserting the behaviour: "<function>" in test_faults.py or "<module>::<function>"


REFUSED = "exit code 4, nothing pushed, serving/ untouched"

CASES: tuple[Case, ...] = (
    Case("corrupt_tfrecord", "a truncated or corrupt TFRecord file in the newest span",
         f"refused before any component runs: the message names the file and the number of good "
         f"records before the damage; {REFUSED}", "test_corrupt_tfrecord_file"),
    Case("empty_span", "an empty span folder (newest span with no data file)",
         f"refused before any component runs (ImportExampleGen would silently fall back to the "
         f"previous span): the message names the folder; {REFUSED}", "test_empty_span_folder"),
    Case("missing_feature", "a span with a feature missing",
         f"AnomaliesGate stops the run before Transform: the feature is named, expected present "
         f"in 100% of examples; {REFUSED}", "test_span_with_a_feature_missing"),
    Case("wrong_dtype", "a feature with the wrong dtype (`user_age` as strings), in every file "
         "or in one file of the span",
         f"refused before any component runs (StatisticsGen would fail inside Beam on a span "
         f"whose files disagree): the message names the file, the feature, the type found "
         f"(string values, bytes_list) and the type the curated schema expects (int values, "
         f"int64_list); {REFUSED}", "test_feature_with_the_wrong_dtype"),
    Case("nan_inf", "numerics with NaN or infinity in a span",
         f"AnomaliesGate: the feature is named, expected finite; {REFUSED}. In a serving "
         "request NaN/inf take the feature's default (finite scores)", "test_numerics_with_nan_or_inf"),
    Case("label_out_of_range", "a binary label outside {-1, 0, 1}",
         f"AnomaliesGate: the label is named with the expected range [-1, 1]; {REFUSED}",
         "test_binary_label_outside_its_range"),
    Case("labels_all_missing", "a task whose labels are all missing (-1) in a span",
         f"AnomaliesGate: the label is named, 'every label is missing'; {REFUSED}",
         "test_task_with_all_labels_missing"),
    Case("optional_label_absent", "`mtl run --with-task engagement_level` on data without that "
         "label",
         f"AnomaliesGate: the label is named, 'absent from every example, but the run trains its "
         f"task' (the schema lets an optional label be absent, the run does not); {REFUSED}",
         "test_optional_task_enabled_on_data_without_its_label"),
    Case("drift", "a large drift: `price` ten times higher in the new span",
         f"AnomaliesGate: the drift comparator of the curated schema (Jensen-Shannon divergence "
         f"against the frozen reference) names the feature; {REFUSED}", "test_large_drift"),
    Case("tiny_span", "a new span of 30 examples",
         f"AnomaliesGate, before its drift checks: 'the span has 30 examples (...), fewer than "
         f"the N required' (`PipelineConfig.min_span_examples`, `mtl run --min-span-examples`, "
         f"default 1,000; no drift is reported on so few examples); {REFUSED}",
         "test_span_with_too_few_examples"),
    Case("single_label_value", "a new span in which every click label is 1 (other columns as "
         "usual)",
         f"AnomaliesGate: the label is named, 'the label has a single observed value in this "
         f"span: all 600 observed labels are 1' (TFMA would otherwise refuse it only after "
         f"training, with click AUC 0); {REFUSED}", "test_a_label_with_one_value_in_the_span"),
    Case("allow_anomalies", "any of the above with `mtl run --allow-anomalies`",
         "the gate logs the same report as a warning and publishes the validated schema, so Transform "
         "and Trainer run",
         "tests.components.anomalies_gate.test_executor::test_allow_anomalies_lets_the_run_go_on"),
    Case("unseen_categories", "categories and item ids never seen before",
         "handled, not an error: validation passes (the open `category` domain tolerates up to "
         "10% unknown values), unknown ids map to the OOV bucket, the run trains and evaluates",
         "test_killed_run_resumes_and_concurrent_run_is_refused"),
    Case("regressed_model", "a regressed model (worse than the last blessed one)",
         "the TFMA gate refuses it: not blessed, exit code 3, nothing pushed, serving/ untouched",
         "test_regressed_model_is_not_pushed"),
    Case("worse_than_naive", "a model whose watch_time head a constant would beat (its "
         "predictions offset by a constant)",
         "the naive-baseline gate refuses it even within the absolute RMSE bound: not blessed, "
         "exit code 3, nothing pushed; the gate table and the failure name the mean predictor, "
         "its RMSE and the observed labels",
         "tests.e2e.test_release_gate::test_watch_time_head_worse_than_the_mean_is_refused"),
    Case("killed_mid_run", "the process killed (SIGKILL) during the Trainer, then run again",
         "the re-run resumes from the cached components (ExampleGen to Transform CACHED) and "
         "finishes; the killed execution never counts as complete in ML Metadata; serving/ "
         "holds only complete model versions", "test_killed_run_resumes_and_concurrent_run_is_refused"),
    Case("concurrent_runs", "two `mtl run` on one home at the same time",
         "the second exits at once with code 2 naming the holder's pid, the first is unaffected "
         "(`--wait` waits instead: tests/pipeline/runs/test_lock.py)",
         "test_killed_run_resumes_and_concurrent_run_is_refused"),
    Case("serving_garbage", "a serving request with garbage bytes, a wrong dtype or missing "
         "features", "garbage bytes or a wrong dtype: an InvalidArgumentError response, and the "
         "model keeps serving; missing features take their defaults (finite scores)",
         "test_serving_survives_bad_requests"),
)

TABLE_BEGIN = "<!-- fault-table:begin (generated by `python -m tests.support.fault_cases`) -->"
TABLE_END = "<!-- fault-table:end -->"


def render_table(cases: tuple[Case, ...] = CASES) -> str:
    """The "what happens when" table of the documentation, between its begin/end markers."""
    lines = [TABLE_BEGIN, "| what happens when | behaviour (asserted by tests/faults) |", "|---|---|"]
    for case in cases:
        lines.append(f"| {case.fault} | {case.behaviour} |")
    lines.append(TABLE_END)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_table())
