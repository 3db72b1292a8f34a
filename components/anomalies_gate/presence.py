"""How many examples hold a value of a feature, read from TFDV statistics.

TFDV counts a feature as present in an example when the example has the feature, even with no
value in it. CsvExampleGen writes an empty CSV cell as exactly that (the feature with an empty
value list), so TFDV's own presence (`num_non_missing`, which ExampleValidator's
`presence.min_fraction` check reads) never sees an empty cell. Here an example holds a feature
when it holds at least one value of it, which reads an absent tf.Example feature and an empty
CSV cell alike:

  - every present example has a value (`min_num_values` >= 1): `num_non_missing`;
  - at most one value per example (a CSV cell, a single-valued feature): `tot_num_values`, the
    examples with a value;
  - a list that may be empty in some examples (a sequence of ids): `num_non_missing`; an empty
    list is a value there (no item viewed), an absent feature is not.

The curated schema's presence is computed this way when it is frozen (`pipeline.data.schema`)
and the gate checks each span's presence the same way (`executor.find_problems`).
"""

from __future__ import annotations


def common_stats(feature_stats):
    """The CommonStatistics of a FeatureNameStatistics of any type."""
    for field in ("num_stats", "string_stats", "bytes_stats", "struct_stats"):
        if feature_stats.HasField(field):
            return getattr(feature_stats, field).common_stats
    return None


def present_count(feature_stats) -> int:
    """The examples holding at least one value of the feature (see the module docstring)."""
    if feature_stats is None:
        return 0
    common = common_stats(feature_stats)
    if common is None:
        return 0
    counted = (common.max_num_values > 0 or common.tot_num_values > 0
               or common.HasField("num_values_histogram"))
    if common.min_num_values >= 1 or not counted:
        return int(common.num_non_missing)
    if common.max_num_values <= 1:
        return int(common.tot_num_values)
    return int(common.num_non_missing)


def present_fraction(feature_stats, num_examples: int) -> float:
    """`present_count` over the examples (0.0 for a dataset without examples)."""
    if num_examples <= 0:
        return 0.0
    return min(1.0, present_count(feature_stats) / num_examples)
