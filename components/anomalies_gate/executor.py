"""AnomaliesGate executor: refuse a span with anomalies, naming each feature and what was expected.

First, the span's size: fewer examples (train and eval splits together) than `min_examples`
refuse the span with that count and nothing else, since on so few examples the distribution
checks below would only report noise (a 30-example span reads as "drift"). Then, per split
(train and eval):
  1. ExampleValidator's anomalies (the span against the curated schema: presence, types,
     domains, ranges, NaN/inf);
  2. drift: TFDV's drift comparators of the schema (`drift_comparator`) against the reference
     statistics frozen with the schema (ExampleValidator does not compare distributions);
  3. labels: every label feature in `label_keys` has at least one observed (>= 0) value; a
     span where a task's labels are all missing would train that task's head on nothing.
Last, over the whole span: a label whose observed values are all one value (every label of a
binary task is 1, say) is refused, naming the label and the value: a task cannot be trained to
rank, nor evaluated, on one class. The statistics tell it exactly: the labels lie in {its
negative missing sentinel} and [0, max] (the curated schema's domain), and a distribution
on [min, max] has variance (mean - min)(max - mean) only when all its mass sits on min and
max (the Bhatia-Davis bound).

Any finding stops the run with `AnomaliesFoundError` (the gate's output, the validated schema,
is never published, so Transform and Trainer never start), unless `allow_anomalies` is set: the
findings are then logged as warnings and the run goes on.
"""

from __future__ import annotations

import json
import os
from typing import Any

from absl import logging
from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.anomalies_gate import presence, spec

ANOMALIES_FILE = "SchemaDiff.pb"
SCHEMA_FILE = "schema.pbtxt"


class AnomaliesFoundError(RuntimeError):
    """The span failed validation; the message lists each anomalous feature."""


def _feature_name(feature) -> str:
    return ".".join(feature.path.step) if feature.path.step else feature.name


def expected_of(schema, name: str) -> str:
    """What the curated schema expects of feature `name`, in words."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    feature = next((f for f in schema.feature if f.name == name), None)
    if feature is None:
        return "no such feature in the schema"
    parts = [schema_pb2.FeatureType.Name(feature.type)]
    if feature.HasField("presence") and feature.presence.min_fraction:
        least = "" if feature.presence.min_fraction >= 1 else "at least "
        parts.append(f"present in {least}{feature.presence.min_fraction:.0%} of examples")
    kind = feature.WhichOneof("domain_info")
    if kind == "int_domain":
        d = feature.int_domain
        parts.append(f"values in [{d.min if d.HasField('min') else '-inf'}, "
                     f"{d.max if d.HasField('max') else 'inf'}]")
    elif kind == "float_domain":
        d = feature.float_domain
        parts.append(f"values in [{d.min if d.HasField('min') else '-inf'}, "
                     f"{d.max if d.HasField('max') else 'inf'}]")
        if d.disallow_nan or d.disallow_inf:
            parts.append("finite")
    elif kind == "string_domain":
        values = list(feature.string_domain.value)
        shown = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
        parts.append(f"one of {{{shown}}}")
        if feature.distribution_constraints.min_domain_mass:
            parts.append(f"at least {feature.distribution_constraints.min_domain_mass:.0%} "
                         f"of values in that set")
    if feature.HasField("drift_comparator"):
        comp = feature.drift_comparator
        if comp.HasField("infinity_norm"):
            parts.append(f"L-infinity distance to the reference <= {comp.infinity_norm.threshold}")
        if comp.HasField("jensen_shannon_divergence"):
            parts.append("Jensen-Shannon divergence to the reference <= "
                         f"{comp.jensen_shannon_divergence.threshold}")
    return ", ".join(parts)


def span_size_problem(statistics_by_split: dict, min_examples: int) -> str | None:
    """The span's example count when it is below `min_examples` (None: big enough)."""
    counts = {split: int(stats.datasets[0].num_examples) if stats.datasets else 0
              for split, stats in sorted(statistics_by_split.items())}
    total = sum(counts.values())
    if total >= min_examples:
        return None
    by_split = ", ".join(f"{split} {count}" for split, count in counts.items())
    return (f"[span] dataset: the span has {total} examples ({by_split}), fewer than the "
            f"{min_examples} required to validate and train on it (PipelineConfig."
            f"min_span_examples, `mtl run --min-span-examples`); no other check was run on so "
            f"few examples")


def _num_values(feature) -> float:
    common = feature.num_stats.common_stats
    return float(common.tot_num_values or common.num_non_missing * (common.avg_num_values or 1))


def single_observed_value(features: list) -> tuple[float, float] | None:
    """(value, observed count) when every observed (>= 0) value of a label is the same value,
    pooled over the splits' `FeatureNameStatistics` of that label; None otherwise, or when
    no value is observed (reported as "every label is missing")."""
    n = sum(_num_values(f) for f in features)
    if n <= 0:
        return None
    low = min(f.num_stats.min for f in features)
    high = max(f.num_stats.max for f in features)
    if high < 0:
        return None
    if low >= 0:
        return (high, n) if low == high else None
    mean = sum(_num_values(f) * f.num_stats.mean for f in features) / n
    square = sum(_num_values(f) * (f.num_stats.std_dev ** 2 + f.num_stats.mean ** 2)
                 for f in features) / n
    variance = square - mean * mean
    # Bhatia-Davis: variance <= (mean - low)(high - mean), equal only for values on {low, high}.
    gap = (mean - low) * (high - mean) - variance
    if gap > 1e-9 * (high - low) ** 2:
        return None
    return high, n * (mean - low) / (high - low)


def presence_problems(schema, stats, reported=frozenset()) -> list[tuple[str, str]]:
    """(feature, what was found) for each feature of the schema held by fewer examples than its
    `presence.min_fraction`, counting an empty value list (an empty CSV cell) as absent
    (`presence`), which ExampleValidator does not; features it already reported, or absent
    from the statistics altogether (a dropped column, which it reports), are left to its
    message."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    dataset = stats.datasets[0]
    total = int(dataset.num_examples)
    by_name = {_feature_name(f): f for f in dataset.features}
    out = []
    for feature in schema.feature:
        minimum = feature.presence.min_fraction if feature.HasField("presence") else 0.0
        if (feature.lifecycle_stage == schema_pb2.DEPRECATED or minimum <= 0 or total <= 0
                or feature.name in reported or feature.name not in by_name):
            continue
        count = presence.present_count(by_name[feature.name])
        if count / total < minimum:
            out.append((feature.name, f"holds a value in {count / total:.1%} of the examples "
                                      f"({count} of {total}), fewer than the {minimum:.0%} the "
                                      f"curated schema requires (an absent feature or an empty "
                                      f"cell has no value)"))
    return out


def find_problems(schema, statistics_by_split: dict, anomalies_by_split: dict,
                  reference=None, label_keys: tuple[str, ...] = (),
                  min_examples: int = 0) -> list[str]:
    """One line per problem: split, feature, what was found and what the schema expects."""
    import tensorflow_data_validation as tfdv

    size = span_size_problem(statistics_by_split, min_examples)
    if size:
        return [size]
    problems = []

    def add(split: str, name: str, found: str) -> None:
        problems.append(f"[{split}] feature {name!r}: {found} (expected: {expected_of(schema, name)})")

    label_stats: dict[str, list] = {}

    for split in sorted(statistics_by_split):
        anomalies = anomalies_by_split.get(split)
        if anomalies is not None:
            for name, info in sorted(anomalies.anomaly_info.items()):
                add(split, name, info.description or info.short_description)
            if anomalies.HasField("dataset_anomaly_info"):
                info = anomalies.dataset_anomaly_info
                problems.append(f"[{split}] dataset: {info.description or info.short_description}")
        stats = statistics_by_split[split]
        if reference is not None:
            drift = tfdv.validate_statistics(stats, schema, previous_statistics=reference)
            for name, info in sorted(drift.anomaly_info.items()):
                reasons = [r for r in info.reason
                           if tfdv_reason_name(r.type).startswith("COMPARATOR_")]
                if reasons:
                    add(split, name, "distribution drift: "
                        + "; ".join(r.description for r in reasons))
        by_name = {_feature_name(f): f for f in stats.datasets[0].features}
        reported = set(anomalies.anomaly_info) if anomalies is not None else set()
        for name, found in presence_problems(schema, stats, reported):
            add(split, name, found)
        for key in label_keys:
            feature = by_name.get(key)
            if feature is None and key not in reported:
                # An optional task's label may be absent by schema; a run that trains the
                # task needs it.
                add(split, key, "absent from every example, but the run trains its task; "
                    "generate or import data carrying this label, or drop the task")
                continue
            if feature is None or not feature.HasField("num_stats"):
                continue  # absent or wrong type: ExampleValidator reports it
            label_stats.setdefault(key, []).append(feature)
            if feature.num_stats.max < 0:
                add(split, key, f"every label is missing (all values {feature.num_stats.max:g}); "
                    f"the task would train on nothing")
    for key, label_features in label_stats.items():
        single = single_observed_value(label_features)
        if single is not None:
            value, observed = single
            add("span", key, f"the label has a single observed value in this span: all "
                f"{observed:.0f} observed labels are {value:g}; its task can be neither trained "
                f"nor evaluated on one value")
    return problems


def tfdv_reason_name(value: int) -> str:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    return anomalies_pb2.AnomalyInfo.Type.Name(value)


def format_report(problems: list[str], span: int | None) -> str:
    # StatisticsGen leaves the span property at 0 (unknown) in TFX 1.16.
    where = f"span {span}" if span else "the newest span"
    lines = [f"{where} failed validation against the curated schema: {len(problems)} "
             f"problem(s); the run stops before Transform and Trainer and nothing is pushed:"]
    lines += [f"  - {p}" for p in problems]
    lines.append("Fix the data, re-freeze the schema if the change is intended "
                 "(`mtl schema freeze`), or re-run with --allow-anomalies.")
    return "\n".join(lines)


class Executor(base_executor.BaseExecutor):
    """Checks the span; raises `AnomaliesFoundError` or copies the schema to the output."""

    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        """Reads `spec.SCHEMA_KEY`, `spec.STATISTICS_KEY`, `spec.ANOMALIES_KEY` and
        `spec.ALLOW_ANOMALIES_KEY`, `spec.REFERENCE_STATISTICS_KEY`, `spec.LABEL_KEYS_KEY`,
        `spec.MIN_EXAMPLES_KEY`; writes the schema to `spec.VALIDATED_SCHEMA_KEY` when the span passes."""
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

        schema_uri = io_utils.get_only_uri_in_dir(
            artifact_utils.get_single_uri(input_dict[spec.SCHEMA_KEY]))
        schema = io_utils.SchemaReader().read(schema_uri)
        stats_artifact = artifact_utils.get_single_instance(input_dict[spec.STATISTICS_KEY])
        anomalies_artifact = artifact_utils.get_single_instance(input_dict[spec.ANOMALIES_KEY])

        statistics_by_split = {
            split: stats_artifact_utils.load_statistics(stats_artifact, split).proto()
            for split in artifact_utils.decode_split_names(stats_artifact.split_names)
        }
        anomalies_by_split = {}
        for split in artifact_utils.decode_split_names(anomalies_artifact.split_names):
            path = os.path.join(artifact_utils.get_split_uri([anomalies_artifact], split),
                                ANOMALIES_FILE)
            anomalies_by_split[split] = anomalies_pb2.Anomalies.FromString(
                io_utils.read_bytes_file(path))
        reference = None
        if exec_properties.get(spec.REFERENCE_STATISTICS_KEY):
            reference = text_format.Parse(exec_properties[spec.REFERENCE_STATISTICS_KEY],
                                          statistics_pb2.DatasetFeatureStatisticsList())
        label_keys = tuple(json.loads(exec_properties.get(spec.LABEL_KEYS_KEY) or "[]"))
        min_examples = int(exec_properties.get(spec.MIN_EXAMPLES_KEY) or 0)

        problems = find_problems(schema, statistics_by_split, anomalies_by_split, reference,
                                 label_keys, min_examples)
        span = stats_artifact.span if stats_artifact.has_property("span") else None
        if problems:
            report = format_report(problems, span)
            if not exec_properties.get(spec.ALLOW_ANOMALIES_KEY):
                raise AnomaliesFoundError(report)
            logging.warning("--allow-anomalies: going on despite:\n%s", report)
        output = artifact_utils.get_single_uri(output_dict[spec.VALIDATED_SCHEMA_KEY])
        io_utils.copy_file(schema_uri, os.path.join(output, SCHEMA_FILE), overwrite=True)
