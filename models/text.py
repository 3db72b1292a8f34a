"""`text_transformer`: one shared Transformer encoder over a problem's text, per-task heads.

Token and position embeddings, then `text_layers` post-norm encoder blocks (Vaswani et al.,
"Attention Is All You Need", NeurIPS 2017) of width `text_width` with `text_heads` heads,
padding masked; text features sharing a vocabulary (a question and its context) share the
encoder. Heads, as in MT-DNN (Liu et al., "Multi-Task Deep Neural Networks for Natural Language
Understanding", ACL 2019):
  binary / multiclass / regression   the masked mean of the first text feature's token states
                                     (and the other features' embedding, when the problem has
                                     some) through the task's tower;
  sequence_labeling                  a tag distribution per token of the task's text;
  span                               the context's tokens attend to the question's (one
                                     cross-attention layer), then a start and an end
                                     distribution over the context's tokens, [batch, 2, length].
With `text_decoder`, each task first runs one Transformer decoder layer of its own over the
shared encoder's output (self-attention, then cross-attention to the encoder's states): the
encoder-decoder design, where a task's branch has more capacity of its own.

Every output is a probability: padding positions get none (their logits are masked).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models import layers
from models import tasks as task_lib
from models.hparams import ModelHParams
from models.spec import ProblemSpec, Task, transformed_name

_NEG = -1e9


@keras.saving.register_keras_serializable(package="mtl")
class TextEncoder(keras.layers.Layer):
    """Token ids [batch, length] (0 = padding) -> token states [batch, length, width]."""

    def __init__(self, vocab_size: int, width: int, num_layers: int, heads: int,
                 dropout: float, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.width, self.num_layers = int(vocab_size), int(width), int(num_layers)
        self.heads, self.dropout, self.max_length = int(heads), float(dropout), int(max_length)
        init = keras.initializers.RandomNormal(stddev=0.05)
        self.tokens = keras.layers.Embedding(self.vocab_size + 1, self.width,
                                             embeddings_initializer=init, name="tokens")
        self.positions = keras.layers.Embedding(self.max_length, self.width,
                                                embeddings_initializer=init, name="positions")
        self.blocks = [layers.TransformerBlock(self.width, self.heads, 2 * self.width,
                                               self.dropout, name=f"block_{i}")
                       for i in range(self.num_layers)]

    def call(self, ids, training=None):
        ids = tf.cast(ids, tf.int32)
        valid = ids > 0
        x = self.tokens(ids) + self.positions(tf.range(tf.shape(ids)[1]))[None]
        for block in self.blocks:
            x = block(x, valid, training=training)
        return x

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, width=self.width, num_layers=self.num_layers,
                      heads=self.heads, dropout=self.dropout, max_length=self.max_length)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class DecoderLayer(keras.layers.Layer):
    """A task's own Transformer decoder layer: self-attention over the task's tokens, then
    cross-attention to the shared encoder's states, each with a residual and LayerNorm, then a
    feed-forward layer."""

    def __init__(self, width: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads, self.dropout = int(width), int(heads), float(dropout)
        self.self_block = layers.TransformerBlock(self.width, self.heads, 2 * self.width,
                                                  self.dropout, name="self")
        self.cross = keras.layers.MultiHeadAttention(
            self.heads, key_dim=max(1, self.width // self.heads), dropout=self.dropout,
            name="cross_attention")
        self.norm = keras.layers.LayerNormalization(name="norm")

    def call(self, x, memory, valid, memory_valid, training=None):
        x = self.self_block(x, valid, training=training)
        mask = memory_valid[:, None, :] & tf.ones_like(valid)[:, :, None]
        return self.norm(x + self.cross(x, memory, attention_mask=mask, training=training))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(width=self.width, heads=self.heads, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class MaskedMean(keras.layers.Layer):
    """[batch, length, width] states, [batch, length] ids -> the mean of the non-padding states."""

    def call(self, states, ids):
        mask = tf.cast(ids > 0, states.dtype)[..., None]
        return tf.math.divide_no_nan(tf.reduce_sum(states * mask, axis=1),
                                     tf.reduce_sum(mask, axis=1))


@keras.saving.register_keras_serializable(package="mtl")
class TokenHead(keras.layers.Layer):
    """Per-token logits -> probabilities; padding positions predict the first class (O)."""

    def __init__(self, outputs: int, **kwargs):
        super().__init__(**kwargs)
        self.outputs = int(outputs)
        self.dense = keras.layers.Dense(self.outputs, name="logits")

    def call(self, states, ids):
        return keras.ops.softmax(self.dense(states), axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(outputs=self.outputs)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class SpanHead(keras.layers.Layer):
    """Context states attend to the question's, then one self-attention block over the context
    carries what matched along its sentence (the answer sits near the words the question
    names); start and end distributions over the context's non-padding tokens,
    [batch, 2, length]."""

    def __init__(self, width: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.width, self.heads, self.dropout = int(width), int(heads), float(dropout)
        self.cross = keras.layers.MultiHeadAttention(
            self.heads, key_dim=max(1, self.width // self.heads), dropout=self.dropout,
            name="question_attention")
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.block = layers.TransformerBlock(self.width, self.heads, 2 * self.width,
                                             self.dropout, name="context_block")
        self.dense = keras.layers.Dense(2, name="start_end")

    def call(self, context, context_ids, question, question_ids, training=None):
        valid = context_ids > 0
        mask = (question_ids > 0)[:, None, :] & tf.ones_like(valid)[:, :, None]
        # A question with no token attends to nothing: its attention output is then 0.
        attended = self.cross(context, question, attention_mask=mask, training=training)
        has_question = tf.cast(tf.reduce_any(question_ids > 0, axis=1), attended.dtype)
        x = self.norm(context + attended * has_question[:, None, None])
        x = self.block(x, valid, training=training)
        logits = tf.transpose(self.dense(x), [0, 2, 1])  # [batch, 2, length]
        logits = tf.where(valid[:, None, :], logits, _NEG)
        return keras.ops.softmax(logits, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(width=self.width, heads=self.heads, dropout=self.dropout)
        return config


def encoders(spec: ProblemSpec, vocab_sizes: dict[str, int], hp: ModelHParams
             ) -> dict[str, TextEncoder]:
    """One encoder per text vocabulary, shared by the text features using it."""
    return {name: TextEncoder(vocab_sizes[name], hp.text_width, hp.text_layers, hp.text_heads,
                              hp.text_dropout, max(f.max_length for f in members),
                              name=f"text_encoder_{name}")
            for name, members in spec.text_vocabularies().items()}


def build_text_transformer(inputs, vocab_sizes, hp: ModelHParams, tasks: tuple[Task, ...],
                           spec: ProblemSpec, features=None) -> dict:
    """The outputs; `features` is the other features' embedding (None: text only)."""
    texts = spec.text_features
    if not texts:
        raise ValueError(f"model 'text_transformer' reads text features; problem {spec.name!r} "
                         f"has none (choose another --model)")
    shared = encoders(spec, vocab_sizes, hp)
    ids = {f.name: inputs[transformed_name(f.name)] for f in texts}
    states = {f.name: shared[f.vocabulary or f.name](ids[f.name]) for f in texts}
    pooled = MaskedMean(name="pooled_text")(states[texts[0].name], ids[texts[0].name])
    if features is not None:
        pooled = keras.layers.Concatenate(name="text_and_features")([pooled, features])
    outputs = {}
    for task in tasks:
        if task.kind in ("sequence_labeling", "span"):
            x = states[task.text]
            if hp.text_decoder:
                valid = ids[task.text] > 0
                x = DecoderLayer(hp.text_width, hp.text_heads, hp.text_dropout,
                                 name=f"{task.name}_decoder")(x, x, valid, valid)
        if task.kind == "sequence_labeling":
            outputs[task.name] = TokenHead(task.num_classes, name=f"{task.name}_head")(
                x, ids[task.text])
        elif task.kind == "span":
            outputs[task.name] = SpanHead(hp.text_width, hp.text_heads, hp.text_dropout,
                                          name=f"{task.name}_head")(
                x, ids[task.text], states[task.question], ids[task.question])
        else:
            logits = layers.TaskTower(hp.tower_units, hp.dropout, hp.l2,
                                      outputs=max(1, task.num_classes),
                                      name=f"{task.name}_tower")(pooled)
            outputs[task.name] = task_lib.head_activation(task, logits)
    return outputs


def last_shared_variables(network: keras.Model) -> list:
    """GradNorm's shared layer: the last block of every text encoder."""
    return [w for layer in network.layers if isinstance(layer, TextEncoder)
            for w in layer.blocks[-1].trainable_variables]


# --- Serving: entities and answers in character offsets ---------------------------------------

def _char_offsets(text: tf.Tensor, byte_offsets: tf.Tensor) -> tf.Tensor:
    """Character offsets [batch, n] of byte offsets [batch, n] into the UTF-8 strings `text`
    [batch] (-1 stays -1)."""
    wide = tf.broadcast_to(text[:, None], tf.shape(byte_offsets))
    prefix = tf.strings.substr(wide, tf.zeros_like(byte_offsets, tf.int32),
                               tf.cast(tf.maximum(byte_offsets, 0), tf.int32))
    chars = tf.cast(tf.strings.length(prefix, unit="UTF8_CHAR"), tf.int64)
    return tf.where(byte_offsets >= 0, chars, tf.constant(-1, tf.int64))


def decode_entities(task: Task, probabilities: tf.Tensor, text: tf.Tensor,
                    starts: tf.Tensor, ends: tf.Tensor) -> dict[str, tf.Tensor]:
    """The entities of each text as `<task>_start`, `<task>_end` (characters, end exclusive)
    and `<task>_type`, [batch, length] each, the entities first, then padding (-1, -1, "").

    Chunks follow conlleval: a chunk starts at B-X, or at I-X after anything but a B-X / I-X
    of the same type, and runs while I-X follows.
    """
    types = tf.constant([t[2:] if t != "O" else "" for t in task.tags])
    inside = tf.constant([t.startswith("I-") for t in task.tags])
    predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    valid = starts >= 0
    kind = tf.where(valid, tf.gather(types, predicted), "")
    is_inside = tf.gather(inside, predicted) & valid
    previous = tf.pad(kind[:, :-1], [[0, 0], [1, 0]], constant_values="")
    following = tf.pad(kind[:, 1:], [[0, 0], [0, 1]], constant_values="")
    following_inside = tf.pad(is_inside[:, 1:], [[0, 0], [0, 1]])
    begins = (kind != "") & (~is_inside | (previous != kind))
    ends_here = (kind != "") & ~(following_inside & (following == kind))
    length = tf.shape(predicted)[1]
    positions = tf.range(length)
    # For each position, the first chunk end at or after it.
    later_end = ends_here[:, None, :] & (positions[None, None, :] >= positions[None, :, None])
    end_index = tf.argmax(tf.cast(later_end, tf.int32), axis=-1, output_type=tf.int32)
    start_char = _char_offsets(text, starts)
    end_char = _char_offsets(text, tf.gather(ends, end_index, batch_dims=1))
    # Entities first, in text order (a stable sort on "is not an entity start").
    order = tf.argsort(tf.cast(~begins, tf.int32), axis=1, stable=True)
    begins = tf.gather(begins, order, batch_dims=1)
    pad = tf.constant(-1, tf.int64)
    return {
        f"{task.name}_start": tf.where(begins, tf.gather(start_char, order, batch_dims=1), pad),
        f"{task.name}_end": tf.where(begins, tf.gather(end_char, order, batch_dims=1), pad),
        f"{task.name}_type": tf.where(begins, tf.gather(kind, order, batch_dims=1), ""),
    }


def decode_answer(task: Task, probabilities: tf.Tensor, text: tf.Tensor, starts: tf.Tensor,
                  ends: tf.Tensor, question_starts: tf.Tensor | None = None
                  ) -> dict[str, tf.Tensor]:
    """The answer of each context: `<task>_start`, `<task>_end` (characters, end exclusive),
    `<task>_text` and `<task>_score` (p_start * p_end), from the (start, end) token pair with
    start <= end < start + max_answer_tokens that maximises p_start * p_end; (-1, -1, "", 0)
    for a context without tokens, or without a question (`question_starts`: the question's
    token offsets, -1 at padding)."""
    p_start, p_end = probabilities[:, 0, :], probabilities[:, 1, :]
    length = tf.shape(p_start)[1]
    positions = tf.range(length)
    gap = positions[None, :] - positions[:, None]  # [start, end]: end - start
    band = (gap >= 0) & (gap < task.max_answer_tokens)
    scores = p_start[:, :, None] * p_end[:, None, :] * tf.cast(band, p_start.dtype)[None]
    flat = tf.argmax(tf.reshape(scores, [tf.shape(scores)[0], -1]), axis=1, output_type=tf.int32)
    start_token, end_token = flat // length, flat % length
    best = tf.reduce_max(tf.reshape(scores, [tf.shape(scores)[0], -1]), axis=1)
    has_tokens = tf.reduce_any(starts >= 0, axis=1)
    if question_starts is not None:
        has_tokens &= tf.reduce_any(question_starts >= 0, axis=1)
    start_byte = tf.gather(starts, start_token, batch_dims=1)
    end_byte = tf.gather(ends, end_token, batch_dims=1)
    found = has_tokens & (start_byte >= 0) & (end_byte >= 0)
    answer = tf.strings.substr(text, tf.cast(tf.maximum(start_byte, 0), tf.int32),
                               tf.cast(tf.maximum(end_byte - start_byte, 0), tf.int32))
    chars = _char_offsets(text, tf.stack([start_byte, end_byte], axis=1))
    pad = tf.constant(-1, tf.int64)
    return {
        f"{task.name}_start": tf.where(found, chars[:, 0], pad),
        f"{task.name}_end": tf.where(found, chars[:, 1], pad),
        f"{task.name}_text": tf.where(found, answer, ""),
        f"{task.name}_score": tf.where(found, best, 0.0),
    }
