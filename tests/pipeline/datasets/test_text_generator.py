"""The embedded text data: the format, labels that follow the composition, held-out entries and
templates only in the eval split (bucketed as ExampleGen does), determinism, spans."""

import collections
import hashlib
import re

import pytest
import tensorflow as tf

from pipeline.datasets import text_examples as tx
from pipeline.datasets import text_generator as gen

HELDOUT_WORDS = {w for entries in gen.HELDOUT.values() for e in entries for w in e.split()}


@pytest.fixture(scope="module")
def generated():
    return gen.generate_examples(4000, seed=7, span=1)


def test_every_example_has_the_format(generated):
    kinds = collections.Counter()
    for example, info in generated:
        assert tx.problems(example) == [], example
        kinds[example.tasks()] += 1
        if example.entity_tags:
            assert len(example.entity_tags) == len(example.text.split(" "))
            assert set(example.entity_tags) <= set(tx.TAGS)
        if example.answer_start != tx.MISSING:
            assert example.text[example.answer_start:example.answer_end] == example.answer_text
            assert example.question.endswith("?")
        else:
            assert (example.answer_end, example.answer_text, example.question) == (-1, "", "")
        assert example.sentiment in (-1, 0, 1)
        assert not re.search(r"\b[Aa] [AEIOaeio]", example.text)  # "an Irish critic"
        assert (example.sentiment != -1) == (info.kind == tx.SENTIMENT_TASK)
    # One task each, or two: a quoted review with its tags, a paragraph with its tags.
    assert set(kinds) == {("sentiment",), ("entities",), ("qa",), ("sentiment", "entities"),
                          ("entities", "qa")}
    two = kinds[("sentiment", "entities")] + kinds[("entities", "qa")]
    assert two / len(generated) == pytest.approx(gen.TextMix().two_tasks, abs=0.03)
    labels = collections.Counter(e.sentiment for e, i in generated if i.kind == "sentiment")
    assert labels[0] / (labels[0] + labels[1]) == pytest.approx(0.5, abs=0.05)


def test_the_tags_mark_the_gazetteer_entries(generated):
    gazetteer = {"PER": None, "ORG": set(gen.COMPANIES) | set(gen.HELDOUT["org"]),
                 "LOC": set(gen.CITIES + gen.COUNTRIES + gen.HELDOUT["city"]
                            + gen.HELDOUT["country"]),
                 "MISC": set(gen.NATIONALITIES + gen.EVENTS + gen.HELDOUT["nat"]
                             + gen.HELDOUT["event"])}
    lengths = collections.Counter()
    for _, info in generated:
        for entity_type, words in info.entities:
            lengths[len(words.split())] += 1
            if entity_type == "PER":
                assert set(words.split()) <= set(gen.FIRST_NAMES + gen.LAST_NAMES
                                                 + gen.HELDOUT["first"] + gen.HELDOUT["last"])
            else:
                assert words in gazetteer[entity_type], (entity_type, words)
    assert {1, 2, 3} <= set(lengths)  # multi-word entities ("Rio de Janeiro": 3)


def _polarity(word: str) -> int:
    return 1 if word in gen.POSITIVE else 0


def _expected_sentiment(text: str) -> int:
    """The label by the composition rules, written apart from the generator's templates."""
    words = text.lower().split(" ")
    if ":" in words:  # "<critic> wrote : <review>"
        words = words[words.index(":") + 1:]
    adjectives = [i for i, w in enumerate(words) if w in gen.POSITIVE + gen.NEGATIVE]

    def clause(part: list[str]) -> int:
        adjective = [w for w in part if w in gen.POSITIVE + gen.NEGATIVE][-1]
        negated = "not" in part or "never" in part or "anything" in part
        return _polarity(adjective) ^ int(negated)

    if words[:3] == ["i", "expected", "to"]:  # "I expected to hate it , yet <verdict>"
        return clause(words[words.index(",") + 2:])
    if words[:2] == ["i", "expected"]:  # "I expected X to be A , and it was / but it was not"
        return _polarity(words[adjectives[0]]) ^ int(words[-2] == "not")
    if words[0] == "although":  # the main clause decides
        return clause(words[words.index(",") + 1:])
    if "but" in words and words[words.index("but") - 1] != "anything":
        return clause(words[words.index("but") + 1:])
    return clause(words)


def test_sentiment_follows_negation_contrast_and_expectation(generated):
    reviews = [(e, i) for e, i in generated if i.kind == "sentiment"]
    for example, info in reviews:
        assert example.sentiment == _expected_sentiment(example.text), (info.template,
                                                                         example.text)
    templates = {i.template for _, i in reviews}
    assert templates == {t.name for t in gen.SENTIMENT_TEMPLATES}
    # Known templates, by hand.
    assert _expected_sentiment("The plot was not bad .") == 1
    assert _expected_sentiment("The acting was good but the ending was boring .") == 0
    assert _expected_sentiment("I expected to hate it , yet the film was charming .") == 1
    assert _expected_sentiment("Although the plot is dull , the cast is superb .") == 1


def test_no_single_word_decides_the_sentiment(generated):
    positive, total = collections.Counter(), collections.Counter()
    for example, info in generated:
        if info.kind == "sentiment":
            for word in set(example.text.lower().split(" ")):
                total[word] += 1
                positive[word] += example.sentiment
    frequent = {w: positive[w] / total[w] for w in total if total[w] >= 40}
    assert {"not", "but", "yet", "hate", "love", "good", "boring"} <= set(frequent)
    skewed = {w: round(r, 2) for w, r in frequent.items() if not 0.25 <= r <= 0.75}
    assert not skewed


def test_paragraphs_hold_a_distractor_of_the_answers_type(generated):
    paragraphs = [(e, i) for e, i in generated if i.kind == "qa"]
    assert {i.template for _, i in paragraphs} == {f.name for f in gen.FACTS}
    for example, info in paragraphs:
        sentences = example.text.count(" .")
        assert 3 <= sentences <= 5, example.text
        answer = example.answer_text
        if re.fullmatch(r"\d{4}", answer):
            same_type = set(re.findall(r"\b\d{4}\b", example.text))
        else:
            answer_type = {w: t for t, w in info.entities}.get(answer)
            if answer_type is None:  # a role ("chief executive")
                continue
            same_type = {w for t, w in info.entities if t == answer_type}
        assert answer in same_type and len(same_type) >= 2, (example.question, example.text)


def _literal_words(patterns) -> set[str]:
    return {w.lower() for p in patterns for w in p.split() if not w.startswith("{")}


def test_a_city_and_a_country_side_by_side_are_paired(generated):
    assert {gen.COUNTRY_OF[c] for c in gen.CITIES} <= set(gen.COUNTRIES)
    assert {gen.COUNTRY_OF[c] for c in gen.HELDOUT["city"]} <= set(gen.HELDOUT["country"])
    pairs = 0
    for example, info in generated:
        for (_, city), (second_type, country) in zip(info.entities, info.entities[1:]):
            if city in gen.COUNTRY_OF and second_type == "LOC" \
                    and f"{city} , {country}" in example.text:
                assert gen.COUNTRY_OF[city] == country
                pairs += 1
    assert pairs > 100


def test_held_out_words_occur_nowhere_else_and_held_out_templates_reuse_seen_words():
    seen_entries = [e for entries in gen.SEEN.values() for e in entries]
    seen_words = {w for e in seen_entries for w in e.split()}
    seen_patterns = ([t.pattern for t in gen.SENTIMENT_TEMPLATES if not t.heldout]
                     + [t.pattern for t in gen.ENTITY_TEMPLATES if not t.heldout]
                     + [f.pattern for f in gen.FACTS + gen.FILLERS] + list(gen.FRAMES)
                     + [q.pattern for f in gen.FACTS for q in f.questions if not q.heldout])
    vocabulary = (seen_words | _literal_words(seen_patterns)
                  | {w for p in gen.SUBJECTS + gen.POSITIVE + gen.NEGATIVE + gen.ROLES
                     + gen.INTENSIFIERS + gen.EXPECT_VERBS for w in p.split()})
    assert not HELDOUT_WORDS & {w for v in vocabulary for w in (v, v.capitalize())}
    heldout_patterns = ([t.pattern for t in gen.SENTIMENT_TEMPLATES if t.heldout]
                        + [t.pattern for t in gen.ENTITY_TEMPLATES if t.heldout]
                        + [q.pattern for f in gen.FACTS for q in f.questions if q.heldout])
    assert _literal_words(heldout_patterns) <= _literal_words(seen_patterns) | {
        w.lower() for w in vocabulary}


@pytest.fixture(scope="module")
def partition():
    """ExampleGen's own partition function, as the pipeline configures it for text."""
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2

    def split(record: bytes, train: int = 4, evaluation: int = 1) -> str:
        config = example_gen_pb2.SplitConfig(
            splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=evaluation)],
            partition_feature_name=tx.SPLIT_KEY)
        index = _PartitionFn(tf.train.Example.FromString(record), 2, [train, train + evaluation],
                             config)
        return ("train", "eval")[index]

    return split


def test_held_out_entries_and_templates_are_never_in_the_train_split(generated, partition):
    records = tx.to_records([e for e, _ in generated])
    splits = [partition(r) for r in records]
    # The pure-Python bucket is ExampleGen's.
    assert splits == [tx.split_of(e.split_key) for e, _ in generated]
    heldout = [(e, i, s) for (e, i), s in zip(generated, splits) if i.heldout]
    train = [(e, i) for (e, i), s in zip(generated, splits) if s == "train"]
    assert len(heldout) / len(generated) == pytest.approx(gen.TextMix().heldout, abs=0.02)
    assert {s for _, _, s in heldout} == {"eval"}
    # Other bucket counts whose total divides 60, eval last.
    for train_buckets in (2, 9, 19):
        assert {partition(records[k], train_buckets) for k, (_, i) in enumerate(generated)
                if i.heldout} == {"eval"}
    for example, info in train:
        assert not info.heldout and not info.heldout_template
        assert not HELDOUT_WORDS & set((example.text + " " + example.question).split(" "))
    assert len(train) / (len(generated) - len(heldout)) == pytest.approx(0.8, abs=0.03)
    # Each kind is held out both ways: a held-out template, and held-out names in a seen one.
    routes = {(i.kind, i.heldout_template) for _, i, _ in heldout}
    assert routes == {(k, t) for k in tx.TASKS for t in (True, False)}
    for example, info, _ in heldout:
        words = set((example.text + " " + example.question).split(" "))
        assert info.heldout_template or words & HELDOUT_WORDS


def test_a_question_on_held_out_names_asks_for_one(generated):
    for example, info in generated:
        if info.kind == "qa" and info.heldout and not info.heldout_template:
            assert set(example.answer_text.split(" ")) & HELDOUT_WORDS, example


def test_same_seed_same_bytes_and_spans_independent(tmp_path):
    together = gen.generate(tmp_path / "a", num_examples=300, num_spans=2, seed=5)
    gen.generate(tmp_path / "b", num_examples=300, num_spans=1, seed=5)
    (second,) = gen.generate(tmp_path / "b", num_examples=300, seed=5, append=True)
    assert [p.name for p in together] == ["span-1", "span-2"] and second.name == "span-2"

    def digest(folder):
        return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.iterdir()))
                              ).hexdigest()

    assert digest(tmp_path / "a" / "span-1") == digest(tmp_path / "b" / "span-1")
    assert digest(tmp_path / "a" / "span-2") == digest(tmp_path / "b" / "span-2")
    assert digest(tmp_path / "a" / "span-1") != digest(tmp_path / "a" / "span-2")
    read = tx.read_span(tmp_path / "a" / "span-2")
    assert read == [e for e, _ in gen.generate_examples(300, seed=5, span=2)]
    assert gen.generate_examples(50, seed=6)[0] != gen.generate_examples(50, seed=5)[0]
    # Pinned: the same seed gives the same records in any process (no draw depends on hashing).
    records = tx.to_records([e for e, _ in gen.generate_examples(200, seed=11, span=3)])
    assert hashlib.sha256(b"".join(records)).hexdigest() == (
        "f82fbfe70606d5b7b53cd5a897f97909170ea2c4bdef3380aff9e0936bf9ec1a")
    with pytest.raises(FileExistsError, match="append-span"):
        gen.generate(tmp_path / "a", num_examples=10, seed=5)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["span-1", "span-2"]


def test_the_mix_is_a_parameter():
    only_entities = gen.generate_examples(200, mix=gen.TextMix(sentiment=0, qa=0, two_tasks=0,
                                                                heldout=0))
    assert {e.tasks() for e, _ in only_entities} == {("entities",)}
    all_two = gen.generate_examples(200, mix=gen.TextMix(two_tasks=1))
    assert {len(e.tasks()) for e, _ in all_two} == {2}
    with pytest.raises(ValueError, match="heldout"):
        gen.TextMix(heldout=1.5)
    with pytest.raises(ValueError, match="two_tasks needs"):
        gen.TextMix(sentiment=0, qa=0, entities=1, two_tasks=0.2)
