"""A small text problem spec, as tests write it: a sentiment, an entity and an answer task over
one `text` feature and a `question` sharing its vocabulary."""

from __future__ import annotations

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]

SPEC = {
    "name": "reviews",
    "features": [
        {"name": "text", "kind": "text", "max_length": 12, "vocabulary_size": 500},
        {"name": "question", "kind": "text", "max_length": 6, "vocabulary": "text"},
    ],
    "tasks": [
        {"name": "sentiment", "kind": "binary",
         "gate": {"metric": "auc", "bound": 0.6, "max_change": 0.05}},
        {"name": "entities", "kind": "sequence_labeling", "text": "text", "label": "entity_tags",
         "tags": TAGS, "gate": {"metric": "entity_f1", "bound": 0.5, "max_change": 0.05}},
        {"name": "answer", "kind": "span", "text": "text", "question": "question",
         "labels": {"start": "answer_start", "end": "answer_end"},
         "gate": {"metric": "span_f1", "bound": 0.3, "max_change": 0.05}},
    ],
}


# --- A tiny templated corpus in the text data format (text, question, sentiment, entity_tags,
# answer_start / answer_end / answer_text), enough for the pipeline to learn something.

PEOPLE = ["Ana Lima", "Bo Chen", "Carla Diaz", "Dev Patel", "Eva Novak", "Femi Ade"]
CITIES = ["Paris", "Lagos", "Lima", "Oslo", "Porto", "Quito"]
ORGS = ["Acme", "Globex", "Initech", "Umbrella"]
GOOD = ["great", "wonderful", "superb", "lovely"]
BAD = ["awful", "boring", "dreadful", "weak"]


def _tags_of(words: list[str], entities: dict[str, str]) -> list[str]:
    tags = ["O"] * len(words)
    for entity, kind in entities.items():
        parts = entity.split()
        for i in range(len(words) - len(parts) + 1):
            if words[i:i + len(parts)] == parts:
                tags[i] = f"B-{kind}"
                for j in range(1, len(parts)):
                    tags[i + j] = f"I-{kind}"
    return tags


def corpus(n: int, seed: int = 0) -> list[dict]:
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        person = PEOPLE[rng.integers(len(PEOPLE))]
        city = CITIES[rng.integers(len(CITIES))]
        other = CITIES[rng.integers(len(CITIES))]
        org = ORGS[rng.integers(len(ORGS))]
        positive = bool(rng.integers(2))
        negated = bool(rng.integers(2))
        word = (GOOD if positive != negated else BAD)[rng.integers(4)]
        kind = i % 3
        row = {"text": "", "question": "", "sentiment": -1, "entity_tags": [],
               "answer_start": -1, "answer_end": -1, "answer_text": ""}
        if kind == 0:
            text = f"the film by {org} was {'not ' if negated else ''}{word}"
            row.update(text=text, sentiment=int(positive))
            if rng.random() < 0.5:  # also tagged
                row["entity_tags"] = _tags_of(text.split(" "), {org: "ORG"})
        elif kind == 1:
            text = f"{person} works for {org} in {city}"
            row.update(text=text, entity_tags=_tags_of(text.split(" "),
                                                       {person: "PER", org: "ORG", city: "LOC"}))
        else:
            text = f"{person} left {other} and moved to {city} with {org}"
            start = text.index(f"to {city}") + 3
            row.update(text=text, question=f"where did {person.split()[0]} move ?",
                       answer_start=start, answer_end=start + len(city), answer_text=city)
        rows.append(row)
    return rows


def to_example(row: dict) -> bytes:
    import tensorflow as tf

    example = tf.train.Example()
    f = example.features.feature
    for key in ("text", "question", "answer_text"):
        f[key].bytes_list.value.append(row[key].encode())
    f["entity_tags"].bytes_list.value.extend(t.encode() for t in row["entity_tags"])
    for key in ("sentiment", "answer_start", "answer_end"):
        f[key].int64_list.value.append(row[key])
    return example.SerializeToString()


def write_span(data_dir, span: int, rows: list[dict]):
    import tensorflow as tf

    folder = data_dir / f"span-{span}"
    folder.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(folder / "part-0.tmp"), options="GZIP") as writer:
        for row in rows:
            writer.write(to_example(row))
    (folder / "part-0.tmp").replace(folder / "part-0.tfrecord.gz")
    return folder
