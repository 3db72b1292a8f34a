"""The rules `mtl spec init` drafts by, each on tiny data written here: strings with spaces
(categorical, text or ids), integer codes, columns absent from most examples or holding one
value, labels with no observed value. Exact drafted kinds and comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from models.spec import ProblemSpec
from pipeline.data import draft as draft_lib
from tests.support.real_tables import draft_frame as _draft

N = 400


def _base(n: int = N, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"amount": np.round(rng.normal(50, 10, n), 2), "click": rng.integers(0, 2, n)}


def _entry(draft, name: str) -> dict:
    entry = next(e for e in draft.features if e.name == name)
    return {f.key: (f.value, f.comment) for f in entry.fields}


def _loads(draft) -> ProblemSpec:
    return ProblemSpec.from_dict(yaml.safe_load(draft.render()))


def test_multi_word_names_are_categorical_with_the_measure_in_the_comment():
    # 60 company names: a word of their own and a common suffix, one per example.
    names = [f"Firm{i} {('Inc', 'LLC', 'Group')[i % 3]}" for i in range(60)]
    frame = pd.DataFrame({**_base(), "company": [names[i % 60] for i in range(N)]})
    draft = _draft(frame, ["click:binary"], input_format="csv")
    assert _entry(draft, "company")["kind"] == (
        "categorical",
        "one string with spaces per example, 60 distinct values; not ids: 0% of 60 values are "
        "made only of words that recur in other values (ids: at least 80% of 20 or more); "
        "not text: 2.0 words per value on average, 15% of the values distinct, 5% of the "
        "words alphabetic (text: at least 5 words, 50% distinct, 50% alphabetic)")
    assert _loads(draft).feature("company").kind == "categorical"


def test_whitespace_separated_ids_in_a_csv_column_are_a_sequence():
    rng = np.random.default_rng(1)
    viewed = [" ".join(f"p{k}" for k in rng.integers(0, 30, rng.integers(1, 5)))
              for _ in range(N)]
    draft = _draft(pd.DataFrame({**_base(), "viewed": viewed}), ["click:binary"],
                   input_format="csv")
    kind, comment = _entry(draft, "viewed")["kind"]
    assert kind == "sequence"
    assert comment.startswith("whitespace-separated ids in one string: 100% of ")
    assert "values are made only of words that recur in other values (ids: at least 80% of " \
           "20 or more); up to 4 ids" in comment
    # The same strings in a TFRecord span are one string per example: a sequence there is a
    # list of values, so they are not drafted as one.
    draft = _draft(pd.DataFrame({**_base(), "viewed": viewed}), ["click:binary"])
    assert _entry(draft, "viewed")["kind"][0] == "categorical"


def test_long_varied_sentences_are_text():
    rng = np.random.default_rng(2)
    vocabulary = [f"{a}{b}" for a in ("good", "bad", "fine", "slow", "quick")
                  for b in ("ly", "ness", "er", "est", "ish", "ful")]
    reviews = [" ".join(rng.choice(vocabulary, rng.integers(6, 12))) for _ in range(N)]
    draft = _draft(pd.DataFrame({**_base(), "review": reviews}), ["click:binary"],
                   input_format="csv")
    entry = _entry(draft, "review")
    mean = np.mean([len(r.split()) for r in reviews])
    assert entry["kind"] == (
        "text", f"free text: {mean:.1f} words per value on average, 100% of the values "
                f"distinct, 100% of the words alphabetic (text: at least 5 words, 50% distinct, "
                f"50% alphabetic)")
    assert entry["max_length"] == (11, f"the most words in {N} values seen")
    assert entry["vocabulary_size"] == (50, "the 30 distinct words of those values, with room "
                                            "for more")
    review = _loads(draft).feature("review")
    assert (review.kind, review.max_length, review.vocabulary_size) == ("text", 11, 50)


def _codes(n: int, seed: int = 3) -> np.ndarray:
    """77 area codes of uneven popularity (as a city's areas are)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.arange(1, 78), n, p=rng.dirichlet(np.ones(77)))


def test_integer_codes_are_categorical_and_a_quantity_stays_numeric():
    n = 3000
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({**_base(n), "area": _codes(n),
                          "age": np.clip(rng.normal(40, 12, n).round(), 18, 90).astype(int)})
    draft = _draft(frame, ["click:binary"])
    area = draft_lib.code_measures({str(v): c for v, c in
                                    zip(*np.unique(frame["area"], return_counts=True))})
    age = draft_lib.code_measures({str(v): c for v, c in
                                   zip(*np.unique(frame["age"], return_counts=True))})
    assert area.is_code and not age.is_code
    entry = _entry(draft, "area")
    assert entry["kind"] == (
        "categorical",
        f"integer codes, not a quantity: {area.distinct} values in 1 .. 77; a smooth trend "
        f"explains {draft_lib._pct(area.trend)} of the counts per value (codes: under 50%), "
        f"neighbouring counts differ by {area.jumps:.1f}x sampling noise (codes: at least 2x)")
    assert area.trend < 0.5 and area.jumps >= 2
    assert entry["dtype"][0] == "int" and entry["vocabulary_size"][0] == 100
    kind, comment = _entry(draft, "age")["kind"]
    assert kind == "numeric" and comment.endswith(
        f"a quantity, not codes: a smooth trend explains {draft_lib._pct(age.trend)} of the "
        f"counts per value (codes: under 50%), neighbouring counts differ by {age.jumps:.1f}x "
        f"sampling noise (codes: at least 2x)")
    assert age.trend > 0.8
    spec = _loads(draft)
    assert (spec.feature("area").kind, spec.feature("area").dtype) == ("categorical", "int")


def test_the_code_measures_by_hand():
    # Counts 40, 10, 40, 10, ...: no trend to speak of, jumps far beyond sampling noise.
    jagged = draft_lib.code_measures({str(v): (10 if v % 2 else 40) for v in range(12)})
    assert jagged.distinct == 12 and jagged.trend < 0.5 and jagged.is_code
    # |10 - 40| / 40 = 0.75 and |40 - 10| / 10 = 3: median 1.875 (ten interior values); noise
    # 0.67 * sqrt(1.5 / neighbours), median of 0.67*sqrt(1.5/40) and 0.67*sqrt(1.5/10).
    noise = (0.67 * np.sqrt(1.5 / 40) + 0.67 * np.sqrt(1.5 / 10)) / 2
    assert jagged.jumps == pytest.approx(1.875 / noise)
    # A straight line of counts: the trend explains all but its ends.
    line = draft_lib.code_measures({str(v): 100 + 10 * v for v in range(12)})
    assert line.trend > 0.9 and not line.is_code


def test_rare_and_constant_columns_are_left_out_with_the_reason():
    rare = np.full(N, np.nan)
    rare[:19] = 1.5  # absent from 381 of 400 examples: 95.25%
    frame = pd.DataFrame({**_base(), "rare": rare, "everywhere": ["eu"] * N,
                          "fixed": np.full(N, 7)})
    draft = _draft(frame, ["click:binary"])
    assert [e.name for e in draft.features] == ["amount"]
    assert draft.left_out == [
        ("everywhere", "the same value ('eu') in every example that holds it: it cannot "
                       "inform the model"),
        ("fixed", "the same value (7) in every example that holds it: it cannot inform the "
                  "model"),
        ("rare", "absent from 381 of 400 examples (95%; more than 95%): too rare to learn "
                 "from")]
    text = draft.render()
    assert ("  #   rare: absent from 381 of 400 examples (95%; more than 95%): too rare to "
            "learn from\n") in text
    # At 95% absent (not more) the column stays, its absence in its comment.
    rare[19] = 2.5
    draft = _draft(pd.DataFrame({**_base(), "rare": rare}), ["click:binary"])
    assert _entry(draft, "rare")["name"] == ("rare", "absent from 380 examples (95%)")


def test_a_label_with_no_observed_value_is_named():
    frame = pd.DataFrame({**_base(), "y": np.full(N, np.nan)})
    with pytest.raises(draft_lib.DraftError, match=r"label 'y' is absent from every example "
                                                   r"\(an empty column\): no observed value"):
        _draft(frame, ["y:binary"])
    frame = pd.DataFrame({**_base(), "y": np.full(N, -1)})
    with pytest.raises(draft_lib.DraftError, match=r"label 'y': every value is -1 \(not "
                                                   r"observed\)"):
        _draft(frame, ["y:binary"])
