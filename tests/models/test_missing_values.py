"""Imputation of optional features inside the tf.Transform graph, exact values on a few rows.

Rows are parsed as a pipeline parses them: an optional feature is a sparse (VarLen) feature,
absent where a row has no value.
"""

from __future__ import annotations

import functools
import math
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models.preprocessing import preprocessing_fn
from models.spec import INT64_MIN, ProblemSpec

SPEC = ProblemSpec.from_dict({
    "name": "absent",
    "features": [
        {"name": "tag", "kind": "categorical", "vocabulary_size": 10},
        {"name": "city", "kind": "categorical", "vocabulary_size": 10},
        {"name": "age", "kind": "numeric", "dtype": "int"},
        {"name": "income", "kind": "numeric", "transform": "log"},
        {"name": "minutes", "kind": "numeric", "transform": "bucketize", "buckets": 2},
        {"name": "seen", "kind": "sequence", "max_length": 3, "vocabulary_size": 10},
        {"name": "visited", "kind": "sequence", "max_length": 2, "vocabulary": "tag"},
    ],
    "tasks": [{"name": "y", "kind": "binary", "gate": {"bound": 0.5, "max_change": 0.1}}],
}).with_optional(["city", "age", "income", "minutes", "seen", "visited"])

RAW_SPEC = {
    "tag": tf.io.FixedLenFeature([], tf.string),
    "city": tf.io.VarLenFeature(tf.string),
    "age": tf.io.VarLenFeature(tf.int64),
    "income": tf.io.VarLenFeature(tf.float32),
    "minutes": tf.io.VarLenFeature(tf.float32),
    "seen": tf.io.VarLenFeature(tf.string),
    "visited": tf.io.VarLenFeature(tf.string),
    "y": tf.io.FixedLenFeature([], tf.int64),
}

E = math.e
ROWS = [
    {"tag": b"t", "city": [b"a"], "age": [20], "income": [0.0], "minutes": [1.0],
     "seen": [b"x", b"y"], "visited": [b"t"], "y": 1},
    {"tag": b"t", "city": [b"a"], "age": [30], "income": [E - 1], "minutes": [2.0],
     "seen": [], "visited": [], "y": 0},
    {"tag": b"u", "city": [b"b"], "age": [], "income": [], "minutes": [3.0],
     "seen": [], "visited": [b"zzz"], "y": 1},
    {"tag": b"t", "city": [], "age": [40], "income": [], "minutes": [],
     "seen": [b"x"], "visited": [], "y": 0},
]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    fn = functools.partial(preprocessing_fn, custom_config={"spec": SPEC.to_dict()})
    with tempfile.TemporaryDirectory() as temp, tft_beam.Context(temp_dir=temp,
                                                                   force_tf_compat_v1=False):
        (data, _), transform_fn = (ROWS, metadata) | tft_beam.AnalyzeAndTransformDataset(
            fn, output_record_batches=False)
        out = str(tmp_path_factory.mktemp("tft_out"))
        _ = transform_fn | tft_beam.WriteTransformFn(out)
    return data, tft.TFTransformOutput(out)


def _column(data, key):
    return [row[key].tolist() if hasattr(row[key], "tolist") else row[key] for row in data]


def test_an_absent_number_is_the_mean_of_the_present_ones_with_an_indicator(transformed):
    data, _ = transformed
    # ages 20, 30, 40 present: mean 30, population std sqrt(200/3); the absent one is 30.
    std = math.sqrt(200 / 3)
    np.testing.assert_allclose(_column(data, "age_xf"), [-10 / std, 0, 0, 10 / std], rtol=1e-5)
    assert _column(data, "age_missing") == [0.0, 0.0, 1.0, 0.0]
    # log1p(0) = 0, log1p(e - 1) = 1: mean 0.5, std 0.5; the two absent ones are the mean.
    np.testing.assert_allclose(_column(data, "income_xf"), [-1, 1, 0, 0], atol=1e-5)
    assert _column(data, "income_missing") == [0.0, 0.0, 1.0, 1.0]


def test_an_absent_bucketized_number_falls_in_the_bucket_of_the_mean(transformed):
    data, _ = transformed
    buckets = _column(data, "minutes_xf")
    # present 1, 2, 3: mean 2, so the absent row is in 2's bucket.
    assert buckets[3] == buckets[1]
    assert buckets[0] != buckets[2]
    assert _column(data, "minutes_missing") == [0.0, 0.0, 0.0, 1.0]


def test_an_absent_id_has_a_missing_id_after_the_oov_bucket(transformed):
    data, output = transformed
    # vocabulary of the present values: a (2 rows) 0, b 1; OOV bucket 2; missing id 3.
    assert output.vocabulary_size_by_name("city") == 2
    assert _column(data, "city_xf") == [0, 0, 1, 3]
    # A required feature keeps its ids, and gets neither indicator nor missing id.
    assert _column(data, "tag_xf") == [0, 0, 1, 0]
    assert "tag_missing" not in data[0] and "city_missing" not in data[0]


def test_a_sequence_without_an_id_is_one_missing_id(transformed):
    data, output = transformed
    # own vocabulary x 0, y 1 (+1: 0 is padding), OOV 2 -> 3, missing 3 -> 4.
    assert output.vocabulary_size_by_name("seen") == 2
    assert _column(data, "seen_xf") == [[1, 2, 0], [4, 0, 0], [4, 0, 0], [1, 0, 0]]
    # Sharing tag's vocabulary (t 0, u 1; OOV 2; missing 3), shifted by one.
    assert _column(data, "visited_xf") == [[1, 0], [4, 0], [3, 0], [4, 0]]


def test_model_inputs_name_the_indicators_of_optional_numbers_only():
    assert SPEC.model_input_keys() == (
        "tag_xf", "city_xf", "age_xf", "income_xf", "minutes_xf", "seen_xf", "visited_xf",
        "age_missing", "income_missing", "minutes_missing")
    assert SPEC.has_missing_id("tag") and SPEC.has_missing_id("city")
    assert SPEC.has_missing_id("seen")
    required = ProblemSpec.from_dict({**SPEC.to_dict(), "features": [
        {k: v for k, v in f.to_dict().items() if k != "optional"} for f in SPEC.features]})
    assert not any(required.has_missing_id(name) for name in ("tag", "city", "seen"))
    assert required.model_input_keys()[-1] == "visited_xf"


def test_the_spec_carries_which_features_are_optional():
    again = ProblemSpec.from_dict(SPEC.to_dict())
    assert [f.name for f in again.optional_features] == [
        "city", "age", "income", "minutes", "seen", "visited"]
    assert again.feature("age").absent_value == INT64_MIN
    assert math.isnan(again.feature("income").absent_value)
    assert again.feature("city").absent_value == "" and again.feature("seen").absent_value == ""
