"""tf.Transform for text features and text tasks (`models.preprocessing` calls it).

A `text` feature F (raw UTF-8 strings, so serving takes raw text) becomes:
- `F_xf`: int64 [batch, max_length] token ids, 0 = padding, vocabulary id + 1 otherwise (the
  vocabulary is learned by tf.Transform over the training split, shared by every text feature
  that names it with `vocabulary:`);
- `F_tokens`: string [batch, max_length], the normalised tokens ("" at padding): the span
  metrics compare answers as text;
- `F_starts`, `F_ends`: int64 [batch, max_length], each token's byte offsets in the raw
  string (-1 at padding): the serving signatures answer in character offsets from them;
- `F_length`: int64 [batch], the number of tokens before truncation (longer texts are
  truncated to `max_length`, never refused);
- `F_truncated`: int64 [batch], 1 where the text had more than `max_length` tokens, else 0:
  Transform's post-transform statistics of this feature count the truncated texts, and the
  run summary prints that count (`pipeline.monitoring.summary`).
Neither of the last two is a model input (`ProblemSpec.model_input_keys` names `F_xf` only).
Tokens: the raw text split on whitespace (a `word` tokenizer, `tensorflow_text`'s
WhitespaceTokenizer), each token NFKC-normalised and, with `lowercase`, case-folded
(`tensorflow_text.case_fold_utf8`), after its offsets are taken on the raw string.

A `sequence_labeling` task T on F: `T_label` int64 [batch, max_length], the tag id of every
word (the tag list's index), -1 at padding, past the truncation and for every word of an
example without tags (an empty tag list: not labelled); `T_weight` 1.0 where labelled.
A `span` task A on context F: `A_label` int64 [batch, 2], the first and last token of the
answer (its character offsets mapped onto F's tokens), (-1, -1) when not labelled or when the
answer lies past the truncation; `A_weight` 1.0 where labelled.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from models.spec import Feature, ProblemSpec, Task, label_name, length_name, truncated_name, weight_name

PAD = -1


def tokenize(text: tf.Tensor, feature: Feature):
    """(normalised tokens, byte starts, byte ends, token counts) of [batch] raw strings, each a
    [batch, None] RaggedTensor except the counts."""
    import tensorflow_text as tf_text

    tokens, starts, ends = tf_text.WhitespaceTokenizer().tokenize_with_offsets(text)
    if feature.lowercase:
        normal = tf.ragged.map_flat_values(tf_text.case_fold_utf8, tokens)
    else:
        normal = tf.ragged.map_flat_values(tf_text.normalize_utf8, tokens, "NFKC")
    return normal, starts, ends, tokens.row_lengths()


def _pad(ragged: tf.RaggedTensor, length: int, value) -> tf.Tensor:
    dense = ragged.to_tensor(default_value=value)
    dense = tf.concat([dense, tf.fill([tf.shape(dense)[0], length], value)], axis=1)[:, :length]
    return tf.reshape(dense, [-1, length])


def text_outputs(texts: dict[str, tf.Tensor], spec: ProblemSpec) -> dict:
    """The transformed features of every text feature of `spec` (see the module docstring),
    from `texts`, each text feature's [batch] raw strings."""
    outputs = {}
    tokenized = {f.name: tokenize(texts[f.name], f) for f in spec.text_features}
    # One vocabulary per feature that has its own, over its tokens and those of the features
    # sharing it.
    vocabularies = {}
    for name, members in spec.text_vocabularies().items():
        tokens = tf.concat([tokenized[f.name][0] for f in members], axis=1)
        vocabularies[name] = tft.vocabulary(
            tokens, top_k=spec.feature(name).vocabulary_size, vocab_filename=name)
    for feature in spec.text_features:
        owner = spec.feature(feature.vocabulary) if feature.vocabulary else feature
        tokens, starts, ends, lengths = tokenized[feature.name]
        ids = tft.apply_vocabulary(tokens, deferred_vocab_filename_tensor=vocabularies[owner.name],
                                   num_oov_buckets=owner.oov_buckets)
        name, length = feature.name, feature.max_length
        outputs[f"{name}_xf"] = _pad(ids + 1, length, tf.constant(0, tf.int64))
        outputs[f"{name}_tokens"] = _pad(tokens, length, "")
        outputs[f"{name}_starts"] = _pad(tf.cast(starts, tf.int64), length,
                                         tf.constant(PAD, tf.int64))
        outputs[f"{name}_ends"] = _pad(tf.cast(ends, tf.int64), length,
                                       tf.constant(PAD, tf.int64))
        outputs[length_name(name)] = tf.cast(lengths, tf.int64)
        outputs[truncated_name(name)] = tf.cast(lengths > length, tf.int64)
    return outputs


def sequence_labeling_outputs(inputs: dict, task: Task, feature: Feature) -> dict:
    """`T_label` [batch, max_length] tag ids (-1: padding or not labelled), `T_weight`."""
    tags = inputs[task.label_key]
    if isinstance(tags, tf.SparseTensor):
        tags = tf.RaggedTensor.from_sparse(tags)
    elif not isinstance(tags, tf.RaggedTensor):
        tags = tf.RaggedTensor.from_tensor(tags)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(task.tags)),
                                            tf.range(len(task.tags), dtype=tf.int64)),
        default_value=PAD)
    ids = tf.ragged.map_flat_values(table.lookup, tags)
    labelled = ids.row_lengths() > 0
    return {label_name(task): _pad(ids, feature.max_length, tf.constant(PAD, tf.int64)),
            weight_name(task): tf.cast(labelled, tf.float32)}


def _byte_offset(text: tf.Tensor, chars: tf.Tensor) -> tf.Tensor:
    """The byte offset of character offset `chars` (>= 0) in each UTF-8 string of `text`."""
    prefix = tf.strings.substr(text, tf.zeros_like(chars, tf.int32),
                               tf.cast(tf.maximum(chars, 0), tf.int32), unit="UTF8_CHAR")
    return tf.cast(tf.strings.length(prefix), tf.int64)


def span_outputs(text: tf.Tensor, start_char: tf.Tensor, end_char: tf.Tensor, task: Task,
                 feature: Feature, transformed: dict) -> dict:
    """`A_label` [batch, 2] (first and last answer token; -1, -1 when not labelled or past the
    truncation) and `A_weight`, from the context's [batch] raw strings and the answer's [batch]
    character offsets (the missing sentinel where not labelled)."""
    start_char, end_char = tf.cast(start_char, tf.int64), tf.cast(end_char, tf.int64)
    labelled = (start_char >= 0) & (end_char > start_char)
    start_byte, end_byte = _byte_offset(text, start_char), _byte_offset(text, end_char)
    starts = transformed[f"{feature.name}_starts"]
    ends = transformed[f"{feature.name}_ends"]
    valid = starts >= 0
    positions = tf.range(feature.max_length, dtype=tf.int64)[None, :]
    # First token ending after the answer's start; last token starting before its end.
    first = valid & (ends > start_byte[:, None])
    last = valid & (starts < end_byte[:, None])
    big = tf.constant(feature.max_length, tf.int64)
    start_token = tf.reduce_min(tf.where(first, positions, big), axis=1)
    end_token = tf.reduce_max(tf.where(last, positions, tf.constant(-1, tf.int64)), axis=1)
    # The answer's last byte must lie inside the kept tokens (else it was truncated away).
    kept_end = tf.reduce_max(tf.where(valid, ends, tf.constant(-1, tf.int64)), axis=1)
    found = labelled & (start_token <= end_token) & (end_byte <= kept_end)
    pad = tf.constant(PAD, tf.int64)
    return {label_name(task): tf.stack([tf.where(found, start_token, pad),
                                        tf.where(found, end_token, pad)], axis=1),
            weight_name(task): tf.cast(found, tf.float32)}
