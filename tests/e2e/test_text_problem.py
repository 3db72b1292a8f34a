"""A text problem on the same pipeline: sentiment, entities and extractive answers over raw text.

The tiny templated corpus of `tests.support.text_problem` (3,000 examples, each labelled for
one or two of the three tasks) runs from its spec: tokenized inside tf.Transform, one shared
Transformer encoder trained with masked losses, gated per task on AUC, entity F1 and span F1,
pushed, then served from raw strings: entities and the answer in character offsets. The text's
`max_length` is shorter than the corpus' answer sentences: those are truncated, and the run
summary counts them from Transform's statistics.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import yaml

from pipeline.cli.main import main
from tests.support import text_problem

pytestmark = pytest.mark.e2e

HPARAMS = {"epochs": 3, "batch_size": 64, "text_width": 32, "text_layers": 1, "text_heads": 2,
           "embedding_learning_rate": None, "model": "text_transformer"}
# The text's max_length is below the 10 words of the corpus' answer sentences (their answer
# stays within the first 9) and above its other texts: some texts are truncated, not all.
FEATURES = [dict(f, max_length=9) if f["name"] == "text" else f
            for f in text_problem.SPEC["features"]]


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("text")
    spec = dict(text_problem.SPEC, features=FEATURES, model={"hparams": HPARAMS})
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    text_problem.write_span(tmp / "data", 1, text_problem.corpus(3000))
    home = tmp / "home"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--spec", str(tmp / "spec.yaml"), "--data", str(tmp / "data"),
                     "--root", str(home), "-q"])
    print(out.getvalue())
    models = sorted((home / "serving" / "mtl_model").glob("[0-9]*"))
    return code, tmp, home, models, out.getvalue()


def test_every_text_task_is_gated_and_the_model_pushed(text_run, capsys):
    code, tmp, home, models, _ = text_run
    assert code == 0 and len(models) == 1
    assert main(["metrics", "--root", str(home), "--format", "json"]) == 0
    rows = {r["task"]: r for r in json.loads(capsys.readouterr().out)}
    assert {k: rows[k]["gate_metric"] for k in rows} == {
        "sentiment": "auc", "entities": "entity_f1", "answer": "span_f1"}
    assert rows["entities"]["candidate"] > 0.8 and rows["answer"]["candidate"] > 0.8
    # Each task is evaluated on its own labelled examples only.
    assert rows["answer"]["observed"] < 0.5 * rows["answer"]["examples"]


def test_the_summary_counts_the_truncated_texts_from_transforms_statistics(text_run):
    import tensorflow as tf

    from models.signatures import CONTRACT_FILE

    _, tmp, _, models, output = text_run
    max_length = {f["name"]: f["max_length"] for f in FEATURES}
    files = sorted(str(p) for p in (tmp / "data").glob("span-*/*.tfrecord.gz"))
    longer = dict.fromkeys(max_length, 0)
    examples = 0
    for raw in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(raw.numpy())
        examples += 1
        for name, length in max_length.items():
            words = example.features.feature[name].bytes_list.value[0].split()
            longer[name] += len(words) > length
    assert 0 < longer["text"] < examples and longer["question"] == 0
    # Transform transforms both splits: every example of the span is counted.
    assert [line for line in output.splitlines() if line.startswith("Truncated:")] == [
        f"Truncated: {name} {longer[name]:,} of {examples:,} transformed examples "
        f"({longer[name] / examples:.1%}) longer than {length} tokens"
        for name, length in max_length.items()]
    # The flag is no model input: serving still takes the raw strings alone.
    contract = json.loads((models[0] / CONTRACT_FILE).read_text())
    assert set(contract["signatures"]["serving_raw"]["inputs"]) == set(max_length)


def test_raw_text_in_entities_and_answers_out_in_characters(text_run, tmp_path, capsys):
    _, _, _, models, _ = text_run
    text = "Eva Novak works for Globex in Quito"
    context = "Bo Chen left Porto and moved to Lagos with Acme"
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps(r) for r in [
        {"text": text, "question": ""},
        {"text": context, "question": "where did Bo move ?"},
        {"text": "", "question": ""},
        {"text": "Zoë Ödegaard works for Initech in Oslo", "question": ""},
    ]) + "\n")
    assert main(["predict", str(rows), "--model-dir", str(models[0])]) == 0
    first, second, empty, accented = [json.loads(line)
                                      for line in capsys.readouterr().out.splitlines()]
    found = {(text[e["start"]:e["end"]], e["type"]) for e in first["entities"]}
    assert {("Eva Novak", "PER"), ("Globex", "ORG"), ("Quito", "LOC")} <= found
    assert first["answer"] is None  # no question, no answer
    assert second["answer"]["text"] == "Lagos"
    assert context[second["answer"]["start"]:second["answer"]["end"]] == "Lagos"
    assert empty["entities"] == [] and empty["answer"] is None
    accented_text = "Zoë Ödegaard works for Initech in Oslo"
    spans = {(accented_text[e["start"]:e["end"]], e["type"]) for e in accented["entities"]}
    assert ("Oslo", "LOC") in spans and ("Initech", "ORG") in spans


def test_the_graph_holds_only_core_tensorflow_and_tf_text_ops(text_run):
    """In a fresh process that imports TensorFlow and TF-Text and nothing else, every op of
    every signature is registered; without TF-Text, the ones that are not are TF-Text's."""
    import subprocess
    import sys

    _, _, _, models, _ = text_run
    script = """
import sys
import tensorflow as tf
from tensorflow.python.framework import op_def_registry
from tensorflow.core.protobuf import saved_model_pb2
sm = saved_model_pb2.SavedModel()
sm.ParseFromString(open(sys.argv[1] + "/saved_model.pb", "rb").read())
graph = sm.meta_graphs[0].graph_def
ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
if sys.argv[2] == "with":
    import tensorflow_text  # noqa
print(sorted(op for op in ops if op_def_registry.get(op) is None))
"""
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}

    def unregistered(mode):
        proc = subprocess.run([sys.executable, "-c", script, str(models[0]), mode], env=env,
                              capture_output=True, text=True, timeout=300, check=True)
        return eval(proc.stdout.strip().splitlines()[-1])  # noqa: S307 - a printed list

    assert unregistered("with") == []
    without = unregistered("without")
    assert without and all(op.startswith("TFText>") or op == "CaseFoldUTF8"
                           for op in without), without


def test_the_rest_api_takes_raw_strings_and_survives_bad_bytes(text_run):
    import base64

    import requests

    from pipeline.serving.local_server import LocalModelServer

    _, _, home, _, _ = text_run
    server = LocalModelServer(home / "serving" / "mtl_model", "mtl_model")
    port = server.start_rest(0)
    url = f"http://127.0.0.1:{port}/v1/models/mtl_model:predict"
    try:
        body = {"signature_name": "serving_raw",
                "instances": [{"text": "Ana Lima works for Acme in Paris", "question": ""}]}
        reply = requests.post(url, json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        prediction = reply.json()["predictions"][0]
        assert "PER" in prediction["entities_type"]
        # Bytes that are not UTF-8 (TF Serving's {"b64": ...} form): a defined answer or an
        # InvalidArgument error, and the server keeps serving.
        bad = {"signature_name": "serving_raw", "instances": [
            {"text": {"b64": base64.b64encode(b"\xff\xfe bad").decode()}, "question": ""}]}
        reply = requests.post(url, json=bad, timeout=60)
        assert reply.status_code in (200, 400), reply.text
        if reply.status_code == 400:
            assert "Invalid" in reply.text or "invalid" in reply.text
        assert requests.post(url, json=body, timeout=60).status_code == 200
    finally:
        server.stop()
