"""Text features and text tasks through tf.Transform (Beam, in memory): tokens, offsets,
truncation, tag ids and answer spans, exactly."""

from __future__ import annotations

import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from models.preprocessing import preprocessing_fn
from models.spec import ProblemSpec
from tests.support.text_problem import SPEC

RAW_SPEC = {
    "text": tf.io.FixedLenFeature([], tf.string),
    "question": tf.io.FixedLenFeature([], tf.string),
    "sentiment": tf.io.FixedLenFeature([], tf.int64),
    "entity_tags": tf.io.VarLenFeature(tf.string),
    "answer_start": tf.io.FixedLenFeature([], tf.int64),
    "answer_end": tf.io.FixedLenFeature([], tf.int64),
}
PARIS = "Ana Lima moved to Paris in May"
LONG = " ".join(["word"] * 13) + " Oslo"
ROWS = [
    # An entity example and a question whose answer is "Paris" (characters 18..23).
    {"text": PARIS.encode(), "question": b"Where did Ana move to ?", "sentiment": -1,
     "entity_tags": [b"B-PER", b"I-PER", b"O", b"O", b"B-LOC", b"O", b"O"],
     "answer_start": 18, "answer_end": 23},
    # A sentiment example with a non-ASCII word: offsets are bytes, the answer is in chars.
    {"text": "Café Déjà vu was NOT bad".encode(), "question": b"", "sentiment": 1,
     "entity_tags": [], "answer_start": 5, "answer_end": 12},
    # Longer than max_length (12): truncated; its answer (Oslo, the 14th word) is cut away.
    # Its question is one word longer than the question's max_length (6), the first one's is
    # exactly that long.
    {"text": LONG.encode(), "question": b"Which city is the last word ?", "sentiment": 0,
     "entity_tags": [],
     "answer_start": len(LONG) - 4, "answer_end": len(LONG)},
]


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
    config = {"spec": ProblemSpec.from_dict(SPEC).to_dict()}
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft")), force_tf_compat_v1=False):
        (data, _), fn = (ROWS, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing_fn(inputs, config), output_record_batches=False)
    out = str(tmp_path_factory.mktemp("out"))
    _ = fn | tft_beam.WriteTransformFn(out)
    return data, tft.TFTransformOutput(out)


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def test_tokens_are_normalised_padded_and_truncated_with_their_byte_offsets(transformed):
    data, output = transformed
    first, second, third = data
    assert _text(first["text_tokens"]) == ["ana", "lima", "moved", "to", "paris", "in", "may"] \
        + [""] * 5
    assert list(first["text_starts"][:3]) == [0, 4, 9] and first["text_starts"][7] == -1
    assert list(first["text_xf"][7:]) == [0] * 5 and min(first["text_xf"][:7]) >= 1
    # Case folding: NOT -> not; byte offsets of the raw UTF-8 string.
    assert _text(second["text_tokens"])[:6] == ["café", "déjà", "vu", "was", "not", "bad"]
    assert list(second["text_starts"][:3]) == [0, 6, 13]
    assert third["text_length"] == 14 and _text(third["text_tokens"])[-1] == "word"
    # The question shares the text's vocabulary: "ana" has one id in both.
    ana = first["text_xf"][0]
    assert first["question_xf"][2] == ana
    assert output.vocabulary_size_by_name("text") >= 20


def test_a_text_longer_than_its_max_length_is_flagged_truncated(transformed):
    data, output = transformed
    assert [row["text_length"] for row in data] == [7, 6, 14]
    assert [row["text_truncated"] for row in data] == [0, 0, 1]
    # The question's max_length is 6: 6 tokens are kept whole, 7 are truncated.
    assert [row["question_length"] for row in data] == [6, 0, 7]
    assert [row["question_truncated"] for row in data] == [0, 0, 1]
    spec = output.transformed_feature_spec()
    assert spec["text_truncated"] == tf.io.FixedLenFeature([], tf.int64)
    # Neither the flag nor the count is a model input.
    assert set(ProblemSpec.from_dict(SPEC).model_input_keys()) == {"text_xf", "question_xf"}


def test_tags_become_ids_and_an_untagged_example_weighs_nothing(transformed):
    data, _ = transformed
    first, second, _ = data
    assert list(first["entities_label"]) == [1, 2, 0, 0, 5, 0, 0] + [-1] * 5
    assert first["entities_weight"] == 1.0
    assert list(second["entities_label"]) == [-1] * 12 and second["entities_weight"] == 0.0


def test_answer_characters_become_tokens_and_a_truncated_answer_is_not_labelled(transformed):
    data, _ = transformed
    first, second, third = data
    assert list(first["answer_label"]) == [4, 4] and first["answer_weight"] == 1.0
    # "Déjà vu": characters 5..12 of a string with 2-byte letters, tokens 1..2.
    assert list(second["answer_label"]) == [1, 2] and second["answer_weight"] == 1.0
    assert list(third["answer_label"]) == [-1, -1] and third["answer_weight"] == 0.0
    assert [row["sentiment_weight"] for row in data] == [0.0, 1.0, 1.0]
