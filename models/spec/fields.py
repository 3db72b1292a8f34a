"""The fields a spec accepts, by where they sit, and what each one means.

The parser (`models.spec.parsing`) accepts exactly the fields of these tables; FIELD_DOCS says
what each one means. The documentation's spec reference is generated from the two
(`scripts/docs_hooks.py`).
"""

from __future__ import annotations

GATE_FIELDS: tuple[str, ...] = ("metric", "bound", "max_change", "change", "min_labels",
                                "slice_bound", "min_slice_examples", "naive_ratio",
                                "naive_margin")
# Schema curation of a feature (`mtl schema freeze`): its domain, range and drift check.
SCHEMA_FIELDS: tuple[str, ...] = ("domain", "min_domain_mass", "min", "max", "drift")
# The fields of the problem, of its `input` and `model` mappings, and of a span task's `labels`.
PROBLEM_FIELDS: tuple[str, ...] = ("name", "input", "features", "tasks", "slices", "model")
INPUT_FIELDS: tuple[str, ...] = ("format", "split_key")
MODEL_FIELDS: tuple[str, ...] = ("entire_space", "hparams")
LABELS_FIELDS: tuple[str, ...] = ("start", "end")
FEATURE_FIELDS = {
    "categorical": ("name", "kind", "dtype", "vocabulary_size", "embedding_dim", "oov_buckets",
                    "default", "optional", "schema"),
    "numeric": ("name", "kind", "dtype", "transform", "buckets", "embedding_dim", "default",
                "optional", "schema"),
    "sequence": ("name", "kind", "dtype", "max_length", "vocabulary", "vocabulary_size",
                 "embedding_dim", "oov_buckets", "default", "optional", "schema"),
    "text": ("name", "kind", "dtype", "max_length", "tokenizer", "lowercase", "vocabulary",
             "vocabulary_size", "oov_buckets", "default", "optional", "schema"),
}
TASK_FIELDS = ("name", "kind", "label", "missing", "loss_weight", "fusion_weight", "scale",
                "classes", "num_classes", "top_k", "optional", "gate", "text", "question",
                "labels", "max_answer_tokens", "tags")

# What each field of a spec means, by where it sits: "problem" (the top level), "input",
# "features", "schema" (a feature's `schema`), "tasks", "labels" (a span task's `labels`),
# "gate" (a task's `gate`) and "model". Every field the parser accepts has an entry and every
# entry is a field it accepts (tests/scripts/test_docs_hooks.py checks both); the documentation's spec
# reference is generated from these and the field tables above.
FIELD_DOCS: dict[str, dict[str, str]] = {
    "problem": {
        "name": "The problem's name (letters, digits, `_`, `-`, `.`). Required.",
        "input": "How spans are stored; a mapping (see `input`). Default: TFRecord spans.",
        "features": "The raw features the model reads, a list of mappings (see `features`). "
                    "Required, at least one.",
        "tasks": "The prediction targets, a list of mappings (see `tasks`). Required, at least "
                 "one that is not optional.",
        "slices": "Categorical features TFMA slices the metrics by (and the per-slice gates "
                  "use). Default: none.",
        "model": "Model settings of this problem; a mapping (see `model`).",
    },
    "input": {
        "format": "`tfrecord` (`span-<N>/*.tfrecord.gz`, gzipped tf.Examples) or `csv` "
                  "(`span-<N>/*.csv` with a header row; a sequence is one whitespace-separated "
                  "column, an empty cell a missing value). Default: tfrecord.",
        "split_key": "A column ExampleGen hashes to choose train or eval, so that examples "
                     "sharing a key share a split (a document's sentences, held-out names). "
                     "Neither a feature nor a label. Default: the whole example is hashed.",
    },
    "features": {
        "name": "The feature's column name in the data. Required, unique.",
        "kind": "What the feature is; see the kinds below. Required.",
        "dtype": "Value type: `string` or `int` (categorical, sequence), `float` or `int` "
                 "(numeric), `string` (text). Default: string; float for numeric.",
        "vocabulary_size": "Size of the frequency vocabulary Transform builds. Required for "
                           "categorical, and for a sequence or text that has a vocabulary of "
                           "its own.",
        "embedding_dim": "Width of the feature's embedding (scaled by the model's "
                         "`embedding_scale`). Default: 8; 4 for a bucketized numeric.",
        "oov_buckets": "Buckets shared by values outside the vocabulary (ids never seen). "
                       "Default: 1.",
        "transform": "A numeric feature's transform: `z_score`, `log` (log1p, then z-score) or "
                     "`bucketize` (into `buckets` quantiles, embedded like an id). Default: "
                     "z_score.",
        "buckets": "The number of quantile buckets of `transform: bucketize` (at least 2). "
                   "Required with bucketize.",
        "max_length": "Values kept per example: a sequence is padded or truncated to it; a "
                      "text keeps its first `max_length` tokens (longer texts are truncated "
                      "and counted, never refused). Required for sequence and text.",
        "vocabulary": "Share another feature's vocabulary and embedding: a sequence names a "
                      "categorical feature (e.g. a history of items names the item id), a text "
                      "names a text feature with a vocabulary of its own.",
        "tokenizer": "How a text is split into tokens: `word` (whitespace, then NFKC and case "
                     "folding). Default: word.",
        "lowercase": "Case-fold a text's tokens. Default: true.",
        "default": "The value a serving request that omits a required feature gets. Default: "
                   "\"\" (string), 0, or an empty list (sequence). An optional feature is "
                   "imputed instead.",
        "optional": "The feature may be absent from an example and from a serving request; "
                    "Transform imputes it (guides/missing-values.md). Set from the data when "
                    "the schema is frozen (a feature absent from some examples); true makes an "
                    "always-present feature optional too. Default: false.",
        "schema": "How `mtl schema freeze` curates the feature in the schema; a mapping (see "
                  "`schema`).",
    },
    "schema": {
        "domain": "A categorical feature's domain: `closed` (any value not seen when the schema "
                  "was frozen is an anomaly) or `open`.",
        "min_domain_mass": "With `domain: open`, the share of a span's values that must be in "
                           "the frozen domain, in (0, 1] (0.9 tolerates 10% new values).",
        "min": "A numeric feature's smallest valid value.",
        "max": "A numeric feature's largest valid value.",
        "drift": "One drift comparator against the frozen reference statistics, with its "
                 "threshold: `{infinity_norm: 0.15}` (categorical) or "
                 "`{jensen_shannon_divergence: 0.15}`.",
    },
    "tasks": {
        "name": "The task's name: the model's output and the serving signature's key. "
                "Required, unique.",
        "kind": "What the task predicts; see the kinds below. Required.",
        "label": "The column holding the label. Default: the task's name. Not a feature.",
        "missing": "The negative sentinel meaning 'not observed' (an absent label is missing "
                   "too); a missing label weighs nothing in the loss and the metrics. Default: "
                   "-1. Not for sequence_labeling (an empty tag list is missing).",
        "loss_weight": "Static weight of the task's loss in the total loss (>= 0). Default: 1.",
        "fusion_weight": "The task's weight in the serving signatures' fused `score`. Default: "
                         "1.",
        "scale": "Regression only: the label's typical magnitude; the loss is divided by "
                 "scale**2 so every task's loss starts near 1. Default: 1.",
        "classes": "Multiclass only: the class names; labels are class ids 0..K-1 in this "
                   "order.",
        "num_classes": "Multiclass only: K, when the classes are not named.",
        "top_k": "Multiclass only: the k of the reported top-k accuracy. Default: 2.",
        "optional": "Trained only when a run names it (`mtl run --with-task NAME`); its label "
                    "may be absent from the data. Default: false.",
        "gate": "The task's release gate; a mapping (see `gate`). Required.",
        "text": "Text tasks: the text feature whose tokens are tagged, or which holds the "
                "answer. Required for sequence_labeling and span.",
        "question": "Span tasks: the text feature holding the question. Required.",
        "labels": "Span tasks: the answer's character offsets, `{start: COLUMN, end: COLUMN}` "
                  "(end exclusive; -1 / -1 when not labelled). Required.",
        "max_answer_tokens": "Span tasks: the longest answer, in tokens, the decoder returns. "
                             "Default: 30.",
        "tags": "Sequence labelling tasks: the IOB2 tags (`O`, `B-TYPE`, `I-TYPE` in pairs; "
                "id = position). Required.",
    },
    "labels": {
        "start": "The column holding the answer's first character offset.",
        "end": "The column holding the offset just past the answer's last character.",
    },
    "gate": {
        "metric": "The gating metric; it must be the task kind's (see the table below). "
                  "Default: the kind's.",
        "bound": "The value a release must reach on the overall slice: at least (AUC, "
                 "accuracy, F1, in [0, 1]) or at most (RMSE). Required.",
        "max_change": "The largest allowed degradation against the latest blessed model "
                      "(direction-aware: AUC may drop, RMSE may rise by this). Required.",
        "change": "`absolute` (`max_change` in the metric's units) or `relative` (a fraction "
                  "of the baseline). Default: absolute.",
        "min_labels": "Observed labels the task needs in the eval split; fewer fails the gate. "
                      "Default: 50.",
        "slice_bound": "A bound on every slice (binary and regression tasks), judged only on "
                       "slices with at least `min_slice_examples` observed labels. Default: "
                       "none.",
        "min_slice_examples": "The observed labels a slice needs before `slice_bound` judges "
                              "it. Default: 200.",
        "naive_ratio": "Regression: RMSE at most this times the RMSE of predicting the "
                       "observed labels' mean, on the same rows. Default: 0.95.",
        "naive_margin": "Binary: AUC at least 0.5 plus this; multiclass: accuracy at least the "
                        "majority class's share plus this. Default: 0.01.",
    },
    "model": {
        "entire_space": "ESMM's funnel, `{child: parent}`: two binary tasks, the child trained "
                        "through p(parent) x p(child | parent) with `--model esmm`.",
        "hparams": "The problem's default hyperparameters (see the table below); flags given "
                   "to a run override them.",
    },
}
