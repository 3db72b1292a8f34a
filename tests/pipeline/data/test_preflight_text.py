"""A text problem's span is read against its tasks before any component: tag lists as long as
their text, known tags, answers inside their context; long texts are reported, not refused."""

from __future__ import annotations

import pytest

from models.spec import ProblemSpec
from pipeline.data.preflight import BadSpanError, check_latest_span
from tests.support import text_problem

SPEC = ProblemSpec.from_dict(text_problem.SPEC)


def _span(tmp_path, change=None):
    rows = text_problem.corpus(30)
    if change:
        change(rows)
    text_problem.write_span(tmp_path, 1, rows)
    return tmp_path


def test_a_healthy_span_passes_and_long_texts_are_reported(tmp_path):
    def lengthen(rows):
        rows[0]["text"] = " ".join(["word"] * 20)
        rows[0]["entity_tags"] = []
    notes = []
    assert check_latest_span(_span(tmp_path, lengthen), SPEC, SPEC.default_tasks, notes) == (1, 30)
    assert notes == ["1 of 30 'text' texts are longer than 12 words: truncated"]


@pytest.mark.parametrize("change,message", [
    (lambda rows: rows[1].update(entity_tags=rows[1]["entity_tags"][:-1]),
     "record 1: task 'entities': 6 tags for the 7 words of 'text'"),
    (lambda rows: rows[1].update(entity_tags=["B-XYZ"] + rows[1]["entity_tags"][1:]),
     "record 1: task 'entities': unknown tags ['B-XYZ']"),
    (lambda rows: rows[2].update(answer_end=500),
     "record 2: task 'answer': answer [33, 500) is not inside its 51-character 'text'"),
])
def test_a_bad_record_is_refused_with_its_file_record_and_problem(tmp_path, change, message):
    with pytest.raises(BadSpanError) as error:
        check_latest_span(_span(tmp_path, change), SPEC, SPEC.default_tasks)
    assert "span-1/part-0.tfrecord.gz" in str(error.value) and message in str(error.value)
