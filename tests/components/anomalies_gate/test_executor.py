"""AnomaliesGate: the report's wording on hand-built protos, and the executor on saved files."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components.anomalies_gate import executor, spec
from components.anomalies_gate.component import AnomaliesGate

SCHEMA = text_format.Parse("""
feature { name: "click" type: INT int_domain { min: -1 max: 1 } presence { min_fraction: 1.0 } }
feature { name: "like" type: INT int_domain { min: -1 max: 1 } presence { min_fraction: 1.0 } }
feature {
  name: "device" type: BYTES presence { min_fraction: 1.0 }
  string_domain { name: "device" value: "ios" value: "web" }
  drift_comparator { infinity_norm { threshold: 0.15 } }
}
""", schema_pb2.Schema())


def _stats(device_counts: dict[str, int], like_max: float = 1.0):
    n = sum(device_counts.values())
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(num_examples=n)
    like = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.INT)
    like.path.step.append("like")
    like.num_stats.common_stats.num_non_missing = n
    like.num_stats.min = -1
    like.num_stats.max = like_max
    device = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    device.path.step.append("device")
    device.string_stats.common_stats.num_non_missing = n
    device.string_stats.unique = len(device_counts)
    for i, (value, count) in enumerate(sorted(device_counts.items())):
        device.string_stats.top_values.add(value=value, frequency=count)
        device.string_stats.rank_histogram.buckets.add(low_rank=i, high_rank=i, label=value,
                                                       sample_count=count)
    return stats


def _click_anomaly():
    anomalies = anomalies_pb2.Anomalies()
    anomalies.anomaly_info["click"].description = "Unexpectedly large value: 2."
    return anomalies


def test_report_names_the_feature_what_was_found_and_what_was_expected():
    problems = executor.find_problems(SCHEMA, {"train": _stats({"ios": 5, "web": 5})},
                                      {"train": _click_anomaly()}, label_keys=("like",))
    assert problems == [
        "[train] feature 'click': Unexpectedly large value: 2. "
        "(expected: INT, present in 100% of examples, values in [-1, 1])"
    ]


def test_a_task_whose_labels_are_all_missing_is_reported():
    problems = executor.find_problems(SCHEMA, {"eval": _stats({"ios": 5, "web": 5}, like_max=-1)},
                                      {"eval": anomalies_pb2.Anomalies()}, label_keys=("like",))
    assert problems == [
        "[eval] feature 'like': every label is missing (all values -1); the task would train on "
        "nothing (expected: INT, present in 100% of examples, values in [-1, 1])"
    ]


def test_an_enabled_task_whose_label_is_absent_is_reported_once():
    schema = schema_pb2.Schema()
    schema.CopyFrom(SCHEMA)
    schema.feature.add(name="engagement_level", type=schema_pb2.INT).int_domain.max = 2
    stats = {"train": _stats({"ios": 5, "web": 5})}  # no engagement_level column at all
    problems = executor.find_problems(schema, stats, {"train": anomalies_pb2.Anomalies()},
                                      label_keys=("like", "engagement_level"))
    assert len(problems) == 1
    assert problems[0].startswith(
        "[train] feature 'engagement_level': absent from every example, but the run trains its "
        "task")
    # A label the ExampleValidator already reported (a required one) is not reported twice.
    missing_like = anomalies_pb2.Anomalies()
    missing_like.anomaly_info["like"].description = "Column dropped"
    no_like = _stats({"ios": 5, "web": 5})
    del no_like.datasets[0].features[0]
    problems = executor.find_problems(SCHEMA, {"train": no_like}, {"train": missing_like},
                                      label_keys=("like",))
    assert problems == ["[train] feature 'like': Column dropped (expected: INT, present in 100% "
                        "of examples, values in [-1, 1])"]


def test_drift_against_the_reference_uses_the_schema_comparator():
    reference = _stats({"ios": 50, "web": 50})
    near = executor.find_problems(SCHEMA, {"train": _stats({"ios": 55, "web": 45})}, {},
                                  reference=reference)
    assert near == []  # L-infinity 0.05 <= 0.15
    far = executor.find_problems(SCHEMA, {"train": _stats({"ios": 90, "web": 10})}, {},
                                 reference=reference)
    assert len(far) == 1 and far[0].startswith("[train] feature 'device': distribution drift")
    assert "L-infinity distance to the reference <= 0.15" in far[0]


def _artifacts(tmp_path):
    from tfx.types import standard_artifacts

    stats = standard_artifacts.ExampleStatistics()
    stats.uri = str(tmp_path / "stats")
    stats.split_names = '["train"]'
    (tmp_path / "stats" / "Split-train").mkdir(parents=True)
    (tmp_path / "stats" / "Split-train" / "FeatureStats.pb").write_bytes(
        _stats({"ios": 5, "web": 5}).SerializeToString())
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text(text_format.MessageToString(SCHEMA))
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    anomalies.split_names = '["train"]'
    (tmp_path / "anomalies" / "Split-train").mkdir(parents=True)
    (tmp_path / "anomalies" / "Split-train" / "SchemaDiff.pb").write_bytes(
        _click_anomaly().SerializeToString())
    out = standard_artifacts.Schema()
    out.uri = str(tmp_path / "validated")
    (tmp_path / "validated").mkdir()
    inputs = {spec.STATISTICS_KEY: [stats], spec.SCHEMA_KEY: [schema],
              spec.ANOMALIES_KEY: [anomalies]}
    return inputs, {spec.VALIDATED_SCHEMA_KEY: [out]}


def test_the_executor_refuses_anomalies(tmp_path):
    inputs, outputs = _artifacts(tmp_path)
    with pytest.raises(executor.AnomaliesFoundError, match=r"(?s)1 problem.*feature 'click'.*"
                       r"values in \[-1, 1\].*--allow-anomalies"):
        executor.Executor().Do(inputs, outputs, {spec.ALLOW_ANOMALIES_KEY: 0})
    assert not (tmp_path / "validated" / "schema.pbtxt").exists()


def test_allow_anomalies_lets_the_run_go_on(tmp_path, caplog):
    inputs, outputs = _artifacts(tmp_path)
    executor.Executor().Do(inputs, outputs, {spec.ALLOW_ANOMALIES_KEY: 1})
    copied = text_format.Parse((tmp_path / "validated" / "schema.pbtxt").read_text(),
                               schema_pb2.Schema())
    assert copied == SCHEMA
    assert "feature 'click'" in caplog.text and "--allow-anomalies" in caplog.text


def test_component_wires_the_validated_schema_and_the_override():
    from tfx.types import channel_utils, standard_artifacts

    def channel(kind):
        return channel_utils.as_channel([kind()])

    gate = AnomaliesGate(statistics=channel(standard_artifacts.ExampleStatistics),
                         schema=channel(standard_artifacts.Schema),
                         anomalies=channel(standard_artifacts.ExampleAnomalies),
                         allow_anomalies=True, label_keys=("click", "like"))
    assert gate.outputs["validated_schema"].type == standard_artifacts.Schema
    assert gate.exec_properties[spec.ALLOW_ANOMALIES_KEY] == 1
    assert gate.exec_properties[spec.LABEL_KEYS_KEY] == '["click", "like"]'
    assert gate.exec_properties[spec.MIN_EXAMPLES_KEY] == 0


# --- degenerate spans: too few examples, a label with one observed value ------------------------

def test_a_span_smaller_than_the_minimum_is_refused_with_its_count_not_as_drift():
    reference = _stats({"ios": 50, "web": 50})
    stats = {"train": _stats({"ios": 20, "web": 2}), "eval": _stats({"ios": 7, "web": 1})}
    assert len(executor.find_problems(SCHEMA, stats, {}, reference=reference)) == 2  # "drift"
    problems = executor.find_problems(SCHEMA, stats, {}, reference=reference, min_examples=1000)
    assert problems == [
        "[span] dataset: the span has 30 examples (eval 8, train 22), fewer than the 1000 "
        "required to validate and train on it (PipelineConfig.min_span_examples, `mtl run "
        "--min-span-examples`); no other check was run on so few examples"]
    assert executor.find_problems(SCHEMA, stats, {}, min_examples=30) == []


def _label(values) -> statistics_pb2.FeatureNameStatistics:
    """TFDV's numeric statistics of a label column (population std, as TFDV computes it)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    feature = statistics_pb2.FeatureNameStatistics(type=statistics_pb2.FeatureNameStatistics.INT)
    feature.path.step.append("click")
    num = feature.num_stats
    num.common_stats.num_non_missing = len(values)
    num.common_stats.tot_num_values = len(values)
    num.common_stats.avg_num_values = 1.0
    num.mean, num.std_dev = float(values.mean()), float(values.std())
    num.min, num.max = float(values.min()), float(values.max())
    num.num_zeros = int((values == 0).sum())
    return feature


def test_single_observed_value_from_the_statistics_by_hand():
    single = executor.single_observed_value
    assert single([_label([1] * 30)]) == (1.0, 30.0)  # every click is 1
    # 40 missing, 60 observed all 1: mean 0.2, variance 0.96 = (0.2 + 1)(1 - 0.2).
    value, observed = single([_label([-1] * 40 + [1] * 60)])
    assert value == 1.0 and observed == pytest.approx(60.0)
    value, observed = single([_label([-1] * 40 + [0] * 60)])  # every observed label is 0
    assert value == 0.0 and observed == pytest.approx(60.0)
    # One 0 among 99 ones and 40 missing: variance falls 1/140 short of the bound.
    assert single([_label([-1] * 40 + [0] + [1] * 99)]) is None
    assert single([_label([0, 1] * 10)]) is None
    assert single([_label([-1] * 5)]) is None  # all missing: reported on its own
    # A regression label: one value 12.5 among missing ones; and real spread.
    value, observed = single([_label([-1.0] * 3 + [12.5] * 7)])
    assert value == 12.5 and observed == pytest.approx(7.0)
    assert single([_label([-1.0, 3.0, 12.5, 40.0])]) is None
    # Pooled over the splits: train has both classes, eval only ones.
    assert single([_label([0, 1, 1]), _label([1, 1])]) is None
    assert single([_label([-1, 1, 1]), _label([1, 1])])[0] == 1.0


def test_a_label_with_one_observed_value_in_the_span_is_refused_naming_it():
    def split(values):
        stats = _stats({"ios": len(values) // 2, "web": len(values) - len(values) // 2})
        stats.datasets[0].features.append(_label(values))
        return stats

    stats = {"train": split([1] * 80), "eval": split([1] * 20)}
    problems = executor.find_problems(SCHEMA, stats, {}, label_keys=("click",))
    assert problems == [
        "[span] feature 'click': the label has a single observed value in this span: all 100 "
        "observed labels are 1; its task can be neither trained nor evaluated on one value "
        "(expected: INT, present in 100% of examples, values in [-1, 1])"]
    healthy = {"train": split([0, 1] * 40), "eval": split([1] * 20)}
    assert executor.find_problems(SCHEMA, healthy, {}, label_keys=("click",)) == []
