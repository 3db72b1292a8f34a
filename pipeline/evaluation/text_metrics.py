"""TFMA metrics for text tasks: entity-level F1 for sequence labeling, SQuAD-style span metrics.

Input contract (what the model and tf.Transform provide, per task):

- `sequence_labeling` task T with K IOB2 tags, named in the metric config (`tags`, index =
  tag id, e.g. ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]):
    label `<T>_label`    int64 [batch, L]: the tag id of each token position; -1 at padding
                         positions and at every position of an example without entity labels
    weight `<T>_weight`  float [batch]: 1.0 when the example is labelled, 0.0 when not
    output `T`           float [batch, L, K]: tag probabilities per position
  The predicted tag of a position is the argmax over K (the lower tag id wins a tie).
  Positions labelled -1 are ignored: an example's tag sequences are its labelled positions in
  order, so a position in the middle may be skipped too (a word's continuation pieces).
- `span` task A (extractive question answering over a context of L token positions):
    label `<A>_label`    int64 [batch, 2]: (start, end) token indices, end inclusive;
                         (-1, -1) when unlabelled
    weight `<A>_weight`  float [batch]: 1.0 when labelled, 0.0 when not
    output `A`           float [batch, 2, L]: the start distribution, then the end
                         distribution, over the context's token positions
    tokens               bytes [batch, L], a transformed feature named in the metric config
                         (`tokens_feature`, e.g. "text_tokens"): the context's tokens as
                         UTF-8 strings, "" at padding; dense, with the same L as the output
  The predicted span is the (s, e) with s <= e < s + `max_answer_tokens` (default 30)
  maximising p_start[s] * p_end[e] (the first in (s, e) order on a tie). The gold answer is
  the tokens start..end joined by spaces, the predicted answer the tokens s..e joined by
  spaces; both are normalised as the official SQuAD v1.1 evaluation does (lower case, no
  punctuation, no articles a / an / the, single spaces) and compared: exact match (0 or 1)
  and token F1 (the multiset overlap of their whitespace tokens).

  The tokens reach the metric through TFMA's transformed features: the EvalConfig's model
  spec must name the model's tf.Transform signature in `preprocessing_function_names`
  (`transform_features`, as `pipeline.evaluation.eval_config` does), and that signature must
  output `tokens_feature`. TFMA stores the signature's outputs under `transformed_features`
  (per model name when a baseline is evaluated too), and `SpanF1` asks for that one feature
  with a `TransformedFeaturePreprocessor`. A sparse or ragged output is made dense by TFMA,
  padded to the longest row of its batch, which breaks "the same L": pad it to L in the
  Transform.

Metrics (a missing label weighs 0 and counts for nothing; counts are summed, weighted by the
example weight, so the workers' partial results merge exactly):

- `EntityF1(tags)`: `entity_f1`, and `entity_precision`, `entity_recall`: micro-averaged over
  entities, an entity being a (type, start, end) chunk with conlleval's semantics (an I-X
  after O or after another type starts a chunk), counted correct when the predicted
  sequence has the same chunk. precision = correct / predicted, recall = correct / gold,
  F1 = 2PR / (P + R), each 0 when its denominator is 0, as conlleval reports them.
- `TokenAccuracy(tags)`: `token_accuracy`, the share of labelled positions tagged right.
- `SpanF1(tokens_feature, max_answer_tokens=30)`: `span_f1` and `exact_match`, the means of
  the per-example scores over labelled examples.

Every value is NaN when the slice has no labelled position or example. `text_metric_configs`
returns a task's metric configs, its gating metric (`entity_f1` or `span_f1`) with a lower
bound on the overall slice.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util

MODULE = "pipeline.evaluation.text_metrics"
SEQUENCE_LABELING = "sequence_labeling"
SPAN = "span"
ENTITY_F1_NAME = "entity_f1"
ENTITY_PRECISION_NAME = "entity_precision"
ENTITY_RECALL_NAME = "entity_recall"
TOKEN_ACCURACY_NAME = "token_accuracy"
SPAN_F1_NAME = "span_f1"
EXACT_MATCH_NAME = "exact_match"
DEFAULT_MAX_ANSWER_TOKENS = 30
IGNORED = -1  # the label of a padding position, or of an unlabelled example


# --- entities -----------------------------------------------------------------------------------

def _split_tag(tag: str) -> tuple[str, str]:
    """("B" | "I" | "O", type) of an IOB2 tag name."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if prefix not in ("B", "I") or not sep or not kind:
        raise ValueError(f"{tag!r} is not an IOB2 tag (O, B-<type> or I-<type>)")
    return prefix, kind


def iob2_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The (type, start, end) chunks of an IOB2 tag sequence, end inclusive, as conlleval reads
    them: a chunk starts at B-X, or at an I-X after O or after another type, and ends before
    O, B-*, or a tag of another type."""
    chunks = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, name in enumerate([*tags, "O"]):
        tag, kind = _split_tag(name)
        if prev_tag != "O" and (tag != "I" or kind != prev_type):
            chunks.append((prev_type, begin, i - 1))
        if tag == "B" or (tag == "I" and (prev_tag == "O" or kind != prev_type)):
            begin = i
        prev_tag, prev_type = tag, kind
    return chunks


def entity_counts(gold_tags: Sequence[str], pred_tags: Sequence[str]) -> tuple[int, int, int]:
    """(correct, gold, predicted) entity counts of one sequence."""
    if len(gold_tags) != len(pred_tags):
        raise ValueError(f"{len(gold_tags)} gold tags against {len(pred_tags)} predicted")
    gold = set(iob2_entities(gold_tags))
    predicted = set(iob2_entities(pred_tags))
    return len(gold & predicted), len(gold), len(predicted)


def precision_recall_f1(correct: float, gold: float, predicted: float) -> tuple[float, float, float]:
    """Micro precision, recall and F1 from entity counts (each 0 when undefined)."""
    precision = correct / predicted if predicted > 0 else 0.0
    recall = correct / gold if gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


# --- SQuAD v1.1 ---------------------------------------------------------------------------------

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD v1.1's normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact_match(prediction: str, gold: str) -> float:
    """1.0 when both answers normalise to the same string, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    """Token F1 of the normalised answers (0 without a common token, so 0 when either is
    empty, as in SQuAD v1.1)."""
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision = same / len(predicted)
    recall = same / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_span(p_start: Sequence[float], p_end: Sequence[float],
              max_tokens: int = DEFAULT_MAX_ANSWER_TOKENS) -> tuple[int, int]:
    """The (s, e) with s <= e < s + max_tokens maximising p_start[s] * p_end[e] (the first in
    (s, e) order on a tie)."""
    p_start = np.asarray(p_start, dtype=np.float64).reshape(-1)
    p_end = np.asarray(p_end, dtype=np.float64).reshape(-1)
    if p_start.size != p_end.size or p_start.size == 0:
        raise ValueError(f"start and end distributions of {p_start.size} and {p_end.size} "
                         f"positions: need the same, non-zero length")
    if int(max_tokens) < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    n = p_start.size
    scores = np.outer(p_start, p_end)
    s, e = np.indices((n, n))
    scores[(e < s) | (e >= s + int(max_tokens))] = -np.inf
    best = int(np.argmax(scores))
    return best // n, best % n


def _text(tokens: np.ndarray, start: int, end: int) -> str:
    return " ".join(t.decode("utf-8", errors="replace") if isinstance(t, bytes) else str(t)
                    for t in tokens[start:end + 1])


# --- TFMA metrics -------------------------------------------------------------------------------

def _key(name: str, model_name: str, output_name: str, sub_key,
         example_weighted: bool) -> metric_types.MetricKey:
    return metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                                  sub_key=sub_key, example_weighted=example_weighted)


def _checked_tags(tags: Sequence[str]) -> list[str]:
    tags = [str(t) for t in tags]
    if not tags:
        raise ValueError("tags: need the task's IOB2 tag names, index = tag id")
    for tag in tags:
        _split_tag(tag)
    if len(set(tags)) != len(tags):
        raise ValueError(f"tags: duplicate names in {tags}")
    return tags


class _SumCombiner(beam.CombineFn):
    """A combiner whose accumulator is a list of weighted sums, merged by adding them up."""

    size = 0

    def __init__(self, keys: list[metric_types.MetricKey], eval_config, example_weighted: bool):
        self._keys = keys
        self._eval_config = eval_config
        self._example_weighted = example_weighted

    def _observed(self, element: metric_types.StandardMetricInputs):
        """(label, prediction, weight) of the metric's output in one TFMA input; a weight of 0
        (a missing label) is skipped."""
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
                element, eval_config=self._eval_config, model_name=self._keys[0].model_name,
                output_name=self._keys[0].output_name, example_weighted=self._example_weighted,
                flatten=False, squeeze=False):
            w = float(metric_util.safe_to_scalar(weight))
            if w != 0.0:
                yield np.asarray(label), np.asarray(prediction), w

    def create_accumulator(self) -> list[float]:
        return [0.0] * self.size

    def merge_accumulators(self, accumulators: Iterable[list[float]]) -> list[float]:
        out = [0.0] * self.size
        for accumulator in accumulators:
            for i, value in enumerate(accumulator):
                out[i] += value
        return out


def _tag_ids(label: np.ndarray, prediction: np.ndarray, num_tags: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """(gold, predicted) tag ids at the labelled positions of one example."""
    gold = np.rint(label.astype(np.float64)).astype(np.int64).reshape(-1)
    if prediction.shape[-1] != num_tags or prediction.size != gold.size * num_tags:
        raise ValueError(f"a prediction of shape {prediction.shape} for {gold.size} label "
                         f"positions and {num_tags} tags: expected [{gold.size}, {num_tags}]")
    predicted = np.argmax(prediction.reshape(gold.size, num_tags), axis=-1)
    keep = gold != IGNORED
    bad = gold[keep & ((gold < 0) | (gold >= num_tags))]
    if bad.size:
        raise ValueError(f"tag ids {sorted(set(bad.tolist()))} outside 0..{num_tags - 1} "
                         f"(and -1 for an ignored position)")
    return gold[keep], predicted[keep]


class EntityF1(metric_types.Metric):
    """Micro entity-level F1 (and precision, recall) of IOB2 tagging."""

    def __init__(self, tags: Sequence[str] = (), name: str = ENTITY_F1_NAME):
        super().__init__(metric_util.merge_per_key_computations(_entity_f1),
                         tags=_checked_tags(tags), name=name)


def _entity_f1(tags: Sequence[str] = (), name: str = ENTITY_F1_NAME, eval_config=None,
               model_name: str = "", output_name: str = "", sub_key=None,
               aggregation_type=None, class_weights=None, example_weighted: bool = False
               ) -> metric_types.MetricComputations:
    keys = [_key(n, model_name, output_name, sub_key, example_weighted)
            for n in (name, ENTITY_PRECISION_NAME, ENTITY_RECALL_NAME)]
    return [metric_types.MetricComputation(
        keys=keys, preprocessors=None,
        combiner=_EntityCombiner(keys, eval_config, list(tags), example_weighted))]


class _EntityCombiner(_SumCombiner):
    """Accumulates weighted [correct entities, gold entities, predicted entities, labelled
    positions]."""

    size = 4

    def __init__(self, keys: list[metric_types.MetricKey], eval_config, tags: list[str],
                 example_weighted: bool):
        super().__init__(keys, eval_config, example_weighted)
        self._tags = tags

    def add_input(self, accumulator: list[float],
                  element: metric_types.StandardMetricInputs) -> list[float]:
        for label, prediction, w in self._observed(element):
            gold, predicted = _tag_ids(label, prediction, len(self._tags))
            counts = entity_counts([self._tags[i] for i in gold],
                                   [self._tags[i] for i in predicted])
            for i, count in enumerate((*counts, gold.size)):
                accumulator[i] += w * count
        return accumulator

    def extract_output(self, accumulator: list[float]) -> dict:
        correct, gold, predicted, positions = accumulator
        if positions <= 0:
            return dict.fromkeys(self._keys, math.nan)
        precision, recall, f1 = precision_recall_f1(correct, gold, predicted)
        return dict(zip(self._keys, (f1, precision, recall)))


class TokenAccuracy(metric_types.Metric):
    """The share of labelled token positions whose most probable tag is the gold tag."""

    def __init__(self, tags: Sequence[str] = (), name: str = TOKEN_ACCURACY_NAME):
        super().__init__(metric_util.merge_per_key_computations(_token_accuracy),
                         tags=_checked_tags(tags), name=name)


def _token_accuracy(tags: Sequence[str] = (), name: str = TOKEN_ACCURACY_NAME,
                    eval_config=None, model_name: str = "", output_name: str = "",
                    sub_key=None, aggregation_type=None, class_weights=None,
                    example_weighted: bool = False) -> metric_types.MetricComputations:
    key = _key(name, model_name, output_name, sub_key, example_weighted)
    return [metric_types.MetricComputation(
        keys=[key], preprocessors=None,
        combiner=_TokenAccuracyCombiner([key], eval_config, len(tags), example_weighted))]


class _TokenAccuracyCombiner(_SumCombiner):
    """Accumulates weighted [right positions, labelled positions]."""

    size = 2

    def __init__(self, keys: list[metric_types.MetricKey], eval_config, num_tags: int,
                 example_weighted: bool):
        super().__init__(keys, eval_config, example_weighted)
        self._num_tags = num_tags

    def add_input(self, accumulator: list[float],
                  element: metric_types.StandardMetricInputs) -> list[float]:
        for label, prediction, w in self._observed(element):
            gold, predicted = _tag_ids(label, prediction, self._num_tags)
            accumulator[0] += w * float(np.sum(gold == predicted))
            accumulator[1] += w * gold.size
        return accumulator

    def extract_output(self, accumulator: list[float]) -> dict:
        right, total = accumulator
        return {self._keys[0]: right / total if total > 0 else math.nan}


class SpanF1(metric_types.Metric):
    """SQuAD v1.1 token F1 (`span_f1`) and exact match (`exact_match`) of the predicted span,
    read off the context's tokens (the transformed feature `tokens_feature`)."""

    def __init__(self, tokens_feature: str = "", max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
                 name: str = SPAN_F1_NAME):
        if not tokens_feature:
            raise ValueError("SpanF1 needs tokens_feature: the transformed feature holding the "
                             "context's tokens")
        if int(max_answer_tokens) < 1:
            raise ValueError(f"SpanF1 max_answer_tokens must be >= 1, got {max_answer_tokens}")
        super().__init__(metric_util.merge_per_key_computations(_span_f1),
                         tokens_feature=str(tokens_feature),
                         max_answer_tokens=int(max_answer_tokens), name=name)


def _span_f1(tokens_feature: str = "", max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
             name: str = SPAN_F1_NAME, eval_config=None, model_name: str = "",
             output_name: str = "", sub_key=None, aggregation_type=None, class_weights=None,
             example_weighted: bool = False) -> metric_types.MetricComputations:
    keys = [_key(n, model_name, output_name, sub_key, example_weighted)
            for n in (name, EXACT_MATCH_NAME)]
    # The labels, predictions and example weights, plus the one transformed feature (under
    # the model's name when several models are evaluated).
    preprocessor = metric_types.TransformedFeaturePreprocessor(
        feature_keys=[tokens_feature], model_names=[model_name] if model_name else None,
        output_names=[output_name] if output_name else None)
    return [metric_types.MetricComputation(
        keys=keys, preprocessors=[preprocessor],
        combiner=_SpanCombiner(keys, eval_config, tokens_feature, max_answer_tokens,
                               example_weighted))]


def span_scores(label: np.ndarray, prediction: np.ndarray, tokens: np.ndarray,
                max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS) -> tuple[float, float] | None:
    """(F1, exact match) of one example, None when it is unlabelled (-1 indices)."""
    label = np.rint(np.asarray(label, dtype=np.float64)).astype(np.int64).reshape(-1)
    prediction = np.asarray(prediction, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=object).reshape(-1)
    if label.size != 2:
        raise ValueError(f"a span label has 2 values (start, end), got {label.size}")
    if prediction.ndim < 2 or prediction.shape[-2] != 2 or prediction.size != 2 * tokens.size:
        raise ValueError(f"a span prediction of shape {prediction.shape} for {tokens.size} "
                         f"tokens: expected [2, {tokens.size}] (start and end distributions "
                         f"over the same positions as the tokens)")
    start, end = int(label[0]), int(label[1])
    if start == IGNORED or end == IGNORED:
        return None
    if not 0 <= start <= end < tokens.size:
        raise ValueError(f"span label ({start}, {end}) is not a span of the {tokens.size} "
                         f"token positions")
    p_start, p_end = prediction.reshape(2, tokens.size)
    s, e = best_span(p_start, p_end, max_answer_tokens)
    predicted, gold = _text(tokens, s, e), _text(tokens, start, end)
    return squad_f1(predicted, gold), squad_exact_match(predicted, gold)


class _SpanCombiner(_SumCombiner):
    """Accumulates weighted [sum of F1, sum of exact matches, labelled examples]."""

    size = 3

    def __init__(self, keys: list[metric_types.MetricKey], eval_config, tokens_feature: str,
                 max_answer_tokens: int, example_weighted: bool):
        super().__init__(keys, eval_config, example_weighted)
        self._tokens_feature = tokens_feature
        self._max_answer_tokens = max_answer_tokens

    def _tokens(self, element: metric_types.StandardMetricInputs) -> np.ndarray:
        features = element.get_transformed_features(self._keys[0].model_name) or {}
        if self._tokens_feature not in features:
            raise ValueError(
                f"transformed feature {self._tokens_feature!r} not found (have "
                f"{sorted(features)}): the model spec's preprocessing_function_names must name "
                f"the tf.Transform signature, and it must output the context's tokens")
        return np.asarray(features[self._tokens_feature], dtype=object)

    def add_input(self, accumulator: list[float],
                  element: metric_types.StandardMetricInputs) -> list[float]:
        for label, prediction, w in self._observed(element):
            scores = span_scores(label, prediction, self._tokens(element),
                                 self._max_answer_tokens)
            if scores is None:
                continue  # unlabelled, whatever its weight
            accumulator[0] += w * scores[0]
            accumulator[1] += w * scores[1]
            accumulator[2] += w
        return accumulator

    def extract_output(self, accumulator: list[float]) -> dict:
        f1, exact, total = accumulator
        if total <= 0:
            return dict.fromkeys(self._keys, math.nan)
        return dict(zip(self._keys, (f1 / total, exact / total)))


# --- configs ------------------------------------------------------------------------------------

def _lower_bound_on_overall(class_name: str, config: dict, bound: float) -> tfma.MetricConfig:
    return tfma.MetricConfig(
        class_name=class_name, module=MODULE, config=json.dumps(config, sort_keys=True),
        per_slice_thresholds=[tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()],
            threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": float(bound)})))])


def text_metric_configs(task_kind: str, task_name: str, bound: float, *,
                        tags: Sequence[str] | None = None, tokens_feature: str | None = None,
                        max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS
                        ) -> list[tfma.MetricConfig]:
    """The metric configs of a text task, for the weighted MetricsSpec of output `task_name`;
    the gating metric (`entity_f1` or `span_f1`) must reach `bound` on the overall slice.

    `sequence_labeling` needs `tags` (its IOB2 tag names, index = tag id) and gives EntityF1
    (gated) and TokenAccuracy; `span` needs `tokens_feature` and gives SpanF1 (gated; it also
    reports `exact_match`)."""
    if not 0.0 <= float(bound) <= 1.0:
        raise ValueError(f"task {task_name!r}: bound must be in [0, 1], got {bound}")
    if task_kind == SEQUENCE_LABELING:
        if not tags:
            raise ValueError(f"task {task_name!r}: a sequence_labeling task needs its tags")
        tags = _checked_tags(tags)
        return [
            _lower_bound_on_overall("EntityF1", {"name": ENTITY_F1_NAME, "tags": tags}, bound),
            tfma.MetricConfig(class_name="TokenAccuracy", module=MODULE, config=json.dumps(
                {"name": TOKEN_ACCURACY_NAME, "tags": tags}, sort_keys=True)),
        ]
    if task_kind == SPAN:
        if not tokens_feature:
            raise ValueError(f"task {task_name!r}: a span task needs tokens_feature, the "
                             f"transformed feature of its context's tokens")
        if int(max_answer_tokens) < 1:
            raise ValueError(f"task {task_name!r}: max_answer_tokens must be >= 1, "
                             f"got {max_answer_tokens}")
        return [_lower_bound_on_overall(
            "SpanF1", {"name": SPAN_F1_NAME, "tokens_feature": tokens_feature,
                       "max_answer_tokens": int(max_answer_tokens)}, bound)]
    raise ValueError(f"task {task_name!r}: text metrics are for {SEQUENCE_LABELING!r} or "
                     f"{SPAN!r} tasks, not {task_kind!r}")
