"""Serving-side decoding of text tasks: entities and answers in character offsets of the raw
(UTF-8) text, conlleval chunking, empty texts."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models import text as text_lib
from models.spec import ProblemSpec
from tests.support.text_problem import SPEC, TAGS

PROBLEM = ProblemSpec.from_dict(SPEC)
TEXT = "José Lima visitó São Paulo ayer"
# Byte offsets of the whitespace tokens of TEXT (é and ã take two bytes).
STARTS = [0, 6, 11, 19, 24, 30]
ENDS = [5, 10, 18, 23, 29, 34]


def _pad(values, length=8, fill=-1):
    return values + [fill] * (length - len(values))


def _tags(names, length=8):
    ids = [TAGS.index(n) for n in names] + [0] * (length - len(names))
    return tf.one_hot([ids], len(TAGS))


def test_entities_come_out_in_characters_in_text_order():
    out = text_lib.decode_entities(
        PROBLEM.task("entities"), _tags(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]),
        tf.constant([TEXT]), tf.constant([_pad(STARTS)], tf.int64),
        tf.constant([_pad(ENDS)], tf.int64))
    starts = out["entities_start"].numpy()[0].tolist()
    ends = out["entities_end"].numpy()[0].tolist()
    types = [t.decode() for t in out["entities_type"].numpy()[0]]
    assert starts[:3] == [0, 17, -1] and ends[:2] == [9, 26]
    assert types[:3] == ["PER", "LOC", ""]
    assert TEXT[0:9] == "José Lima" and TEXT[17:26] == "São Paulo"


def test_chunks_follow_conlleval():
    # I-PER after O starts a chunk; I-LOC after I-PER starts another one; B-PER B-PER are two.
    out = text_lib.decode_entities(
        PROBLEM.task("entities"), _tags(["I-PER", "I-LOC", "O", "B-PER", "B-PER", "O"]),
        tf.constant([TEXT]), tf.constant([_pad(STARTS)], tf.int64),
        tf.constant([_pad(ENDS)], tf.int64))
    types = [t.decode() for t in out["entities_type"].numpy()[0]]
    assert types[:5] == ["PER", "LOC", "PER", "PER", ""]
    assert out["entities_end"].numpy()[0][:4].tolist() == [4, 9, 20, 26]


def test_the_answer_is_the_best_span_within_the_length_limit():
    p = np.full((1, 2, 8), 1e-3, np.float32)
    p[0, 0, 3], p[0, 1, 4] = 0.9, 0.8  # "São Paulo"
    p[0, 1, 2] = 0.85  # an end before the start is not a span
    out = text_lib.decode_answer(PROBLEM.task("answer"), tf.constant(p), tf.constant([TEXT]),
                                 tf.constant([_pad(STARTS)], tf.int64),
                                 tf.constant([_pad(ENDS)], tf.int64))
    assert out["answer_text"].numpy()[0].decode() == "São Paulo"
    assert (out["answer_start"].numpy()[0], out["answer_end"].numpy()[0]) == (17, 26)
    assert abs(out["answer_score"].numpy()[0] - 0.72) < 1e-5


def test_an_empty_text_has_no_entity_and_no_answer():
    empty = tf.constant([_pad([])], tf.int64)
    entities = text_lib.decode_entities(PROBLEM.task("entities"), _tags(["B-PER"] * 8),
                                        tf.constant([""]), empty, empty)
    assert entities["entities_start"].numpy().max() == -1
    answer = text_lib.decode_answer(PROBLEM.task("answer"), tf.fill([1, 2, 8], 0.125),
                                    tf.constant([""]), empty, empty)
    assert answer["answer_text"].numpy()[0] == b"" and answer["answer_start"].numpy()[0] == -1
