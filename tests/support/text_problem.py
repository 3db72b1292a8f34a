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
