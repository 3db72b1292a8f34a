"""Loaders of SST-2, CoNLL-2003, SQuAD v1.1 and the IMDB sample: the format, IOB1 -> IOB2,
re-spaced SQuAD offsets, errors naming the file, the record and the problem, atomic spans."""

import json

import pytest

from pipeline.cli import main as cli
from pipeline.datasets import text_examples as tx
from pipeline.datasets import text_loaders as loaders
from pipeline.datasets.text_loaders import TextDataError

CONLL = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
to TO I-VP O
boycott VB I-VP O
British JJ I-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

In IN I-PP O
Bonn NNP I-NP I-LOC
, , O O
Smith NNP I-NP I-PER
Jones NNP I-NP B-PER
met VBD I-VP O
New NNP I-NP I-ORG
York NNP I-NP I-ORG
Times NNP I-NP I-ORG
Paris NNP I-NP I-LOC
. . O O
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(load, path) -> str:
    with pytest.raises(TextDataError) as info:
        load(path)
    return str(info.value)


# --- SST-2 ------------------------------------------------------------------------------------

def test_sst2_sentences_become_sentiment_examples(tmp_path):
    path = _write(tmp_path, "train.tsv", "sentence\tlabel\nhide new secretions from the "
                  "parental units \t0\nthe greatest musicians \t1\n\nnot  bad at all\t1\n")
    examples = loaders.load_sst2(path)
    assert [(e.text, e.sentiment) for e in examples] == [
        ("hide new secretions from the parental units", 0), ("the greatest musicians", 1),
        ("not bad at all", 1)]
    assert all(e.tasks() == ("sentiment",) and tx.problems(e) == [] for e in examples)
    assert examples[0].split_key == loaders.load_sst2(path)[0].split_key != examples[1].split_key


@pytest.mark.parametrize("text, record, problem", [
    ("sentence\tlabel\ngood\t1\nbad\tnegative\n", "line 3", "label 'negative' is not 0 or 1"),
    ("sentence\tlabel\ngood\t2\n", "line 2", "label '2' is not 0 or 1"),
    ("sentence\tlabel\ngood\t1\tx\n", "line 2", "3 tab-separated fields, expected 2"),
    ("sentence\tlabel\n \t1\n", "line 2", "empty sentence"),
    ("good\t1\n", "line 1", "expected the header 'sentence<TAB>label'"),
])
def test_sst2_errors_name_the_file_the_line_and_the_problem(tmp_path, text, record, problem):
    path = _write(tmp_path, "dev.tsv", text)
    message = _error(loaders.load_sst2, path)
    assert message.startswith(f"{path}: {record}: ") and problem in message


# --- CoNLL-2003 -------------------------------------------------------------------------------

def test_conll_iob1_tags_become_iob2(tmp_path):
    examples = loaders.load_conll(_write(tmp_path, "eng.train", CONLL))
    assert [e.text for e in examples] == [
        "EU rejects German call to boycott British lamb .", "Peter Blackburn",
        "In Bonn , Smith Jones met New York Times Paris ."]
    assert [list(e.entity_tags) for e in examples] == [
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],
        ["B-PER", "I-PER"],
        # B-PER after a PER chunk stays B-PER; I-LOC after an ORG chunk starts a LOC chunk.
        ["O", "B-LOC", "O", "B-PER", "B-PER", "O", "B-ORG", "I-ORG", "I-ORG", "B-LOC", "O"]]
    assert all(tx.problems(e) == [] and e.tasks() == ("entities",) for e in examples)
    # Sentences of one document share a split key, documents differ.
    assert examples[0].split_key == examples[1].split_key != examples[2].split_key


def test_iob1_to_iob2_alone():
    assert loaders.iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-MISC"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-MISC"]


@pytest.mark.parametrize("line, problem", [
    ("Bonn NNP I-NP I-CITY", "unknown tag 'I-CITY'"),
    ("Bonn NNP I-NP", "3 columns, expected 4 (word POS chunk NER): a word without its tag"),
    ("Bonn NNP I-NP I-LOC extra", "5 columns, expected 4"),
])
def test_conll_errors_name_the_file_the_line_and_the_problem(tmp_path, line, problem):
    path = _write(tmp_path, "eng.testa", f"In IN I-PP O\n{line}\n. . O O\n")
    message = _error(loaders.load_conll, path)
    assert message.startswith(f"{path}: line 2: ") and problem in message


def test_a_tag_sequence_of_another_length_than_the_words_is_refused():
    example = tx.TextExample(text="Peter Blackburn said", entity_tags=("B-PER", "I-PER"))
    assert tx.problems(example) == ["2 entity tags for 3 words"]
    bad_iob2 = tx.TextExample(text="Peter Blackburn", entity_tags=("I-PER", "I-PER"))
    assert "does not continue a PER entity" in tx.problems(bad_iob2)[0]


# --- SQuAD v1.1 -------------------------------------------------------------------------------

CONTEXT = "The  Eiffel Tower\nwas completed in 1889 by the company of  Gustave   Eiffel .  "


def _squad(answers: list[tuple[str, str, int | None]]) -> dict:
    qas = []
    for qid, text, start in answers:
        start = CONTEXT.index(text) if start is None else start
        qas.append({"id": qid, "question": f"  question {qid} ?",
                    "answers": [{"answer_start": start, "text": text}]})
    return {"version": "1.1", "data": [
        {"title": "Eiffel_Tower", "paragraphs": [{"context": CONTEXT, "qas": qas}]},
        {"title": "Paris", "paragraphs": [{"context": "Paris is in France .", "qas": [
            {"id": "p1", "question": "Where is Paris ?",
             "answers": [{"answer_start": 12, "text": "France"}, {"answer_start": 0,
                                                                  "text": "Paris"}]}]}]}]}


def test_squad_contexts_are_respaced_and_the_offsets_follow(tmp_path):
    document = _squad([("q1", "1889", None), ("q2", "Gustave   Eiffel", None),
                       ("q3", "Eiffel Tower", None), ("q4", " 1889 by", None)])
    path = _write(tmp_path, "dev-v1.1.json", json.dumps(document))
    examples = loaders.load_squad(path)
    spaced = "The Eiffel Tower was completed in 1889 by the company of Gustave Eiffel ."
    assert [e.text for e in examples[:4]] == [spaced] * 4
    assert [(e.answer_text, e.answer_start, e.answer_end) for e in examples] == [
        ("1889", 34, 38), ("Gustave Eiffel", 57, 71), ("Eiffel Tower", 4, 16),
        ("1889 by", 34, 41), ("France", 12, 18)]
    for example in examples:
        assert tx.problems(example) == []
        assert example.text[example.answer_start:example.answer_end] == example.answer_text
        assert example.tasks() == ("qa",) and example.question.endswith("?")
    assert examples[0].question == "question q1 ?"
    # Every question of an article shares its split key.
    assert len({e.split_key for e in examples[:4]}) == 1 != examples[4].split_key


def test_respace_moves_offsets_to_the_same_characters():
    context = "\n a  b\tc \u00a0 d "
    text, start, end = loaders.respace(context, context.index("b"), context.index("d") + 1)
    assert (text, text[start:end]) == ("a b c d", "b c d")


@pytest.mark.parametrize("answer, problem", [
    (("q9", "Eiffel", 500), "answer span 500..506 ('Eiffel') is outside the context"),
    (("q9", "Eiffel", 0), "the context at 0..6 reads 'The  E', not the answer 'Eiffel'"),
    (("q9", "1889", -3), "answer span -3..1 ('1889') is outside the context"),
])
def test_squad_errors_name_the_file_the_question_and_the_problem(tmp_path, answer, problem):
    path = _write(tmp_path, "train-v1.1.json", json.dumps(_squad([("q1", "1889", None), answer])))
    message = _error(loaders.load_squad, path)
    assert message.startswith(f"{path}: qa q9: ") and problem in message


def test_squad_structure_errors(tmp_path):
    path = _write(tmp_path, "broken.json", '{"data": [{"paragraphs": [{"qas": []}]}]}')
    assert _error(loaders.load_squad, path) == (
        f"{path}: data[0].paragraphs[0]: expected an object with a 'context' string and a "
        "'qas' list")
    path = _write(tmp_path, "v2.json", json.dumps({"data": [{"title": "t", "paragraphs": [
        {"context": "a b", "qas": [{"id": "x7", "question": "q ?", "answers": []}]}]}]}))
    assert "qa x7: no answer" in _error(loaders.load_squad, path)
    path = _write(tmp_path, "cut.json", '{"data": [')
    assert _error(loaders.load_squad, path).startswith(f"{path}: line 1: not JSON")


# --- IMDB -------------------------------------------------------------------------------------

def test_the_imdb_sample_that_ships_with_tfx_loads():
    examples = loaders.load_imdb(loaders.imdb_sample_path())
    assert len(examples) == 100
    assert {e.sentiment for e in examples} == {0, 1}
    assert all(tx.problems(e) == [] and e.tasks() == ("sentiment",) for e in examples)
    assert not any("<br" in e.text for e in examples)


def test_imdb_errors_name_the_row(tmp_path):
    path = _write(tmp_path, "reviews.csv", 'label,text\n1,"fine, really"\n3,"odd"\n')
    assert _error(loaders.load_imdb, path) == f"{path}: row 3: label '3' is not 0 or 1"


# --- Spans and the command line ---------------------------------------------------------------

def test_import_writes_a_span_and_a_bad_file_writes_nothing(tmp_path):
    out = tmp_path / "data"
    span, count = loaders.import_file("conll", _write(tmp_path, "a.conll", CONLL), out)
    assert (span.name, count) == ("span-1", 3)
    assert tx.read_span(span) == loaders.load_conll(tmp_path / "a.conll")
    bad = _write(tmp_path, "b.conll", CONLL + "Oops NNP I-NP I-TEAM\n")
    with pytest.raises(TextDataError, match=f"line {len(CONLL.splitlines()) + 1}: unknown tag"):
        loaders.import_file("conll", bad, out, append=True)
    assert sorted(p.name for p in out.iterdir()) == ["span-1"]
    with pytest.raises(FileExistsError, match="append-span"):
        loaders.import_file("conll", tmp_path / "a.conll", out)


def test_the_command_line(tmp_path, capsys):
    out = tmp_path / "data"
    assert cli.main(["text", "import", "--format", "imdb", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out / 'span-1'} (100 examples)\n"
    bad = _write(tmp_path, "train.tsv", "sentence\tlabel\ngood\tyes\n")
    assert cli.main(["text", "import", "--format", "sst2", "--input", str(bad), "--out",
                     str(out), "--append-span"]) == 2
    assert capsys.readouterr().err == (
        f"mtl text import: {bad}: line 2: label 'yes' is not 0 or 1\n")
    assert cli.main(["text", "generate", "--out", str(out), "--examples", "20",
                     "--append-span"]) == 0
    assert capsys.readouterr().out == f"wrote {out / 'span-2'}\n"
    assert len(tx.read_span(out / "span-2")) == 20


def test_several_files_of_different_formats_make_one_span(tmp_path):
    out = tmp_path / "data"
    sst2 = _write(tmp_path, "train.tsv", "sentence\tlabel\na fine film\t1\na dull one\t0\n")
    conll = _write(tmp_path, "a.conll", CONLL)
    squad = _write(tmp_path, "dev.json", json.dumps(_squad([("q1", "1889", None)])))
    span, count = loaders.import_files([("sst2", sst2), ("conll", conll), ("squad", squad)], out)
    assert (span.name, count) == ("span-1", 2 + 3 + 2)
    assert tx.read_span(span) == (loaders.load_sst2(sst2) + loaders.load_conll(conll)
                                  + loaders.load_squad(squad))
    # One bad file: nothing is written, not even the good files' examples.
    bad = _write(tmp_path, "bad.tsv", "sentence\tlabel\ngood\tyes\n")
    with pytest.raises(TextDataError, match="line 2"):
        loaders.import_files([("conll", conll), ("sst2", bad)], out, append=True)
    assert sorted(p.name for p in out.iterdir()) == ["span-1"]
    with pytest.raises(ValueError, match="no input"):
        loaders.import_files([], out, append=True)


def test_the_command_line_pairs_each_format_with_its_input(tmp_path, capsys):
    out = tmp_path / "data"
    sst2 = _write(tmp_path, "train.tsv", "sentence\tlabel\na fine film\t1\n")
    conll = _write(tmp_path, "a.conll", CONLL)
    assert cli.main(["text", "import", "--format", "sst2", "--input", str(sst2),
                     "--format", "conll", "--input", str(conll), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out / 'span-1'} (4 examples)\n"
    assert [e.sentiment for e in tx.read_span(out / "span-1")] == [1, -1, -1, -1]
    assert cli.main(["text", "import", "--format", "sst2", "--format", "conll",
                     "--input", str(sst2), "--out", str(out), "--append-span"]) == 2
    assert capsys.readouterr().err == (
        "mtl text import: 2 --format for 1 --input: give one --input per --format, in the "
        "same order\n")
    assert cli.main(["text", "import", "--format", "sst2", "--out", str(out),
                     "--append-span"]) == 2
    assert "1 --format for 0 --input" in capsys.readouterr().err
