"""Drafting a spec from statistics (`pipeline.cli.spec_draft`): the rules of thumb, and labels that
do not fit their kind. Statistics come from small in-memory frames (no Beam), so these run in
seconds; `tests/pipeline/cli/test_spec_commands.py` drafts from span files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
import yaml

from models.spec import ProblemSpec
from pipeline.cli import spec_draft as draft_lib


def _stats(frame: pd.DataFrame, labels):
    categorical = [name for name, kind in labels if kind != "regression"]
    return tfdv.generate_statistics_from_dataframe(
        frame, stats_options=draft_lib.statistics_options(categorical))


def _draft(frame: pd.DataFrame, labels, **kwargs):
    labels = [draft_lib.parse_label(x) for x in labels]
    statistics = _stats(frame, labels)
    ints = draft_lib.categorical_ints(statistics, labels)
    categorical = (tfdv.generate_statistics_from_dataframe(
        frame[ints], stats_options=draft_lib.statistics_options(ints)) if ints else None)
    return draft_lib.draft(statistics, labels, name="t", categorical=categorical, **kwargs)


def _frame(n: int = 400, seed: int = 0, **extra) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {
        "shop": rng.choice(["a", "b", "c"], n),
        "amount": np.round(rng.lognormal(2, 1.3, n), 2),
        "age": rng.integers(18, 70, n),
        "click": rng.integers(0, 2, n),
    }
    columns.update(extra)
    return pd.DataFrame(columns)


def test_rules_of_thumb():
    assert [draft_lib.vocabulary_size(n) for n in (1, 4, 30, 955, 2992, 8757)] == [
        2, 5, 50, 2000, 5000, 20000]
    assert draft_lib.vocabulary_size(10**7) == draft_lib.VOCABULARY_CAP
    assert [draft_lib.embedding_dim(n) for n in (1, 4, 30, 955, 10**6)] == [4, 4, 11, 64, 64]


def test_the_yaml_writer_quotes_what_yaml_would_misread():
    tricky = ["yes", "no", "null", "1e5", "007", "a b", "x:y", "plain_name-1.2"]
    text = draft_lib._yaml({"values": tricky, "small": 0.00001, "big": 30.0, "neg": -99})
    assert yaml.safe_load(text) == {"values": tricky, "small": 0.00001, "big": 30, "neg": -99}


def test_a_draft_loads_and_explains_itself():
    frame = _frame(watch=np.where(np.arange(400) % 3 == 0, -1.0, np.arange(400) % 50 + 0.5),
                   level=np.arange(400) % 4 - 1)
    draft = _draft(frame, ["click:binary", "watch:regression", "level:multiclass"])
    text = draft.render()
    spec = ProblemSpec.from_dict(yaml.safe_load(text))
    kinds = {f.name: (f.kind, f.dtype) for f in spec.features}
    assert kinds == {"shop": ("categorical", "string"), "amount": ("numeric", "float"),
                     "age": ("numeric", "int")}
    assert spec.feature("shop").schema == {"domain": "closed"} and spec.slices == ("shop",)
    assert spec.feature("amount").transform == "log"
    assert spec.feature("age").transform == "z_score" and spec.feature("age").schema == {"min": 0}
    click, watch, level = spec.tasks
    assert (click.kind, click.missing_label, click.threshold) == ("binary", -1, 0.6)
    assert (watch.missing_label, watch.gate["change_mode"]) == (-1, "relative")
    observed = (np.arange(400) % 50 + 0.5)[np.arange(400) % 3 != 0]
    assert watch.scale == pytest.approx(observed.mean(), rel=0.05)
    assert watch.threshold == pytest.approx(observed.std(), rel=0.1)
    assert (level.num_classes, level.top_k, level.threshold) == (3, 2, 0.33)
    # Every proposal says why: each field of a feature but its name and dtype has a comment.
    lines = [line for line in text.splitlines() if line.startswith("    ")]
    assert all("#" in line for line in lines
               if not line.strip().startswith(("dtype:", "label:", "top_k:")))
    assert "# 3 values: any other value is an anomaly" in text


def test_int_ids_and_int_lists_are_categorical_and_sequences():
    rng = np.random.default_rng(1)
    items = rng.integers(100, 160, 400)
    frame = _frame(item_id=items, recent=[list(rng.choice(items, k)) for k in
                                          rng.integers(1, 8, 400)])
    spec = ProblemSpec.from_dict(_draft(frame, ["click:binary"]).to_dict())
    item, recent = spec.feature("item_id"), spec.feature("recent")
    assert (item.kind, item.dtype, item.vocabulary_size) == ("categorical", "int", 100)
    assert (recent.kind, recent.dtype, recent.vocabulary, recent.max_length) == (
        "sequence", "int", "item_id", 7)


def test_a_sequence_of_other_values_gets_its_own_vocabulary():
    rng = np.random.default_rng(2)
    frame = _frame(tags=[[f"t{i}" for i in rng.integers(0, 30, k)] for k in
                         rng.integers(1, 80, 400)])
    tags = ProblemSpec.from_dict(_draft(frame, ["click:binary"]).to_dict()).feature("tags")
    assert tags.vocabulary is None and tags.vocabulary_size == 50
    assert tags.max_length == draft_lib.MAX_LENGTH_CAP


def test_ignored_features_are_left_out():
    draft = _draft(_frame(), ["click:binary"], ignore=("age",))
    assert [e.name for e in draft.features] == ["shop", "amount"]
    with pytest.raises(draft_lib.DraftError, match="--ignore 'nope': no such feature"):
        _draft(_frame(), ["click:binary"], ignore=("nope",))


@pytest.mark.parametrize("column,label,message", [
    (None, "nope:binary", "label 'nope' is not in the data; its features"),
    (np.arange(400) % 3, "y:binary", "label 'y' has the values [2]; a binary label is 0 or 1"),
    (np.where(np.arange(400) % 2, "yes", "no"), "y:binary", "label 'y' holds strings"),
    (np.arange(400) % 2 * 1.0, "y:binary", "label 'y' holds floats; a binary label is an integer"),
    (np.arange(400) % 4 - 2, "y:binary", "label 'y' has several negative values [-2, -1]"),
    (np.where(np.arange(400) % 2, 0, -1), "y:multiclass", "label 'y': the only class id is 0"),
    (np.arange(400) - 200.0, "y:regression", "label 'y' has negative values other than its "
                                              "smallest, -200"),
    (np.full(400, -1), "y:regression", "label 'y': every value is -1 (not observed)"),
])
def test_a_label_that_does_not_fit_its_kind_is_an_error_naming_it(column, label, message):
    frame = _frame() if column is None else _frame(y=column)
    with pytest.raises(draft_lib.DraftError, match=re.escape(message)):
        _draft(frame, [label], described="the data")


@pytest.mark.parametrize("text,message", [
    ("click", "--label expects NAME:KIND"),
    ("click:ranking", "label 'click': unknown kind 'ranking'"),
    ("a b:binary", "label 'a b': a task is named after its label"),
])
def test_label_flags(text, message):
    with pytest.raises(draft_lib.DraftError, match=message):
        draft_lib.parse_label(text)
