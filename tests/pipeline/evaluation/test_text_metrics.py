"""The text metrics: IOB2 entities against seqeval, SQuAD v1.1 answers by hand, the TFMA
combiners on hand-made examples, and their configs as TFMA reads them."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as evaluator
from tensorflow_model_analysis.metrics import metric_specs
from tensorflow_model_analysis.utils import config_util, util

from pipeline.evaluation.text_metrics import (
    MODULE,
    EntityF1,
    SpanF1,
    TokenAccuracy,
    best_span,
    entity_counts,
    iob2_entities,
    normalize_answer,
    precision_recall_f1,
    squad_exact_match,
    squad_f1,
    text_metric_configs,
)
from tests.support.tfma_metrics import combine_in_two_workers

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]

# (gold, predicted) tag sequences, the tricky readings included.
FIXTURES = [
    (["B-PER", "I-PER", "O", "B-ORG"], ["B-PER", "I-PER", "O", "B-ORG"]),
    (["O", "I-PER", "I-PER", "O"], ["O", "B-PER", "I-PER", "O"]),       # I- after O starts one
    (["B-PER", "I-ORG", "I-ORG"], ["B-PER", "I-PER", "I-PER"]),         # type change in a chunk
    (["B-PER", "B-PER", "I-PER"], ["B-PER", "I-PER", "I-PER"]),         # B- after B- splits
    (["O", "O", "B-LOC", "I-LOC"], ["O", "O", "B-LOC", "I-LOC"]),       # a chunk at the end
    (["I-LOC"], ["B-LOC"]),                                             # ... and alone
    (["B-ORG", "I-PER", "B-PER", "I-ORG"], ["B-ORG", "I-ORG", "B-PER", "I-PER"]),
    (["O", "B-PER", "O", "I-PER"], ["O", "B-PER", "I-PER", "I-PER"]),
    (["O", "O", "O"], ["O", "B-ORG", "O"]),                              # all O
    ([], []),                                                           # empty
]


def test_iob2_entities_read_chunks_as_conlleval_does():
    assert iob2_entities(["B-PER", "I-PER", "O", "B-ORG"]) == [("PER", 0, 1), ("ORG", 3, 3)]
    assert iob2_entities(["O", "I-PER", "I-PER", "O"]) == [("PER", 1, 2)]
    assert iob2_entities(["B-PER", "I-ORG", "I-ORG"]) == [("PER", 0, 0), ("ORG", 1, 2)]
    assert iob2_entities(["B-PER", "B-PER", "I-PER"]) == [("PER", 0, 0), ("PER", 1, 2)]
    assert iob2_entities(["O", "O", "B-LOC", "I-LOC"]) == [("LOC", 2, 3)]
    assert iob2_entities(["O", "O"]) == [] and iob2_entities([]) == []
    for gold, predicted in FIXTURES:
        assert iob2_entities(gold) == get_entities(gold), gold
        assert iob2_entities(predicted) == get_entities(predicted), predicted
    with pytest.raises(ValueError, match="'E-PER' is not an IOB2 tag"):
        iob2_entities(["B-PER", "E-PER"])
    with pytest.raises(ValueError, match="'B' is not an IOB2 tag"):
        iob2_entities(["B"])


def _seqeval(gold: list[list[str]], predicted: list[list[str]]) -> tuple[float, float, float]:
    """seqeval's micro precision, recall, F1 (default mode and scheme; 0 when undefined)."""
    return (precision_score(gold, predicted, zero_division=0),
            recall_score(gold, predicted, zero_division=0),
            f1_score(gold, predicted, zero_division=0))


def _ours(gold: list[list[str]], predicted: list[list[str]]) -> tuple[float, float, float]:
    counts = [entity_counts(g, p) for g, p in zip(gold, predicted)]
    return precision_recall_f1(*(sum(c[i] for c in counts) for i in range(3)))


def test_entity_f1_agrees_with_seqeval_on_the_fixtures():
    assert entity_counts(*FIXTURES[1]) == (1, 1, 1)
    assert entity_counts(*FIXTURES[2]) == (0, 2, 1)  # PER(0, 2) is not PER(0, 0)
    assert entity_counts(*FIXTURES[8]) == (0, 0, 1)
    for gold, predicted in FIXTURES[:-1]:  # seqeval refuses a lone empty sequence's pair
        assert _ours([gold], [predicted]) == _seqeval([gold], [predicted]), (gold, predicted)
    gold, predicted = [g for g, _ in FIXTURES], [p for _, p in FIXTURES]
    assert _ours(gold, predicted) == _seqeval(gold, predicted)
    with pytest.raises(ValueError, match="3 gold tags against 2 predicted"):
        entity_counts(["O", "O", "O"], ["O", "O"])


def test_entity_f1_agrees_with_seqeval_on_random_sequences():
    rng = random.Random(15)
    tags = [*TAGS, "B-LOC", "I-LOC"]
    for _ in range(300):
        lengths = [rng.randint(0, 12) for _ in range(rng.randint(1, 6))]
        gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        predicted = [[rng.choice(tags) for _ in range(n)] for n in lengths]
        for sequence in gold + predicted:
            assert iob2_entities(sequence) == get_entities(sequence), sequence
        assert _ours(gold, predicted) == _seqeval(gold, predicted), (gold, predicted)


def test_squad_normalisation_exact_match_and_f1_by_hand():
    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("the theory of another") == "theory of another"  # whole words only
    assert normalize_answer("U.S. state-of-the-art") == "us stateoftheart"  # removed, not spaced
    assert squad_exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert squad_exact_match("Eiffel", "Eiffel Tower") == 0.0
    # Normalised: [cat, sat, on, mat] against [cat, on, mat]: 3 common, P 3/4, R 1.
    assert squad_f1("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    assert squad_f1("Paris Paris", "paris") == pytest.approx(2 / 3)  # the overlap is a multiset
    assert squad_f1("in London", "Paris") == 0.0
    assert squad_f1("", "Paris") == 0.0 and squad_exact_match("", "Paris") == 0.0
    # Both empty after normalisation: equal, but no common token (SQuAD v1.1).
    assert squad_exact_match("the", ".") == 1.0 and squad_f1("the", ".") == 0.0


def test_best_span_maximises_start_times_end_within_the_length_limit():
    p_start, p_end = [0.1, 0.6, 0.3], [0.5, 0.1, 0.4]
    assert best_span(p_start, p_end) == (1, 2)  # 0.6 * 0.4
    assert best_span(p_start, p_end, max_tokens=1) == (2, 2)  # 0.3 * 0.4 among s == e
    # The end may not precede the start: (2, 0) would score 0.49.
    assert best_span([0.2, 0.1, 0.7], [0.7, 0.2, 0.1]) == (0, 0)
    # At most max_tokens tokens: (0, 3) is four.
    assert best_span([0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], max_tokens=3) == (1, 3)
    assert best_span([0.9, 0.1, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], max_tokens=4) == (0, 3)
    assert best_span([0.5, 0.5], [0.5, 0.5]) == (0, 0)  # a tie: the first in (s, e) order
    with pytest.raises(ValueError, match="same, non-zero length"):
        best_span([0.5, 0.5], [1.0])


def _tagged(tag_ids: list[int]) -> list[list[float]]:
    """Tag probabilities whose argmax is each position's tag id."""
    return (np.eye(len(TAGS))[tag_ids] * 0.8 + 0.04).tolist()


def _ids(*names: str) -> list[int]:
    return [TAGS.index(n) for n in names]


# (label, prediction, weight) rows; -1 labels at padding positions.
TAGGED_ROWS = [
    # Gold PER(0, 1); predicted PER(0, 1), and an ORG at a padding position, ignored.
    ([*_ids("B-PER", "I-PER", "O", "O"), -1], _tagged(_ids("B-PER", "I-PER", "O", "O", "B-ORG")),
     1.0),
    # A missing label: would add a gold and a wrong predicted entity.
    (_ids("B-ORG", "I-ORG", "O"), _tagged(_ids("B-PER", "O", "O")), 0.0),
    # Gold ORG(1, 2); predicted ORG(1, 2) and PER(3, 3).
    (_ids("O", "B-ORG", "I-ORG", "O"), _tagged(_ids("O", "B-ORG", "I-ORG", "B-PER")), 1.0),
    # An example without entity labels.
    ([-1, -1, -1], _tagged(_ids("B-PER", "I-PER", "B-ORG")), 0.0),
    # Gold PER(0, 0); predicted I-PER after nothing: PER(0, 0) too, a wrong tag though.
    ([*_ids("B-PER", "O"), -1, -1], _tagged(_ids("I-PER", "O", "B-ORG", "I-ORG")), 1.0),
]


def test_entity_f1_sums_entities_over_observed_examples_and_workers():
    out = combine_in_two_workers(EntityF1(tags=TAGS), TAGGED_ROWS)
    # correct 3, gold 3, predicted 4.
    assert out == {"entity_f1": pytest.approx(6 / 7), "entity_precision": pytest.approx(0.75),
                   "entity_recall": pytest.approx(1.0)}
    # Right tags: 4 of 4, 3 of 4, 1 of 2.
    assert combine_in_two_workers(TokenAccuracy(tags=TAGS), TAGGED_ROWS) == {
        "token_accuracy": pytest.approx(0.8)}


def test_entity_f1_without_observed_labels_is_nan():
    unobserved = [(label, prediction, 0.0) for label, prediction, _ in TAGGED_ROWS]
    out = combine_in_two_workers(EntityF1(tags=TAGS), unobserved)
    assert set(out) == {"entity_f1", "entity_precision", "entity_recall"}
    assert all(math.isnan(v) for v in out.values())
    (accuracy,) = combine_in_two_workers(TokenAccuracy(tags=TAGS), unobserved).values()
    assert math.isnan(accuracy)
    # Observed tokens but no entity on either side: 0, as conlleval and seqeval say.
    assert combine_in_two_workers(EntityF1(tags=TAGS), [(_ids("O", "O"), _tagged(_ids("O", "O")),
                                                         1.0)])["entity_f1"] == 0.0


def test_entity_f1_refuses_what_breaks_the_contract():
    with pytest.raises(ValueError, match="expected \\[2, 5\\]"):
        combine_in_two_workers(EntityF1(tags=TAGS), [(_ids("O", "O"), [[0.5, 0.5]] * 2, 1.0)])
    with pytest.raises(ValueError, match="tag ids \\[7\\] outside 0..4"):
        combine_in_two_workers(EntityF1(tags=TAGS), [([0, 7], _tagged([0, 0]), 1.0)])
    with pytest.raises(ValueError, match="'PER' is not an IOB2 tag"):
        EntityF1(tags=["O", "PER"])
    with pytest.raises(ValueError, match="need the task's IOB2 tag names"):
        EntityF1()


def _span(length: int, start: int, end: int) -> list[list[float]]:
    """Start and end distributions peaking at start and end."""
    p = np.full((2, length), 0.01)
    p[0, start] = p[1, end] = 0.9
    return p.tolist()


def _tokens(text: str, length: int = 7) -> dict:
    words = [w.encode() for w in text.split()]
    return {"text_tokens": np.array(words + [b""] * (length - len(words)), dtype=object)}


# (label, prediction, weight, transformed features) rows.
SPAN_ROWS = [
    # Predicted "Paris ." for "Paris": exact after normalisation.
    ((5, 5), _span(7, 5, 6), 1.0, _tokens("The Eiffel Tower is in Paris .")),
    # A missing label: would add a wrong answer.
    ((0, 2), _span(7, 4, 4), 0.0, _tokens("The Eiffel Tower is in Paris .")),
    # Predicted "cat sat" for "the cat sat on the mat": P 1, R 2/4.
    ((0, 5), _span(7, 1, 2), 1.0, _tokens("the cat sat on the mat")),
    # Unlabelled.
    ((-1, -1), _span(7, 0, 1), 0.0, _tokens("no answer here")),
    # Predicted "London" for "Paris".
    ((2, 2), _span(7, 0, 0), 1.0, _tokens("London or Paris")),
]


def test_span_f1_and_exact_match_average_over_observed_examples():
    out = combine_in_two_workers(SpanF1(tokens_feature="text_tokens"), SPAN_ROWS)
    assert out == {"span_f1": pytest.approx((1 + 2 / 3 + 0) / 3),
                   "exact_match": pytest.approx(1 / 3)}
    # The length limit applies: one token, "cat" (the first of two tied spans), P 1, R 1/4.
    limited = combine_in_two_workers(SpanF1(tokens_feature="text_tokens", max_answer_tokens=1),
                                     SPAN_ROWS[2:3])
    assert limited["span_f1"] == pytest.approx(0.4)
    unobserved = [(label, p, 0.0, features) for label, p, _, features in SPAN_ROWS]
    out = combine_in_two_workers(SpanF1(tokens_feature="text_tokens"), unobserved)
    assert set(out) == {"span_f1", "exact_match"} and all(math.isnan(v) for v in out.values())


def test_span_f1_refuses_what_breaks_the_contract():
    metric = SpanF1(tokens_feature="text_tokens")
    with pytest.raises(ValueError, match="transformed feature 'text_tokens' not found"):
        combine_in_two_workers(metric, [((0, 0), _span(7, 0, 0), 1.0)])
    with pytest.raises(ValueError, match="expected \\[2, 7\\]"):
        combine_in_two_workers(metric, [((0, 0), _span(5, 0, 0), 1.0, _tokens("a b"))])
    with pytest.raises(ValueError, match="\\(3, 9\\) is not a span of the 7 token positions"):
        combine_in_two_workers(metric, [((3, 9), _span(7, 0, 0), 1.0, _tokens("a b"))])
    with pytest.raises(ValueError, match="needs tokens_feature"):
        SpanF1()


def test_configs_gate_the_overall_slice_and_are_plain_json():
    tagging = text_metric_configs("sequence_labeling", "ner", 0.6, tags=TAGS)
    assert [(c.class_name, c.module) for c in tagging] == [("EntityF1", MODULE),
                                                          ("TokenAccuracy", MODULE)]
    assert [json.loads(c.config) for c in tagging] == [{"name": "entity_f1", "tags": TAGS},
                                                      {"name": "token_accuracy", "tags": TAGS}]
    (per_slice,) = tagging[0].per_slice_thresholds
    assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
    assert per_slice.threshold.value_threshold.lower_bound.value == 0.6
    assert not tagging[1].per_slice_thresholds  # reported, not gated
    (span,) = text_metric_configs("span", "qa", 0.5, tokens_feature="text_tokens")
    assert json.loads(span.config) == {"name": "span_f1", "tokens_feature": "text_tokens",
                                       "max_answer_tokens": 30}
    assert span.per_slice_thresholds[0].threshold.value_threshold.lower_bound.value == 0.5
    with pytest.raises(ValueError, match="task 'ner': a sequence_labeling task needs its tags"):
        text_metric_configs("sequence_labeling", "ner", 0.6)
    with pytest.raises(ValueError, match="'X-PER' is not an IOB2 tag"):
        text_metric_configs("sequence_labeling", "ner", 0.6, tags=["O", "X-PER"])
    with pytest.raises(ValueError, match="task 'qa': a span task needs tokens_feature"):
        text_metric_configs("span", "qa", 0.5)
    with pytest.raises(ValueError, match="not 'binary'"):
        text_metric_configs("binary", "click", 0.5)
    with pytest.raises(ValueError, match="bound must be in \\[0, 1\\]"):
        text_metric_configs("span", "qa", 1.5, tokens_feature="text_tokens")


def _eval_config(has_baseline: bool) -> tfma.EvalConfig:
    """An EvalConfig of a model with a tagging output "ner" and a span output "qa", with the
    defaults TFMA applies before evaluating (the baseline's copy of the model spec, if any)."""
    model_spec = tfma.ModelSpec(
        preprocessing_function_names=["transform_features"],
        label_keys={"ner": "ner_label", "qa": "qa_label"},
        example_weight_keys={"ner": "ner_weight", "qa": "qa_weight"})
    return config_util.update_eval_config_with_defaults(tfma.EvalConfig(
        model_specs=[model_spec],
        metrics_specs=[
            tfma.MetricsSpec(output_names=["ner"], metrics=text_metric_configs(
                "sequence_labeling", "ner", 0.6, tags=TAGS)),
            tfma.MetricsSpec(output_names=["qa"], metrics=text_metric_configs(
                "span", "qa", 0.5, tokens_feature="text_tokens")),
        ]), has_baseline=has_baseline)


def _batch(model_names: tuple[str, ...]) -> dict:
    """A batch of extracts as TFMA's extractors leave it: labels and example weights from the
    transformed features, predictions per output, and the transformed features themselves
    (keyed by model name when there are several models)."""
    ner = TAGGED_ROWS[:3]  # equal lengths after padding to 5
    ner_labels = np.array([(list(label) + [-1] * 5)[:5] for label, _, _ in ner], dtype=np.int64)
    ner_predictions = np.array([(p + [_tagged([0])[0]] * 5)[:5] for _, p, _ in ner])
    qa = SPAN_ROWS[:3]
    transformed = {"text_tokens": np.stack([f["text_tokens"] for *_, f in qa]),
                   "ner_label": ner_labels, "qa_label": np.array([r[0] for r in qa]),
                   "ner_weight": np.array([r[2] for r in ner], dtype=np.float32),
                   "qa_weight": np.array([r[2] for r in qa], dtype=np.float32)}
    labels = {"ner": transformed["ner_label"], "qa": transformed["qa_label"]}
    weights = {"ner": transformed["ner_weight"], "qa": transformed["qa_weight"]}
    predictions = {"ner": ner_predictions, "qa": np.array([r[1] for r in qa])}

    def per_model(value):
        return value if model_names == ("",) else {name: value for name in model_names}

    return {constants.LABELS_KEY: per_model(labels),
            constants.EXAMPLE_WEIGHTS_KEY: per_model(weights),
            constants.PREDICTIONS_KEY: per_model(predictions),
            constants.TRANSFORMED_FEATURES_KEY: per_model(transformed)}


@pytest.mark.parametrize("has_baseline", [False, True])
def test_tfma_instantiates_the_configs_and_feeds_them_the_tokens(has_baseline):
    config = _eval_config(has_baseline)
    model_names = tuple(spec.name for spec in config.model_specs)
    assert model_names == (("candidate", "baseline") if has_baseline else ("",))
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(config.metrics_specs, config)
    gated = {(key.name, key.output_name) for key in thresholds}
    assert gated == {("entity_f1", "ner"), ("span_f1", "qa")}
    computations = metric_specs.to_computations(config.metrics_specs, eval_config=config)
    # The evaluator's own path: its preprocessing (which includes the requested transformed
    # feature) over unbatched extracts, then its combiner of all computations.
    preprocess = evaluator._PreprocessorDoFn(computations)
    combine = evaluator._ComputationsCombineFn(computations)
    accumulator = combine.create_accumulator()
    for extract in util.split_extracts(_batch(model_names)):
        extract[constants.SLICE_KEY_TYPES_KEY] = [()]
        for element in preprocess.process(extract):
            accumulator = combine.add_input(accumulator, element)
    out = combine.extract_output(combine.merge_accumulators([accumulator]))
    by_name = {(key.name, key.model_name): value for key, value in out.items()}
    for name in model_names:  # a baseline is the same model here
        # The first three rows of each: entities 1 of 1 and 1 of 2 predicted; right tags 4 of 4
        # and 3 of 4; "Paris" exactly, then 2/3 of "the cat sat on the mat".
        assert by_name[("entity_f1", name)] == pytest.approx(2 * (2 / 3) / (1 + 2 / 3))
        assert by_name[("token_accuracy", name)] == pytest.approx(7 / 8)
        assert by_name[("span_f1", name)] == pytest.approx((1 + 2 / 3) / 2)
        assert by_name[("exact_match", name)] == pytest.approx(1 / 2)
