"""Loaders of public text datasets into spans of text examples (`pipeline.datasets.text_examples`).

  sst2    SST-2's TSV: a header line `sentence<TAB>label`, then one sentence and its 0/1 label
          per line -> sentiment examples.
  conll   CoNLL-2003: `word POS chunk NER` per line, a blank line between sentences,
          `-DOCSTART-` lines between documents -> entity examples. The NER column is IOB1 (a
          chunk starts with I- unless it follows a chunk of the same type); it is written as
          IOB2, where every chunk starts with B-: an I-X that does not continue an X chunk
          becomes B-X.
  squad   SQuAD v1.1's JSON: data -> paragraphs -> context, qas -> question, id and answers; the
          first answer's answer_start and text -> QA examples.
  imdb    a CSV with a header `label,text` and 0/1 labels, as the 100 labelled IMDB reviews that
          ship with TFX (`imdb_sample_path()`) -> sentiment examples.

Texts are re-spaced to their words joined by single spaces (HTML line breaks `<br />` in the
reviews become spaces). A SQuAD context is re-spaced too, and its answer's offsets moved to
match: the format promises every text is its words joined by single spaces, so that a QA
paragraph can carry entity tags as well; the answer's words keep their characters, only runs
of whitespace shrink to one space (an answer starting or ending in whitespace is trimmed).

Split keys: examples that must not be split between train and eval share one. Every question
of a SQuAD article gets the article's title (its paragraphs are shared by several questions, so
a per-question key would show eval's paragraphs in training), every sentence of a CoNLL
document its document's key, and an SST-2 sentence or a review a key from its text (a sentence
found twice lands in one split).

Bad input raises `TextDataError`, naming the file, the record (line, row or question id) and
the problem; nothing is written then. A span is written to a temporary folder and renamed into
place, so a reader never sees a half-written span.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
from pathlib import Path

from pipeline.datasets import text_examples as tx
from pipeline.datasets.text_examples import TextExample

FORMATS = ("sst2", "conll", "squad", "imdb")
CONLL_DOCSTART = "-DOCSTART-"
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


class TextDataError(ValueError):
    """Input that cannot be loaded: names the file, the record and the problem."""

    def __init__(self, path: str | os.PathLike, record: str, problem: str):
        self.path, self.record, self.problem = str(path), record, problem
        super().__init__(f"{path}: {record}: {problem}")


def _label(path, record: str, value: str) -> int:
    if value.strip() not in ("0", "1"):
        raise TextDataError(path, record, f"label {value!r} is not 0 or 1")
    return int(value)


def _sentiment(path, record: str, source: str, raw_text: str, label: str,
               what: str) -> TextExample:
    """A sentiment example of `source` (sst2, imdb): its text with single spaces, its 0/1
    label; an empty text is refused as an empty `what`."""
    text = tx.normalize_space(raw_text)
    if not text:
        raise TextDataError(path, record, f"empty {what}")
    return _checked(path, record, TextExample(text=text, sentiment=_label(path, record, label),
                                              split_key=tx.content_key(source, text)))


def _checked(path, record: str, example: TextExample) -> TextExample:
    found = tx.problems(example)
    if found:
        raise TextDataError(path, record, "; ".join(found))
    return example


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte order mark is not text
    except UnicodeDecodeError as e:
        raise TextDataError(path, f"byte {e.start}", "not UTF-8 text") from None


# --- SST-2 ------------------------------------------------------------------------------------

def load_sst2(path: str | os.PathLike) -> list[TextExample]:
    path = Path(path)
    lines = _read_text(path).splitlines()
    if not lines or lines[0].strip().split("\t") != ["sentence", "label"]:
        head = lines[0][:60] if lines else ""
        raise TextDataError(path, "line 1", f"expected the header 'sentence<TAB>label', got "
                                            f"{head!r}")
    out = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        record = f"line {number}"
        fields = line.split("\t")
        if len(fields) != 2:
            raise TextDataError(path, record, f"{len(fields)} tab-separated fields, expected 2 "
                                              "(sentence, label)")
        out.append(_sentiment(path, record, "sst2", fields[0], fields[1], "sentence"))
    return out


# --- CoNLL-2003 -------------------------------------------------------------------------------

def iob1_to_iob2(tags: list[str]) -> list[str]:
    """IOB1 -> IOB2: an I-X that does not continue an X chunk starts one (B-X)."""
    out = []
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and (i == 0 or tags[i - 1] == "O" or tags[i - 1][2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
    return out


def load_conll(path: str | os.PathLike) -> list[TextExample]:
    path = Path(path)
    out: list[TextExample] = []
    words: list[str] = []
    tags: list[str] = []
    first_line = 0
    document = 0

    def flush():
        if words:
            out.append(_checked(path, f"sentence at line {first_line}", TextExample(
                text=" ".join(words), entity_tags=tuple(iob1_to_iob2(tags)),
                split_key=f"conll-{path.stem}-{document}")))
            words.clear()
            tags.clear()

    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            flush()
            continue
        if fields[0] == CONLL_DOCSTART:
            flush()
            document += 1
            continue
        record = f"line {number}"
        if len(fields) != 4:
            raise TextDataError(path, record, f"{len(fields)} columns, expected 4 (word POS chunk "
                                              "NER): a word without its tag, or a tag without "
                                              "its word")
        tag = fields[3]
        if tag not in tx.TAGS:
            raise TextDataError(path, record, f"unknown tag {tag!r} (known: "
                                              f"{', '.join(tx.TAGS)})")
        if not words:
            first_line = number
        words.append(fields[0])
        tags.append(tag)
    flush()
    return out


# --- SQuAD v1.1 -------------------------------------------------------------------------------

def respace(context: str, start: int, end: int) -> tuple[str, int, int]:
    """`context` with its words joined by single spaces, and the answer [start, end) moved to
    the same characters in it (leading and trailing whitespace of the answer dropped)."""
    new_index = []  # new offset of each non-space character of `context`, None for space
    at = 0
    pending_space = False
    for char in context:
        if char.isspace():
            new_index.append(None)
            pending_space = at > 0
            continue
        if pending_space:
            at += 1
            pending_space = False
        new_index.append(at)
        at += 1
    inside = [new_index[i] for i in range(start, end) if new_index[i] is not None]
    text = tx.normalize_space(context)
    if not inside:
        return text, -1, -1
    return text, inside[0], inside[-1] + 1


def load_squad(path: str | os.PathLike) -> list[TextExample]:
    path = Path(path)
    try:
        document = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise TextDataError(path, f"line {e.lineno}", f"not JSON: {e.msg}") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise TextDataError(path, "top level", "expected an object with a 'data' list")
    out = []
    for a, article in enumerate(document["data"]):
        where = f"data[{a}]"
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise TextDataError(path, where, "expected an object with a 'paragraphs' list")
        title = str(article.get("title", a))
        for p, paragraph in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
                    or not isinstance(paragraph.get("qas"), list):
                raise TextDataError(path, where, "expected an object with a 'context' string "
                                                 "and a 'qas' list")
            context = paragraph["context"]
            for q, qa in enumerate(paragraph["qas"]):
                out.append(_squad_example(path, f"{where}.qas[{q}]", context, qa, title))
    return out


def _squad_example(path: Path, where: str, context: str, qa, title: str) -> TextExample:
    if not isinstance(qa, dict):
        raise TextDataError(path, where, "expected an object with 'id', 'question', 'answers'")
    record = f"qa {qa['id']}" if "id" in qa else where
    question = tx.normalize_space(str(qa.get("question", "")))
    if not question:
        raise TextDataError(path, record, "no question")
    answers = qa.get("answers")
    if not isinstance(answers, list) or not answers:
        raise TextDataError(path, record, "no answer (unanswerable SQuAD 2.0 questions are not "
                                          "supported)")
    answer = answers[0]
    start, text = (answer.get("answer_start"), answer.get("text")) if isinstance(answer, dict) \
        else (None, None)
    if not isinstance(start, int) or isinstance(start, bool) or not isinstance(text, str) \
            or not text:
        raise TextDataError(path, record, f"answers[0] needs an integer 'answer_start' and a "
                                          f"non-empty 'text', got {answer!r}")
    end = start + len(text)
    if start < 0 or end > len(context):
        raise TextDataError(path, record, f"answer span {start}..{end} ({text!r}) is outside "
                                          f"the context ({len(context)} characters)")
    if context[start:end] != text:
        raise TextDataError(path, record, f"the context at {start}..{end} reads "
                                          f"{context[start:end]!r}, not the answer {text!r}")
    spaced, new_start, new_end = respace(context, start, end)
    if new_start < 0:
        raise TextDataError(path, record, f"the answer {text!r} is only whitespace")
    return _checked(path, record, TextExample(
        text=spaced, question=question, answer_start=new_start, answer_end=new_end,
        answer_text=spaced[new_start:new_end], split_key=f"squad-{title}"))


# --- IMDB -------------------------------------------------------------------------------------

def imdb_sample_path() -> Path:
    """The 100 labelled IMDB reviews that ship with the installed TFX (its IMDB example)."""
    spec = importlib.util.find_spec("tfx")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the tfx package is not installed: no IMDB sample")
    root = Path(list(spec.submodule_search_locations)[0])
    return root / "examples" / "imdb" / "data" / "imdb_small_with_labels.txt"


def load_imdb(path: str | os.PathLike) -> list[TextExample]:
    path = Path(path)
    rows = csv.reader(_read_text(path).splitlines(keepends=True))
    header = next(rows, None)
    if header != ["label", "text"]:
        raise TextDataError(path, "line 1", f"expected the header 'label,text', got {header!r}")
    out = []
    for number, row in enumerate(rows, start=2):
        record = f"row {number}"
        if not row:
            continue
        if len(row) != 2:
            raise TextDataError(path, record, f"{len(row)} fields, expected 2 (label, text)")
        out.append(_sentiment(path, record, "imdb", _BREAK.sub(" ", row[1]), row[0], "review"))
    return out


LOADERS = {"sst2": load_sst2, "conll": load_conll, "squad": load_squad, "imdb": load_imdb}


def load(fmt: str, path: str | os.PathLike) -> list[TextExample]:
    if fmt not in LOADERS:
        raise ValueError(f"unknown text format {fmt!r}; known: {', '.join(FORMATS)}")
    examples = LOADERS[fmt](path)
    if not examples:
        raise TextDataError(path, "whole file", "no example")
    return examples


def import_file(fmt: str, path: str | os.PathLike, out_dir: str | os.PathLike,
                append: bool = False) -> tuple[Path, int]:
    """Loads `path` in format `fmt` and writes it as the next span of `out_dir` (span 1 of a
    folder without spans; with `append`, after the highest one). Returns the span folder and
    the number of examples. Everything is read and checked before anything is written."""
    return import_files([(fmt, path)], out_dir, append)


def import_files(inputs: list[tuple[str, str | os.PathLike]], out_dir: str | os.PathLike,
                 append: bool = False) -> tuple[Path, int]:
    """Loads every (format, path) of `inputs` and writes them, in that order, as ONE span of
    `out_dir` (a problem whose tasks come from different datasets: an SST-2 file, a CoNLL file
    and a SQuAD file make one span labelled for all three tasks). Returns the span folder and
    the number of examples. Every file is read and checked before anything is written."""
    if not inputs:
        raise ValueError("no input file to import")
    examples = [example for fmt, path in inputs for example in load(fmt, path)]
    span = tx.next_span(out_dir, append)
    return tx.write_span(out_dir, span, examples), len(examples)
