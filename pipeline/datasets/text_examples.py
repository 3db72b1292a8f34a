"""The text example format, shared by the embedded text generator and the dataset loaders.

Every text example is a `tf.train.Example` with these features (`FEATURES`):

  text          bytes      a sentence or a paragraph: its words joined by single spaces, so the
                           words are `text.split(" ")` and the character offsets of word i are
                           well defined (no leading, trailing or repeated space, no tab or
                           newline).
  question      bytes      a question about `text`, "" when the example has none.
  sentiment     int64      1 positive, 0 negative, -1 not labelled.
  entity_tags   bytes list one IOB2 tag per word of `text` (`TAGS`), an empty list when the
                           example has no entity labels.
  answer_start  int64      character offsets into `text` of the answer to `question`, end
  answer_end    int64      exclusive: text[answer_start:answer_end] == answer_text; -1 / -1 when
                           no answer is labelled.
  answer_text   bytes      the answer, "" when none.
  split_key     bytes      what ExampleGen hashes to put the example in train or eval when the
                           pipeline splits by this feature (see below).

Offsets count characters (Unicode code points, Python's `str` indices), not UTF-8 bytes. An
example may carry the labels of any subset of the tasks; a missing label is masked.

Splitting on `split_key`. ExampleGen, given a `SplitConfig` with `partition_feature_name`, hashes
the feature, not the whole example: bucket = sha256(the feature's `tf.train.Feature` serialized
deterministically) mod the total number of hash buckets, and the splits take consecutive
buckets in order (tfx/components/example_gen/base_example_gen_executor.py, `_PartitionFn`).
`partition_bucket` computes the same bucket without TensorFlow. The pipeline of a text problem
splits with

    SplitConfig(splits=[Split(name="train", hash_buckets=4), Split(name="eval", hash_buckets=1)],
                partition_feature_name="split_key")

Examples that share a key share a split (the loaders give every question of a SQuAD article,
every sentence of a CoNLL document, the same key). A key made by `eval_split_key` hashes to the
last of `EVAL_MODULUS` buckets, so it lands in the eval split whenever eval is the last split,
has at least one bucket, and the total bucket count divides 60 (4 + 1, 2 + 1, 9 + 1, 19 + 1...):
the generator's held-out examples get such keys. Without `partition_feature_name`, ExampleGen
hashes the whole example and the held-out examples would reach the train split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
from pathlib import Path

from pipeline.data import layout
from pipeline.datasets.generator import write_records

TEXT, QUESTION, SENTIMENT, ENTITY_TAGS = "text", "question", "sentiment", "entity_tags"
ANSWER_START, ANSWER_END, ANSWER_TEXT, SPLIT_KEY = (
    "answer_start", "answer_end", "answer_text", "split_key")
FEATURES = (TEXT, QUESTION, SENTIMENT, ENTITY_TAGS, ANSWER_START, ANSWER_END, ANSWER_TEXT,
            SPLIT_KEY)
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
TAGS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
MISSING = -1
# The tasks an example may be labelled for: the sentiment, the entity tags, the answer's span.
SENTIMENT_TASK, ENTITIES_TASK, QA_TASK = "sentiment", "entities", "qa"
TASKS = (SENTIMENT_TASK, ENTITIES_TASK, QA_TASK)
# The default split of the pipeline: train takes buckets 0..3, eval bucket 4.
TRAIN_BUCKETS, EVAL_BUCKETS = 4, 1
EVAL_MODULUS = 60


@dataclasses.dataclass(frozen=True)
class TextExample:
    """One text example; the defaults are "not labelled" for every task."""

    text: str
    question: str = ""
    sentiment: int = MISSING
    entity_tags: tuple[str, ...] = ()
    answer_start: int = MISSING
    answer_end: int = MISSING
    answer_text: str = ""
    split_key: str = ""

    @property
    def words(self) -> list[str]:
        return self.text.split(" ")

    def tasks(self) -> tuple[str, ...]:
        """The labelled tasks, among `TASKS`."""
        out = []
        if self.sentiment != MISSING:
            out.append(SENTIMENT_TASK)
        if self.entity_tags:
            out.append(ENTITIES_TASK)
        if self.answer_start != MISSING:
            out.append(QA_TASK)
        return tuple(out)

    def to_dict(self) -> dict:
        return {name: (list(v) if isinstance(v, tuple) else v)
                for name, v in dataclasses.asdict(self).items()}


def normalize_space(text: str) -> str:
    """`text`'s words (split on any whitespace) joined by single spaces."""
    return " ".join(text.split())


def problems(example: TextExample) -> list[str]:
    """What breaks the format in `example` (empty when it is valid)."""
    out = []
    text = example.text
    if not text:
        out.append("empty text")
    elif text != normalize_space(text):
        out.append("text is not its words joined by single spaces")
    if example.question != normalize_space(example.question):
        out.append("question is not its words joined by single spaces")
    if example.sentiment not in (MISSING, 0, 1):
        out.append(f"sentiment {example.sentiment!r} is not 0, 1 or {MISSING}")
    tags = example.entity_tags
    if tags:
        words = example.words
        if len(tags) != len(words):
            out.append(f"{len(tags)} entity tags for {len(words)} words")
        unknown = sorted({t for t in tags if t not in TAGS})
        if unknown:
            out.append(f"unknown entity tags {unknown} (known: {', '.join(TAGS)})")
        else:
            for i, tag in enumerate(tags):
                if tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:]):
                    out.append(f"entity tag {tag} at word {i} does not continue a {tag[2:]} "
                               "entity (IOB2)")
                    break
    start, end, answer = example.answer_start, example.answer_end, example.answer_text
    if (start, end) == (MISSING, MISSING):
        if answer:
            out.append(f"answer_text {answer!r} without offsets")
    elif not 0 <= start < end <= len(text):
        out.append(f"answer offsets {start}..{end} are outside the text ({len(text)} characters)")
    elif text[start:end] != answer:
        out.append(f"text[{start}:{end}] is {text[start:end]!r}, not the answer {answer!r}")
    elif not example.question:
        out.append("an answer without a question")
    return out


def word_offsets(words: list[str]) -> list[int]:
    """The character offset of each word in " ".join(words)."""
    offsets, at = [], 0
    for word in words:
        offsets.append(at)
        at += len(word) + 1
    return offsets


# --- ExampleGen's split by split_key --------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def partition_bucket(key: str, total_buckets: int) -> int:
    """The hash bucket ExampleGen gives an example whose `split_key` is `key`, out of
    `total_buckets`: sha256 of `tf.train.Feature(bytes_list=BytesList(value=[key]))`
    serialized (field 1, length-delimited, inside field 1), as an integer, modulo the total."""
    raw = key.encode("utf-8")
    bytes_list = b"\x0a" + _varint(len(raw)) + raw
    feature = b"\x0a" + _varint(len(bytes_list)) + bytes_list
    return int(hashlib.sha256(feature).hexdigest(), 16) % total_buckets


def split_of(key: str, train_buckets: int = TRAIN_BUCKETS,
             eval_buckets: int = EVAL_BUCKETS) -> str:
    """"train" or "eval": where ExampleGen puts `key` with these bucket counts."""
    bucket = partition_bucket(key, train_buckets + eval_buckets)
    return "train" if bucket < train_buckets else "eval"


def eval_split_key(base: str) -> str:
    """`base` with the first suffix ".<n>" that hashes to the last of `EVAL_MODULUS` buckets:
    in eval for every split whose eval is last and whose total bucket count divides 60."""
    for n in itertools.count():
        key = f"{base}.{n}"
        if partition_bucket(key, EVAL_MODULUS) == EVAL_MODULUS - 1:
            return key
    raise AssertionError("unreachable")


def content_key(prefix: str, text: str) -> str:
    """A stable split key from content: equal content, equal split."""
    return f"{prefix}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


# --- Writing ----------------------------------------------------------------------------------

def to_records(examples: list[TextExample]) -> list[bytes]:
    """Serialized `tf.train.Example`s, after checking every example's format. Serialized
    deterministically (features in name order), so the same examples give the same bytes."""
    import tensorflow as tf

    def strings(*values: str):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))

    def number(value: int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    out = []
    for i, example in enumerate(examples):
        found = problems(example)
        if found:
            raise ValueError(f"example {i} ({example.text[:40]!r}...): {'; '.join(found)}")
        feature = {
            TEXT: strings(example.text), QUESTION: strings(example.question),
            SENTIMENT: number(example.sentiment), ENTITY_TAGS: strings(*example.entity_tags),
            ANSWER_START: number(example.answer_start), ANSWER_END: number(example.answer_end),
            ANSWER_TEXT: strings(example.answer_text), SPLIT_KEY: strings(example.split_key)}
        record = tf.train.Example(features=tf.train.Features(feature=feature))
        out.append(record.SerializeToString(deterministic=True))
    return out


def next_span(out_dir: str | os.PathLike, append: bool) -> int:
    """The span to write: 1 in a folder without spans, the next one with `append`."""
    present = layout.existing_spans(out_dir)
    if present and not append:
        raise FileExistsError(
            f"{out_dir} already holds spans {present}; use --append-span to add the next one")
    return present[-1] + 1 if present else 1


def write_span(out_dir: str | os.PathLike, span: int, examples: list[TextExample]) -> Path:
    """Writes `examples` as span `span` atomically (temporary folder, then rename)."""
    if not examples:
        raise ValueError("no example to write")
    return write_records(out_dir, span, to_records(examples))


def read_span(span_dir: str | os.PathLike) -> list[TextExample]:
    """The examples of a span folder, in file order (for checks and tests)."""
    import tensorflow as tf

    files = sorted(str(p) for p in Path(span_dir).glob(layout.FILE_GLOB))
    return [from_record(tf.train.Example.FromString(record))
            for record in tf.data.TFRecordDataset(files, compression_type="GZIP")
            .as_numpy_iterator()]


def from_record(example) -> TextExample:
    """A `tf.train.Example` of the format as a `TextExample`."""
    feature = example.features.feature

    def text(name):
        return feature[name].bytes_list.value[0].decode("utf-8")

    def number(name):
        return int(feature[name].int64_list.value[0])

    return TextExample(
        text=text(TEXT), question=text(QUESTION), sentiment=number(SENTIMENT),
        entity_tags=tuple(t.decode("utf-8") for t in feature[ENTITY_TAGS].bytes_list.value),
        answer_start=number(ANSWER_START), answer_end=number(ANSWER_END),
        answer_text=text(ANSWER_TEXT), split_key=text(SPLIT_KEY))
