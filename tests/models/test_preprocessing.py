"""preprocessing_fn through tf.Transform (Beam, in memory) on a few rows, exact expectations."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models.preprocessing import preprocessing_fn
from tests.support import default_problem as features

RAW_SPEC = {
    **{k: tf.io.FixedLenFeature([], tf.string) for k in features.CATEGORICAL_FEATURES},
    "price": tf.io.FixedLenFeature([], tf.float32),
    "item_ctr_7d": tf.io.FixedLenFeature([], tf.float32),
    "user_age": tf.io.FixedLenFeature([], tf.int64),
    "hour": tf.io.FixedLenFeature([], tf.int64),
    "history_item_ids": tf.io.VarLenFeature(tf.string),
    "click": tf.io.FixedLenFeature([], tf.int64),
    "conversion": tf.io.FixedLenFeature([], tf.int64),
    "watch_time": tf.io.FixedLenFeature([], tf.float32),
    "like": tf.io.FixedLenFeature([], tf.int64),
}


def _row(item, history, price, click, conversion, watch, like):
    return {
        "user_id": b"u1", "item_id": item, "category": b"c1", "device": b"ios",
        "price": price, "item_ctr_7d": 0.5, "user_age": 30, "hour": 20,
        "history_item_ids": history, "click": click, "conversion": conversion,
        "watch_time": watch, "like": like,
    }


ROWS = [
    _row(b"a", [b"b", b"a", b"zzz"], 1.0, 1, 1, 12.5, 1),
    _row(b"a", [], 2.0, 0, -1, -1.0, -1),
    _row(b"a", [b"a"], 3.0, 1, 0, 0.0, -1),
    _row(b"b", [b"b"] * 25, 4.0, 0, -1, -1.0, -1),
]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    temp = str(tmp_path_factory.mktemp("tft"))
    with tft_beam.Context(temp_dir=temp, force_tf_compat_v1=False):
        (data, _), transform_fn = (ROWS, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False
        )
    out_dir = str(tmp_path_factory.mktemp("tft_out"))
    _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
    return data, tft.TFTransformOutput(out_dir)


def test_numeric_features_are_z_scored(transformed):
    data, _ = transformed
    mean, std = 2.5, math.sqrt(1.25)  # population std of 1, 2, 3, 4
    got = [row["price_xf"] for row in data]
    np.testing.assert_allclose(got, [(p - mean) / std for p in (1, 2, 3, 4)], rtol=1e-5)
    # A constant feature z-scores to 0, not NaN.
    assert all(row["user_age_xf"] == 0.0 for row in data)


def test_ids_use_a_frequency_vocabulary_with_an_oov_bucket(transformed):
    data, output = transformed
    # "a" (3 rows) is id 0, "b" (1 row) id 1.
    assert [row["item_id_xf"] for row in data] == [0, 0, 0, 1]
    assert output.vocabulary_size_by_name("item_id") == 2
    assert output.vocabulary_size_by_name("user_id") == 1


def test_history_maps_through_the_item_vocabulary_padded_and_truncated(transformed):
    data, _ = transformed
    length = features.HISTORY_LENGTH
    # ids shifted by one: 0 is padding, "a" -> 1, "b" -> 2, unseen "zzz" -> OOV 2 + 1 = 3.
    assert list(data[0]["history_item_ids_xf"]) == [2, 1, 3] + [0] * (length - 3)
    assert list(data[1]["history_item_ids_xf"]) == [0] * length
    assert list(data[2]["history_item_ids_xf"]) == [1] + [0] * (length - 1)
    assert list(data[3]["history_item_ids_xf"]) == [2] * length


def test_task_masks_and_clipped_labels(transformed):
    data, _ = transformed
    assert [row["click_weight"] for row in data] == [1, 1, 1, 1]
    assert [row["conversion_weight"] for row in data] == [1, 0, 1, 0]
    assert [row["conversion_label"] for row in data] == [1, 0, 0, 0]
    assert [row["watch_time_weight"] for row in data] == [1, 0, 1, 0]
    assert [row["watch_time_label"] for row in data] == [12.5, 0.0, 0.0, 0.0]
    assert [row["like_weight"] for row in data] == [1, 0, 0, 0]
    assert [row["like_label"] for row in data] == [1, 0, 0, 0]


def test_transformed_schema_has_every_model_input_and_task_column(transformed):
    _, output = transformed
    spec = output.transformed_feature_spec()
    expected = set(features.model_input_keys())
    for task in features.TASKS:
        expected |= {features.label_name(task), features.weight_name(task)}
    assert set(spec) == expected
    assert spec["history_item_ids_xf"].shape == [features.HISTORY_LENGTH]


def test_a_missing_label_column_names_the_task():
    spec = {k: v for k, v in RAW_SPEC.items() if k != "like"}
    with tf.Graph().as_default():
        inputs = {}
        for key, value in spec.items():
            if isinstance(value, tf.io.VarLenFeature):
                inputs[key] = tf.sparse.from_dense(tf.constant([[b"a"]]))
            else:
                inputs[key] = tf.zeros([1], value.dtype)
        with pytest.raises(ValueError, match="task 'like'.*'like'"):
            preprocessing_fn(inputs)


def test_non_finite_numerics_take_the_default_before_z_scoring():
    """NaN / inf (a bad serving request) become the default 0, then z-score like any 0."""
    rows = [dict(ROWS[0], price=p) for p in (2.0, 4.0)]
    rows += [dict(ROWS[0], price=float("nan")), dict(ROWS[0], price=float("inf"))]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    import tempfile

    with tempfile.TemporaryDirectory() as temp, tft_beam.Context(temp_dir=temp,
                                                                   force_tf_compat_v1=False):
        (data, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False
        )
    # Values seen by the analyzer: 2, 4, 0, 0 -> mean 1.5, population std sqrt(2.75).
    mean, std = 1.5, math.sqrt(2.75)
    got = [row["price_xf"] for row in data]
    np.testing.assert_allclose(got, [(v - mean) / std for v in (2, 4, 0, 0)], rtol=1e-5)


def test_an_optional_multiclass_task_gets_its_mask_and_clipped_class_id():
    """With custom_config {"extra_tasks": ["engagement_level"]} (what the Transform component
    passes), the optional label, sparse because it may be absent, becomes mask and class id."""
    spec = dict(RAW_SPEC, engagement_level=tf.io.VarLenFeature(tf.int64))
    levels = [[2], [-1], [], [1]]  # observed, missing, absent from the example, observed
    rows = [dict(row, engagement_level=level) for row, level in zip(ROWS, levels)]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    import tempfile

    def with_engagement(inputs):
        return preprocessing_fn(inputs, {"extra_tasks": ["engagement_level"]})

    with tempfile.TemporaryDirectory() as temp, tft_beam.Context(temp_dir=temp,
                                                                   force_tf_compat_v1=False):
        (data, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            with_engagement, output_record_batches=False
        )
    assert [row["engagement_level_weight"] for row in data] == [1, 0, 0, 1]
    assert [row["engagement_level_label"] for row in data] == [2, 0, 0, 1]
    # Without the option the task is not produced, whatever the data holds.
    with tf.Graph().as_default():
        inputs = {k: (tf.sparse.from_dense(tf.constant([[b"a"]])) if k == "history_item_ids"
                      else tf.zeros([1], v.dtype)) for k, v in RAW_SPEC.items()}
        assert "engagement_level_label" not in preprocessing_fn(inputs)
