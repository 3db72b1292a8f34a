"""Drafting a problem spec from a span's statistics: `mtl spec init`.

`draft(statistics, labels, ...)` reads TFDV statistics (a `DatasetFeatureStatisticsList`) and
proposes a spec (`models.spec`): a kind and its fields for every feature, a task for every label,
slices. `Draft.render()` writes it as YAML where every proposal carries a comment saying what in
the data it comes from, for the user to review. `draft_from_data(data_dir, labels, ...)` computes
the statistics of the newest span (`pipeline.data.statistics`) and drafts from them.

The rules (constants below):
  - one string per example: categorical. `vocabulary_size` the distinct values seen with room
    for new ones, rounded up to 1, 2 or 5 x 10^k, at most VOCABULARY_CAP; `embedding_dim`
    min(64, round(1.6 * distinct**0.56)), at least 4. At most CLOSED_DOMAIN_MAX distinct values:
    a closed domain (`schema.domain`), and a slice (at most MAX_SLICES, the fewest values first);
    at most OPEN_DOMAIN_MAX and not an id: an open domain that tolerates 10% new values;
  - strings with spaces (from the up to 1,000 most frequent values): `text` when they hold
    at least TEXT_MIN_WORDS words on average, at least TEXT_MIN_DISTINCT of the examples'
    values are distinct and at least TEXT_MIN_ALPHABETIC of their distinct words are
    alphabetic (`max_length` the most words seen, at most TEXT_MAX_LENGTH_CAP); else, in a CSV
    span, a sequence of ids when at least ID_MIN_VALUES distinct values and at least
    ID_TOKEN_RECUR of them are made only of tokens that recur in other values (id lists reuse
    their ids; names and phrases hold words of their own); categorical otherwise;
  - one integer per example whose name ends in `id`: categorical with dtype int;
  - one integer per example that behaves like a code (`CodeMeasures`): within CODE_MAX_RANGE
    consecutive non-negative values, at least CODE_MIN_DISTINCT of them, counts per value that a
    smooth trend explains less than CODE_MAX_TREND of and that jump between neighbouring values
    at least CODE_NOISE_RATIO times sampling noise: categorical with dtype int;
  - several values per example (strings or integers; in a CSV span, a string column of ids as
    above): sequence, `max_length` the most values an example holds
    (at most MAX_LENGTH_CAP), sharing the vocabulary of the categorical feature whose values make
    up at least SHARED_VOCABULARY_OVERLAP of the sequence's values (by frequency), else its own;
  - left out, with the reason in a comment: a column absent from more than ABSENT_MAX of the
    examples, a column of one value, bytes, lists of floats;
  - other integers and floats: numeric, `transform: log` when non-negative and heavy-tailed (the
    99th percentile at least LOG_TAIL_RATIO times the median), else z_score; `schema.min: 0` when
    non-negative, `max: 1` as well when every value is in [0, 1];
  - a label (`NAME:KIND`): its negative value is the missing sentinel (-1 when it has none);
    binary: AUC bound 0.6, max_change 0.02; regression: `scale` the observed labels' mean, RMSE
    bound their standard deviation (the RMSE of always predicting the mean), max_change 10%
    relative; multiclass: num_classes the largest class id + 1, accuracy bound the majority
    class's share rounded down, top_k 2.

The statistics of binary and multiclass labels, integer ids and integer sequences are computed as
categorical (their distinct values and counts, `statistics_options`); the rest with 100 quantiles
(the 99th percentile). Labels that do not fit their kind raise `DraftError` naming the label.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from models.spec import GATE_METRICS
from models.spec import TABULAR_TASK_KINDS as TASK_KINDS
from pipeline.data import layout, preflight
from pipeline.data import statistics as statistics_lib

VOCABULARY_CAP = 100_000
VOCABULARY_HEADROOM = 1.2
EMBEDDING_MIN, EMBEDDING_MAX = 4, 64
CLOSED_DOMAIN_MAX = 20
OPEN_DOMAIN_MAX = 100
OPEN_DOMAIN_MASS = 0.9
MAX_SLICES = 2
MAX_LENGTH_CAP = 50
SHARED_VOCABULARY_OVERLAP = 0.5
LOG_TAIL_RATIO = 4.0
QUANTILE_BUCKETS = 100
BINARY_BOUND, BINARY_MAX_CHANGE = 0.6, 0.02
REGRESSION_MAX_CHANGE = 0.1
MULTICLASS_TOP_K = 2
# A column absent from more than this share of the examples is left out.
ABSENT_MAX = 0.95
# Strings with spaces (from the 1,000 most frequent values): text when they hold at least
# TEXT_MIN_WORDS words on average, at least TEXT_MIN_DISTINCT of the examples' values are
# distinct and at least TEXT_MIN_ALPHABETIC of their distinct words are alphabetic; else, in a
# CSV span, ids when at least ID_MIN_VALUES distinct values and at least ID_TOKEN_RECUR of them
# are made only of tokens that recur in other values; categorical otherwise.
ID_MIN_VALUES = 20
ID_TOKEN_RECUR = 0.8
TEXT_MIN_WORDS = 5
TEXT_MIN_DISTINCT = 0.5
TEXT_MIN_ALPHABETIC = 0.5
TEXT_MAX_LENGTH_CAP = 128
# Integer codes: one integer per example, values within CODE_MAX_RANGE consecutive integers,
# at least CODE_MIN_DISTINCT distinct values, whose counts a smooth trend over neighbouring
# values (a moving average of CODE_TREND_WIDTH) explains less than CODE_MAX_TREND of, and
# which jump between neighbours at least CODE_NOISE_RATIO times what sampling noise gives.
CODE_MAX_RANGE = 100
CODE_MIN_DISTINCT = 10
CODE_TREND_WIDTH = 5
CODE_MAX_TREND = 0.5
CODE_NOISE_RATIO = 2.0

# FeatureNameStatistics.Type and Histogram.HistogramType values (the proto is not imported here).
_INT, _FLOAT, _STRING, _BYTES, _STRUCT = range(5)
_QUANTILES = 1
_TYPE_NAMES = {_INT: "integers", _FLOAT: "floats", _STRING: "strings", _BYTES: "bytes",
               _STRUCT: "structs"}


class DraftError(ValueError):
    """The data cannot back the spec asked for (names the label or feature)."""


# --- Labels on the command line -----------------------------------------------------------------

def parse_label(text: str) -> tuple[str, str]:
    """"NAME:KIND" -> (NAME, KIND)."""
    name, sep, kind = text.rpartition(":")
    if not sep or not name:
        raise DraftError(f"--label expects NAME:KIND (KIND one of {list(TASK_KINDS)}), got "
                         f"{text!r}")
    if kind not in TASK_KINDS:
        raise DraftError(f"label {name!r}: unknown kind {kind!r}; expected one of "
                         f"{list(TASK_KINDS)}")
    if not all(c.isalnum() or c in "_-." for c in name):
        raise DraftError(f"label {name!r}: a task is named after its label, and a name holds "
                         f"letters, digits, '_', '-' or '.'")
    return name, kind


def _check_labels(labels) -> list[tuple[str, str]]:
    labels = [parse_label(x) if isinstance(x, str) else tuple(x) for x in labels]
    if not labels:
        raise DraftError("a spec needs at least one task: give --label NAME:KIND")
    names = [name for name, _ in labels]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DraftError(f"label {twice[0]!r} is given twice")
    return labels


# --- The statistics -----------------------------------------------------------------------------

def statistics_options(categorical_ints=(), only=None):
    """TFDV options of the draft's statistics: 100 quantiles of numeric features, and the
    integer features named in `categorical_ints` counted as categorical (distinct values and the
    count of each); `only`: compute the statistics of these features alone."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = None
    if categorical_ints:
        schema = schema_pb2.Schema()
        for name in categorical_ints:
            feature = schema.feature.add(name=name, type=schema_pb2.INT)
            feature.int_domain.is_categorical = True
    return tfdv.StatsOptions(schema=schema, num_quantiles_histogram_buckets=QUANTILE_BUCKETS,
                             feature_allowlist=list(only) if only else None)


def _by_name(statistics) -> dict:
    """Top-level feature name -> FeatureNameStatistics of the first dataset."""
    if not statistics.datasets:
        raise DraftError("the statistics hold no dataset")
    out = {}
    for feature in statistics.datasets[0].features:
        if feature.path.step and len(feature.path.step) != 1:
            continue
        out[feature.path.step[0] if feature.path.step else feature.name] = feature
    return out


def _common(feature):
    kind = feature.WhichOneof("stats")
    if kind == "num_stats":
        return feature.num_stats.common_stats
    if kind == "string_stats":
        return feature.string_stats.common_stats
    if kind == "bytes_stats":
        return feature.bytes_stats.common_stats
    return feature.struct_stats.common_stats


def _value_counts(feature) -> dict[str, float]:
    """Value -> count from categorical statistics: the rank histogram (up to 1,000 most frequent
    values) and the top values."""
    stats = feature.string_stats
    counts = {b.label: b.sample_count for b in stats.rank_histogram.buckets}
    for value in stats.top_values:
        counts[value.value] = value.frequency
    return counts


def _quantiles(num_stats) -> list[float]:
    """The quantile boundaries of a numeric feature (min .. max), [] when it has none."""
    for histogram in num_stats.histograms:
        if histogram.type == _QUANTILES and histogram.buckets:
            return ([histogram.buckets[0].low_value]
                    + [b.high_value for b in histogram.buckets])
    return []


def _quantile(boundaries: list[float], q: float) -> float:
    position = q * (len(boundaries) - 1)
    low = math.floor(position)
    high = min(low + 1, len(boundaries) - 1)
    return boundaries[low] + (boundaries[high] - boundaries[low]) * (position - low)


# --- Rules of thumb -----------------------------------------------------------------------------

def vocabulary_size(distinct: int) -> int:
    """The distinct values with room for new ones, rounded up to 1, 2 or 5 x 10^k, capped."""
    target = max(2, math.ceil(distinct * VOCABULARY_HEADROOM))
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * 10 ** exponent >= target:
                return min(mantissa * 10 ** exponent, VOCABULARY_CAP)
        exponent += 1


def embedding_dim(distinct: int) -> int:
    return max(EMBEDDING_MIN, min(EMBEDDING_MAX, round(1.6 * max(distinct, 1) ** 0.56)))


def _round_sig(x: float, digits: int = 2) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?[0-9]+", text))


def _is_id_name(name: str) -> bool:
    return name.lower().endswith("id")


def _g(x: float) -> str:
    """A number for a comment: thousands separators for integers, 3 significant digits else."""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.3g}"


def _pct(fraction: float) -> str:
    """A share in whole percents, with the decimals (up to 3) it takes not to read 0% or 100%
    when the share is neither."""
    for digits in range(4):
        text = f"{fraction:.{digits}%}"
        if fraction in (0, 1) or float(text[:-1]) not in (0.0, 100.0):
            break
    return text


# --- The draft ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Field:
    key: str
    value: Any
    comment: str = ""


@dataclasses.dataclass
class Entry:
    """A feature or a task: its fields in order, each with the reason it was proposed."""

    fields: list[Field]

    @property
    def name(self) -> str:
        return self.fields[0].value

    def get(self, key: str, default=None):
        return next((f.value for f in self.fields if f.key == key), default)

    def to_dict(self) -> dict:
        return {f.key: f.value for f in self.fields}


@dataclasses.dataclass
class Draft:
    name: str
    input_format: str
    described: str
    features: list[Entry]
    tasks: list[Entry]
    slices: list[str]
    slices_comment: str = ""
    left_out: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        out = {"name": self.name, "input": {"format": self.input_format},
               "features": [f.to_dict() for f in self.features],
               "tasks": [t.to_dict() for t in self.tasks]}
        if self.slices:
            out["slices"] = list(self.slices)
        return out

    def render(self) -> str:
        """The spec as YAML, every proposal with its reason as a comment on its line."""
        lines = [f"# Drafted by `mtl spec init` from {self.described}.",
                 "# Each line says what in the data it comes from: review every one (names, "
                 "kinds, sizes, gate",
                 "# bounds), then check the file with `mtl spec check FILE`.",
                 f"name: {_yaml(self.name)}",
                 f"input: {{format: {self.input_format}}}",
                 "",
                 "features:"]
        for entry in self.features:
            lines += _render_entry(entry)
        if self.left_out:
            lines.append("  # Left out (add them by hand if the model should read them):")
            lines += [f"  #   {name}: {reason}" for name, reason in self.left_out]
        lines += ["", "tasks:"]
        for entry in self.tasks:
            lines += _render_entry(entry)
        if self.slices:
            lines += ["", _commented(f"slices: {_yaml(list(self.slices))}", self.slices_comment)]
        return "\n".join(lines) + "\n"


_COMMENT_COLUMN = 40


def _commented(text: str, comment: str) -> str:
    if not comment:
        return text
    return f"{text.ljust(_COMMENT_COLUMN - 2)}  # {comment}"


def _render_entry(entry: Entry) -> list[str]:
    lines = []
    for i, field in enumerate(entry.fields):
        prefix = "  - " if i == 0 else "    "
        lines.append(_commented(f"{prefix}{field.key}: {_yaml(field.value)}", field.comment))
    return lines


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _yaml(value) -> str:
    """A value in YAML flow style (strings quoted only when YAML would read them otherwise)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(value)
        if "e" in text or "E" in text:  # YAML 1.1 reads 1e-05 as a string
            text = f"{value:.12f}".rstrip("0")
        return text
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _RESERVED:
            return value
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as YAML")


def default_name(data_dir: str | os.PathLike) -> str:
    """A problem name from the data folder's name (letters, digits, '_', '-', '.')."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", Path(data_dir).resolve().name).strip("_")
    return name or "my_problem"


def categorical_ints(statistics, labels, ignore=()) -> list[str]:
    """Integer features to count as categorical in a second pass: ids (a name ending in `id`)
    and integer lists (sequences), labels and ignored features aside; and the integers that
    may be codes (one per example, within CODE_MAX_RANGE consecutive non-negative values),
    whose count per value tells (`code_measures`)."""
    labels = {name for name, _ in _check_labels(labels)}
    out = []
    for name, feature in _by_name(statistics).items():
        if name in labels or name in ignore or feature.type != _INT:
            continue
        if feature.WhichOneof("stats") != "num_stats":
            continue
        common = _common(feature)
        if common.max_num_values > 1 or _is_id_name(name) or _may_be_code(feature):
            out.append(name)
    return out


def _may_be_code(feature) -> bool:
    stats = feature.num_stats
    if stats.common_stats.max_num_values > 1 or stats.common_stats.num_non_missing == 0:
        return False
    span = stats.max - stats.min + 1
    return stats.min >= 0 and CODE_MIN_DISTINCT <= span <= CODE_MAX_RANGE


@dataclasses.dataclass(frozen=True)
class CodeMeasures:
    """How an integer column's count per value behaves: `trend`, the share of the counts'
    variance a moving average over CODE_TREND_WIDTH neighbouring values explains (a measured
    quantity's counts follow a smooth curve: most of it; codes' do not); `jumps`, the median
    deviation of a value's count from the mean of its two neighbours' as a multiple of what
    Poisson sampling noise gives (codes' counts jump; a quantity's differ by noise)."""

    distinct: int
    trend: float
    jumps: float

    @property
    def is_code(self) -> bool:
        return (self.distinct >= CODE_MIN_DISTINCT and self.trend < CODE_MAX_TREND
                and self.jumps >= CODE_NOISE_RATIO)

    def describe(self) -> str:
        return (f"a smooth trend explains {_pct(self.trend)} of the counts per value (codes: "
                f"under {_pct(CODE_MAX_TREND)}), neighbouring counts differ by {self.jumps:.1f}x "
                f"sampling noise (codes: at least {CODE_NOISE_RATIO:g}x)")


def code_measures(counts: dict[str, float]) -> CodeMeasures | None:
    """`CodeMeasures` of an integer column's {value: count}, over every integer between its
    smallest and largest value (None for fewer than 3 of them)."""
    values = {int(v): c for v, c in counts.items() if _is_int(v)}
    if not values:
        return None
    low, high = min(values), max(values)
    if high - low + 1 < 3:
        return None
    c = [float(values.get(v, 0.0)) for v in range(low, high + 1)]
    half = CODE_TREND_WIDTH // 2
    padded = [c[0]] * half + c + [c[-1]] * half
    trend = [sum(padded[i:i + CODE_TREND_WIDTH]) / CODE_TREND_WIDTH for i in range(len(c))]
    mean = sum(c) / len(c)
    variance = sum((x - mean) ** 2 for x in c)
    residual = sum((x - t) ** 2 for x, t in zip(c, trend))
    explained = max(0.0, 1 - residual / variance) if variance > 0 else 1.0
    deviations, noise = [], []
    for i in range(1, len(c) - 1):
        neighbours = max((c[i - 1] + c[i + 1]) / 2, 1.0)
        deviations.append(abs(c[i] - neighbours) / neighbours)
        # The median |deviation| of Poisson counts: 0.67 sd, sd**2 = 1.5 / count (relative).
        noise.append(0.67 * math.sqrt(1.5 / neighbours))
    jumps = _median(deviations) / _median(noise)
    return CodeMeasures(len(values), explained, jumps)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def draft(statistics, labels, name: str = "my_problem", input_format: str = "tfrecord",
          categorical=None, described: str = "the data", ignore=()) -> Draft:
    """Proposes a spec from `statistics` (see the module docstring for the rules).

    `labels`: (NAME, KIND) pairs or "NAME:KIND" strings, one task each. `categorical`:
    statistics of integer ids and integer sequences computed as categorical
    (`categorical_ints`), which replace theirs in `statistics`. `ignore`: features left out.
    """
    labels = _check_labels(labels)
    features = _by_name(statistics)
    num_examples = int(statistics.datasets[0].num_examples)
    if num_examples == 0:
        raise DraftError(f"{described} holds no example")
    codes: dict[str, CodeMeasures | None] = {}
    if categorical is not None:
        for key, counted in _by_name(categorical).items():
            original = features.get(key)
            if (original is not None and original.WhichOneof("stats") == "num_stats"
                    and not _is_id_name(key) and _may_be_code(original)):
                codes[key] = code_measures(_value_counts(counted))
            else:
                features[key] = counted
    for label, _ in labels:
        if label not in features:
            raise DraftError(f"label {label!r} is not in {described}; its features: "
                             f"{sorted(features)}")
    unknown = sorted(set(ignore) - set(features))
    if unknown:
        raise DraftError(f"--ignore {unknown[0]!r}: no such feature in {described}; its "
                         f"features: {sorted(features)}")
    label_names = {label for label, _ in labels}
    drafted: list[Entry] = []
    left_out: list[tuple[str, str]] = []
    sequences: list[tuple[str, Any, bool]] = []
    for key in sorted(features):
        if key in label_names or key in ignore:
            continue
        feature = features[key]
        reason = _unusable(feature, num_examples)
        if reason:
            left_out.append((key, reason))
            continue
        common = _common(feature)
        kind = feature.WhichOneof("stats")
        if common.max_num_values > 1:
            sequences.append((key, feature, False, ""))
        elif kind == "string_stats" and feature.type == _STRING:
            words = Words.of(feature)
            if words.spaced and words.is_text:
                drafted.append(_text(key, feature, num_examples, words))
            elif words.spaced and input_format == "csv" and words.are_ids:
                sequences.append((key, feature, True, words.describe()))
            else:
                drafted.append(_categorical(key, feature, num_examples, _join(
                    words.spaced and input_format == "csv" and f"not ids: {words.describe()}",
                    words.spaced and f"not text: {words.describe_text()}")))
        elif kind == "string_stats":
            drafted.append(_categorical(key, feature, num_examples))
        elif codes.get(key) is not None and codes[key].is_code:
            drafted.append(_code(key, feature, num_examples, codes[key]))
        else:
            drafted.append(_numeric(key, feature, num_examples, codes.get(key)))
    categoricals = [e for e in drafted if e.get("kind") == "categorical"]
    for key, feature, joined, why in sequences:
        drafted.append(_sequence(key, feature, joined, categoricals, features, num_examples,
                                 why))
    order = {"categorical": 0, "numeric": 1, "sequence": 2, "text": 3}
    drafted.sort(key=lambda e: order[e.get("kind")])
    if not drafted:
        raise DraftError(f"{described} holds no feature besides the labels "
                         f"{sorted(label_names)}")
    tasks = [_task(label, kind, features[label], num_examples) for label, kind in labels]
    slices = sorted((e for e in categoricals
                     if e.get("schema", {}).get("domain") == "closed"
                     and _distinct(features[e.name]) >= 2),
                    key=lambda e: (_distinct(features[e.name]), e.name))[:MAX_SLICES]
    slices_comment = ("metrics (and per-slice gates) per value of these few-valued features"
                      if slices else "")
    return Draft(name=name, input_format=input_format,
                 described=f"{described} ({num_examples:,} examples)", features=drafted,
                 tasks=tasks, slices=[e.name for e in slices], slices_comment=slices_comment,
                 left_out=left_out)


def _unusable(feature, num_examples: int) -> str:
    kind = feature.WhichOneof("stats")
    if feature.type in (_BYTES, _STRUCT) or kind not in ("num_stats", "string_stats"):
        return f"holds {_TYPE_NAMES.get(feature.type, 'values')}: no feature kind reads them"
    common = _common(feature)
    if common.num_non_missing == 0:
        return "absent from every example"
    missing = num_examples - int(common.num_non_missing)
    if missing > ABSENT_MAX * num_examples:
        return (f"absent from {missing:,} of {num_examples:,} examples ("
                f"{_pct(missing / num_examples)}; more than {_pct(ABSENT_MAX)}): too rare to "
                f"learn from")
    single = _single_value(feature)
    if single is not None:
        return f"the same value ({single}) in every example that holds it: it cannot inform " \
               f"the model"
    if feature.type == _FLOAT and common.max_num_values > 1:
        return (f"up to {common.max_num_values} floats per example: no feature kind reads a "
                f"list of floats")
    return ""


def _single_value(feature) -> str | None:
    """The one value of a feature that holds a single value (None when it holds several)."""
    if feature.WhichOneof("stats") == "string_stats":
        if feature.string_stats.unique != 1:
            return None
        counts = _value_counts(feature)
        return repr(next(iter(counts))) if counts else "one value"
    stats = feature.num_stats
    if stats.min != stats.max or _common(feature).max_num_values > 1:
        return None
    return _g(stats.min)


def _distinct(feature) -> int:
    return int(feature.string_stats.unique)


@dataclasses.dataclass(frozen=True)
class Words:
    """How the string values of a column hold words (from the up to 1,000 most frequent
    values): `spaced`, some value holds several whitespace-separated tokens; `recur`, the
    share of the distinct values made only of tokens that recur in other values (id lists:
    nearly all; names and phrases: few); `mean_words`, `most_words` per value; `distinct`
    the share of the examples' values that are distinct."""

    spaced: bool
    values: int
    recur: float
    mean_words: float
    most_words: int
    words: int
    distinct: float
    alphabetic: float

    @classmethod
    def of(cls, feature) -> Words:
        counts = _value_counts(feature)
        tokens = {value: value.split() for value in counts}
        seen_in: dict[str, int] = {}
        for parts in tokens.values():
            for token in set(parts):
                seen_in[token] = seen_in.get(token, 0) + 1
        recurring = sum(1 for parts in tokens.values()
                        if parts and all(seen_in[t] > 1 for t in parts))
        weight = sum(counts.values())
        mean = (sum(len(tokens[v]) * c for v, c in counts.items()) / weight) if weight else 0.0
        present = int(_common(feature).num_non_missing)
        return cls(spaced=any(len(parts) > 1 for parts in tokens.values()),
                   values=len(counts), recur=recurring / len(counts) if counts else 0.0,
                   mean_words=mean, most_words=max((len(p) for p in tokens.values()), default=0),
                   words=len(seen_in),
                   distinct=_distinct(feature) / present if present else 0.0,
                   alphabetic=(sum(1 for t in seen_in if t.isalpha()) / len(seen_in)
                               if seen_in else 0.0))

    @property
    def are_ids(self) -> bool:
        return self.values >= ID_MIN_VALUES and self.recur >= ID_TOKEN_RECUR

    @property
    def is_text(self) -> bool:
        return (self.mean_words >= TEXT_MIN_WORDS and self.distinct >= TEXT_MIN_DISTINCT
                and self.alphabetic >= TEXT_MIN_ALPHABETIC)

    def describe(self) -> str:
        """The id measure: why a CSV column of strings with spaces is (or is not) ids."""
        return (f"{_pct(self.recur)} of {self.values:,} values are made only of words that "
                f"recur in other values (ids: at least {_pct(ID_TOKEN_RECUR)} of "
                f"{ID_MIN_VALUES} or more)")

    def describe_text(self) -> str:
        """The text measure: why strings with spaces are (or are not) text."""
        return (f"{self.mean_words:.1f} words per value on average, {_pct(self.distinct)} of "
                f"the values distinct, {_pct(self.alphabetic)} of the words alphabetic (text: "
                f"at least {TEXT_MIN_WORDS} words, {_pct(TEXT_MIN_DISTINCT)} distinct, "
                f"{_pct(TEXT_MIN_ALPHABETIC)} alphabetic)")


def _presence(feature, num_examples: int) -> str:
    missing = num_examples - int(_common(feature).num_non_missing)
    if missing <= 0:
        return ""
    return f"absent from {missing:,} examples ({_pct(missing / num_examples)})"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _categorical(key: str, feature, num_examples: int, words: str = "") -> Entry:
    distinct = _distinct(feature)
    is_int = feature.type == _INT
    what = ("integer id (a name ending in 'id')" if is_int
            else "string with spaces" if words else "string")
    fields = [Field("name", key, _presence(feature, num_examples)),
              Field("kind", "categorical",
                    _join(f"one {what} per example, {distinct:,} distinct values", words))]
    if is_int:
        fields.append(Field("dtype", "int"))
    size = vocabulary_size(distinct)
    fields.append(Field("vocabulary_size", size,
                        f"the {distinct:,} values seen, capped" if size == VOCABULARY_CAP
                        else f"the {distinct:,} values seen, with room for new ones"))
    fields.append(Field("embedding_dim", embedding_dim(distinct),
                        f"min({EMBEDDING_MAX}, 1.6 * {distinct}**0.56), at least "
                        f"{EMBEDDING_MIN}"))
    if distinct <= CLOSED_DOMAIN_MAX:
        fields.append(Field("schema", {"domain": "closed"},
                            f"{distinct} values: any other value is an anomaly"))
    elif distinct <= OPEN_DOMAIN_MAX and not _is_id_name(key):
        fields.append(Field("schema", {"domain": "open", "min_domain_mass": OPEN_DOMAIN_MASS},
                            f"{distinct} values: up to {_pct(1 - OPEN_DOMAIN_MASS)} of a span may "
                            f"be new ones (the OOV bucket)"))
    return Entry(fields)


def _code(key: str, feature, num_examples: int, measures: CodeMeasures) -> Entry:
    """An integer column whose values behave like codes: categorical, dtype int."""
    stats = feature.num_stats
    distinct = measures.distinct
    fields = [Field("name", key, _presence(feature, num_examples)),
              Field("kind", "categorical",
                    f"integer codes, not a quantity: {distinct} values in {_g(stats.min)} .. "
                    f"{_g(stats.max)}; {measures.describe()}"),
              Field("dtype", "int"),
              Field("vocabulary_size", vocabulary_size(distinct),
                    f"the {distinct:,} values seen, with room for new ones"),
              Field("embedding_dim", embedding_dim(distinct),
                    f"min({EMBEDDING_MAX}, 1.6 * {distinct}**0.56), at least {EMBEDDING_MIN}")]
    return Entry(fields)


def _text(key: str, feature, num_examples: int, words: Words) -> Entry:
    """Long, varied strings: a text feature, tokenized into words inside the Transform graph."""
    length = min(TEXT_MAX_LENGTH_CAP, max(1, words.most_words))
    fields = [Field("name", key, _presence(feature, num_examples)),
              Field("kind", "text", f"free text: {words.describe_text()}"),
              Field("max_length", length,
                    f"the most words in {words.values:,} values seen"
                    + ("" if length == words.most_words else f" ({words.most_words}), capped")),
              Field("vocabulary_size", vocabulary_size(words.words),
                    f"the {words.words:,} distinct words of those values, with room for more")]
    return Entry(fields)


def _numeric(key: str, feature, num_examples: int,
             measures: CodeMeasures | None = None) -> Entry:
    stats = feature.num_stats
    is_int = feature.type == _INT
    low, high, median = stats.min, stats.max, stats.median
    quantiles = _quantiles(stats)
    fields = [Field("name", key, _presence(feature, num_examples)),
              Field("kind", "numeric",
                    _join(f"one {'integer' if is_int else 'float'} per example: {_g(low)} .. "
                          f"{_g(high)}, median {_g(median)}",
                          measures and measures.distinct >= CODE_MIN_DISTINCT
                          and f"a quantity, not codes: {measures.describe()}")),
              Field("dtype", "int" if is_int else "float")]
    if low < 0:
        fields.append(Field("transform", "z_score", "takes negative values"))
    else:
        q99 = _quantile(quantiles, 0.99) if quantiles else high
        reference = median if median > 0 else stats.mean
        ratio = q99 / reference if reference > 0 else 0.0
        if ratio >= LOG_TAIL_RATIO:
            fields.append(Field("transform", "log",
                                f"non-negative, heavy tail: 99th percentile {_g(q99)} = "
                                f"{ratio:.1f}x the {'median' if median > 0 else 'mean'}"))
        else:
            fields.append(Field("transform", "z_score",
                                f"no heavy tail: 99th percentile {_g(q99)} = {ratio:.1f}x the "
                                f"{'median' if median > 0 else 'mean'}" if reference > 0
                                else "no heavy tail"))
        if high <= 1:
            fields.append(Field("schema", {"min": 0, "max": 1},
                                "every value in [0, 1]: a rate or a flag"))
        else:
            fields.append(Field("schema", {"min": 0},
                                "no negative value seen; add max: if the values are bounded"))
    return Entry(fields)


def _sequence_values(feature, joined: bool) -> tuple[dict[str, float], int, int, float]:
    """(value -> count, distinct values, most values per example, mean) of a sequence; for a
    CSV column of whitespace-separated ids, from the most frequent strings (up to 1,000)."""
    counts = _value_counts(feature)
    common = _common(feature)
    if not joined:
        return counts, _distinct(feature), int(common.max_num_values), common.avg_num_values
    tokens: dict[str, float] = {}
    longest, total, weight = 0, 0.0, 0.0
    for value, count in counts.items():
        parts = value.split()
        longest = max(longest, len(parts))
        total += len(parts) * count
        weight += count
        for token in parts:
            tokens[token] = tokens.get(token, 0.0) + count
    return tokens, len(tokens), longest, total / weight if weight else 0.0


def _sequence(key: str, feature, joined: bool, categoricals: list[Entry], features: dict,
              num_examples: int, why: str = "") -> Entry:
    counts, distinct, longest, mean = _sequence_values(feature, joined)
    # A CSV column of integer ids: an int sequence (Transform parses the tokens).
    is_int = feature.type == _INT or (joined and all(_is_int(v) for v in counts))
    common = _common(feature)
    values = "integers" if is_int else "strings"
    if joined:
        what = (f"whitespace-separated ids in one string: {why}; up to {longest} ids (mean "
                f"{mean:.1f}) in the {len(_value_counts(feature)):,} most frequent strings")
    else:
        what = (f"{common.min_num_values} to {longest} {values} per example (mean "
                f"{mean:.1f})")
    fields = [Field("name", key, _presence(feature, num_examples)),
              Field("kind", "sequence", what)]
    if is_int:
        fields.append(Field("dtype", "int"))
    if longest <= MAX_LENGTH_CAP:
        fields.append(Field("max_length", max(1, longest),
                            "the most values an example holds" if not joined
                            else "the most ids seen (longer lists keep their first ids)"))
    else:
        length = MAX_LENGTH_CAP
        quantiles = [b.low_value for b in common.num_values_histogram.buckets]
        if quantiles and not joined:
            length = min(MAX_LENGTH_CAP, max(1, math.ceil(common.num_values_histogram
                                                          .buckets[-1].low_value)))
        fields.append(Field("max_length", length,
                            f"the longest holds {longest}: capped (a longer list keeps its "
                            f"first {length})"))
    best, overlap = None, 0.0
    total = sum(counts.values())
    dtype = "int" if is_int else "string"
    for entry in categoricals:
        if entry.get("dtype", "string") != dtype or total == 0:
            continue
        known = _value_counts(features[entry.name])
        share = sum(c for v, c in counts.items() if v in known) / total
        if share > overlap:
            best, overlap = entry.name, share
    if best is not None and overlap >= SHARED_VOCABULARY_OVERLAP:
        fields.append(Field("vocabulary", best,
                            f"{_pct(overlap)} of its values are {best} values: one vocabulary "
                            f"and one embedding"))
    else:
        why = (f"only {_pct(overlap)} of its values are {best} values" if best
               else "no categorical feature shares its values")
        fields.append(Field("vocabulary_size", vocabulary_size(distinct),
                            f"{why}: its own vocabulary, {distinct:,} distinct values"))
        fields.append(Field("embedding_dim", embedding_dim(distinct),
                            f"min({EMBEDDING_MAX}, 1.6 * {distinct}**0.56), at least "
                            f"{EMBEDDING_MIN}"))
    return Entry(fields)


# --- Tasks --------------------------------------------------------------------------------------

def _task(label: str, kind: str, feature, num_examples: int) -> Entry:
    if _common(feature).num_non_missing == 0:
        raise DraftError(f"label {label!r} is absent from every example (an empty column): "
                         f"no observed value to learn from")
    if feature.type not in (_INT, _FLOAT):
        raise DraftError(f"label {label!r} holds {_TYPE_NAMES.get(feature.type, 'values')}; a "
                         f"{kind} label is a number"
                         + (" (a class id 0..K-1)" if kind == "multiclass" else ""))
    common = _common(feature)
    if common.max_num_values > 1:
        raise DraftError(f"label {label!r} holds up to {common.max_num_values} values per "
                         f"example; a label is one value")
    if common.num_non_missing == 0:
        raise DraftError(f"label {label!r} is absent from every example")
    absent = _presence(feature, num_examples)
    if kind == "regression":
        return _regression(label, feature, absent)
    if feature.type == _FLOAT:
        raise DraftError(f"label {label!r} holds floats; a {kind} label is an integer ("
                         + ("0 or 1" if kind == "binary" else "a class id 0..K-1")
                         + ", a negative value where not observed)")
    if feature.WhichOneof("stats") != "string_stats":
        raise DraftError(f"label {label!r}: its statistics lack the count of each value "
                         f"(compute them with statistics_options({label!r}))")
    counts = {int(v): c for v, c in _value_counts(feature).items()}
    negatives = sorted(v for v in counts if v < 0)
    if len(negatives) > 1:
        raise DraftError(f"label {label!r} has several negative values {negatives}; one negative "
                         f"value (the missing sentinel) at most")
    missing = negatives[0] if negatives else -1
    observed = {v: c for v, c in counts.items() if v >= 0}
    n_observed = sum(observed.values())
    if not observed:
        raise DraftError(f"label {label!r}: every value is {missing} (not observed)")
    if kind == "binary":
        other = sorted(v for v in observed if v not in (0, 1))
        if other:
            raise DraftError(f"label {label!r} has the values {other[:5]}; a binary label is 0 or 1"
                             f" (a negative value where not observed); class ids are multiclass")
    fields = [Field("name", label),
              Field("kind", kind, _join(_label_summary(kind, observed, n_observed, num_examples),
                                        absent and f"{absent}: not observed"))]
    fields.append(Field("label", label))
    fields.append(_missing_field(missing, counts.get(missing, 0), num_examples))
    if kind == "binary":
        fields.append(Field("gate", {"metric": GATE_METRICS[kind], "bound": BINARY_BOUND,
                                     "max_change": BINARY_MAX_CHANGE},
                            "AUC 0.5 is chance: raise the bound to what a run reaches"))
        return Entry(fields)
    num_classes = max(observed) + 1
    if num_classes < 2:
        raise DraftError(f"label {label!r}: the only class id is 0; a multiclass task needs 2 "
                         f"classes or more")
    majority, majority_count = max(observed.items(), key=lambda kv: (kv[1], -kv[0]))
    share = majority_count / n_observed
    fields.append(Field("num_classes", num_classes,
                        f"the largest class id is {num_classes - 1}; name them with classes: "
                        f"[...]"))
    fields.append(Field("top_k", min(MULTICLASS_TOP_K, num_classes)))
    bound = math.floor(share * 100) / 100
    fields.append(Field("gate", {"metric": GATE_METRICS[kind], "bound": bound,
                                 "max_change": 0.03},
                        f"always predicting class {majority} reaches {_pct(share)} (the bound, "
                        f"rounded down): raise it to what a run reaches"))
    return Entry(fields)


def _label_summary(kind: str, observed: dict[int, float], n_observed: float,
                   num_examples: int) -> str:
    seen = f"observed in {int(n_observed):,} of {num_examples:,} examples"
    if kind == "binary":
        positive = observed.get(1, 0) / n_observed
        note = "" if len(observed) == 2 else f" (only {next(iter(observed))}: AUC needs both)"
        return f"{seen}, {_pct(positive)} positive{note}"
    shares = ", ".join(f"{v}: {_pct(c / n_observed)}" for v, c in sorted(observed.items())[:10])
    more = ", ..." if len(observed) > 10 else ""
    return f"{seen}; classes {shares}{more}"


def _missing_field(missing: float, count: float, num_examples: int) -> Field:
    if count:
        return Field("missing", missing, f"the one negative value, in {_pct(count / num_examples)}"
                                         f" of the examples: not observed")
    return Field("missing", missing, "no negative value in the data: -1 (like an absent "
                                     "label) would mean not observed")


def _regression(label: str, feature, absent: str) -> Entry:
    stats = feature.num_stats
    n = float(stats.common_stats.num_non_missing)
    quantiles = _quantiles(stats)
    if stats.min < 0:
        missing = int(stats.min) if float(stats.min).is_integer() else _round_sig(stats.min, 6)
        between = sorted({q for q in quantiles if stats.min < q < 0})
        if between:
            raise DraftError(f"label {label!r} has negative values other than its smallest, "
                             f"{_g(stats.min)} (e.g. {_g(between[0])}); a regression label is >= "
                             f"0, with one negative value where not observed")
        share = _share_at_min(stats)
    else:
        missing, share = -1, 0.0
    n_missing = share * n
    n_observed = n - n_missing
    if n_observed < 1:
        raise DraftError(f"label {label!r}: every value is {_g(stats.min)} (not observed)")
    mean = (stats.mean * n - stats.min * n_missing) / n_observed if share else stats.mean
    square = (stats.std_dev ** 2 + stats.mean ** 2) * n - stats.min ** 2 * n_missing
    std = math.sqrt(max(square / n_observed - mean ** 2, 0.0))
    scale = _round_sig(mean) if mean > 0 else (_round_sig(std) if std > 0 else 1.0)
    bound = _round_sig(std) if std > 0 else 1.0
    median = _quantile(quantiles, (1 + share) / 2) if quantiles else stats.median
    about = "about " if share else ""
    observed = (f"observed in {about}{_pct(1 - share)} of the examples: median {_g(median)}, "
                f"max {_g(stats.max)}")
    fields = [Field("name", label),
              Field("kind", "regression", _join(observed, absent and f"{absent}: not observed")),
              Field("label", label)]
    if share:
        fields.append(Field("missing", missing, f"the smallest value, in about {_pct(share)} "
                                                f"of the examples: not observed"))
    else:
        fields.append(Field("missing", missing, "no negative value in the data: -1 (like an "
                                                "absent label) would mean not observed"))
    fields.append(Field("scale", scale, f"the observed labels' mean {_g(mean)} (std {_g(std)}): "
                                        f"the loss is divided by scale**2"))
    fields.append(Field("gate", {"metric": GATE_METRICS["regression"], "bound": bound,
                                 "max_change": REGRESSION_MAX_CHANGE, "change": "relative"},
                        f"the observed std: the RMSE of always predicting the mean; a release "
                        f"may lose {_pct(REGRESSION_MAX_CHANGE)}"))
    return Entry(fields)


def _share_at_min(num_stats) -> float:
    """The fraction of values equal to the minimum, from the quantile histogram."""
    for histogram in num_stats.histograms:
        if histogram.type != _QUANTILES or not histogram.buckets:
            continue
        total = sum(b.sample_count for b in histogram.buckets)
        at_min = 0.0
        for bucket in histogram.buckets:
            if bucket.high_value <= num_stats.min:
                at_min += bucket.sample_count
            elif bucket.low_value <= num_stats.min:
                at_min += bucket.sample_count / 2
                break
            else:
                break
        return at_min / total if total else 0.0
    return 0.0


# --- From a data folder -------------------------------------------------------------------------

def draft_from_data(data_dir: str | os.PathLike, labels, name: str | None = None,
                    input_format: str | None = None, ignore=(), beam_args=None) -> Draft:
    """Computes the newest span's statistics (a second pass over the integer ids and integer
    lists, when there are some) and drafts the spec from them."""
    labels = _check_labels(labels)
    input_format = input_format or statistics_lib.detect_format(data_dir)
    span, _ = statistics_lib.newest_span_files(data_dir, input_format)
    # An empty or corrupt file, or a feature of two types, is named before the statistics.
    preflight.check_latest_span(data_dir, input_format=input_format)
    categorical_labels = [label for label, kind in labels if kind != "regression"]
    statistics = statistics_lib.span_statistics(
        data_dir, input_format, beam_args=beam_args,
        stats_options=statistics_options(categorical_labels))
    ints = categorical_ints(statistics, labels, ignore)
    categorical = None
    if ints:
        categorical = statistics_lib.span_statistics(
            data_dir, input_format, beam_args=beam_args,
            stats_options=statistics_options(ints, only=ints))
    described = f"{layout.span_dir(data_dir, span)}"
    return draft(statistics, labels, name=name or default_name(data_dir),
                 input_format=input_format, categorical=categorical, described=described,
                 ignore=tuple(ignore))
