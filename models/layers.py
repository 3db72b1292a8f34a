"""Serializable building blocks of the multi-task models (each implements `get_config`)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="mtl")
class FeatureEmbedding(keras.layers.Layer):
    """Turns the transformed features into one dense vector per example.

    Ids (`id_keys`) get an embedding each; every sequence (`sequences`: {input: table}) is
    mean-pooled over its non-padding entries (id 0 is padding, real ids are shifted by one);
    numeric features are concatenated as they are (already z-scored by Transform).

    A sequence's ids come from a vocabulary: another feature's (the history of clicked items
    shares the item vocabulary), or its own (table key = the sequence's key). With
    `own_history_table`, a sequence sharing another feature's vocabulary looks up a table of
    its own (same size and width); otherwise it shares that feature's table, so the sequence
    and the id live in one space.

    With `dot_interactions`, the pairwise dot products of the vectors as wide as the first
    sequence's table (the id embeddings of that width, e.g. user and item, and the mean-pooled
    sequences; without a sequence, those as wide as the widest id embedding) are appended: the
    explicit second-order interactions of factorization machines (Rendle, ICDM 2010) and DLRM
    (Naumov et al., 2019), which a ReLU stack fed the concatenation learns only slowly.

    `embedding_l2` > 0 adds embedding_l2 * the batch mean of the squared norms of the rows
    looked up (each id's, and each sequence's non-padding entries'): an id is regularized as
    often as it is seen, as the regularized matrix factorization of the ratings literature does
    (Koren, Bell & Volinsky, "Matrix Factorization Techniques for Recommender Systems", IEEE
    Computer 2009), rather than every row of a table at every step.
    """

    def __init__(
        self,
        vocab_sizes: dict[str, int],
        embedding_dims: dict[str, int],
        numeric_keys: list[str],
        id_keys: list[str] | None = None,
        sequences: dict[str, str] | None = None,
        own_history_table: bool = False,
        dot_interactions: bool = False,
        embedding_l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embedding_l2 = float(embedding_l2)
        self.vocab_sizes = dict(vocab_sizes)
        self.embedding_dims = dict(embedding_dims)
        self.numeric_keys = list(numeric_keys)
        self.sequences = dict(sequences or {})
        own_tables = {key for key, table in self.sequences.items() if key == table}
        self.id_keys = list(id_keys) if id_keys is not None else [
            key for key in self.vocab_sizes if key not in own_tables]
        self.own_history_table = bool(own_history_table)
        self.dot_interactions = bool(dot_interactions)
        self.embeddings = {
            key: keras.layers.Embedding(
                size + 1, self.embedding_dims[key], name=f"{key}_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05),
            )
            for key, size in self.vocab_sizes.items()
        }
        # A table of its own for each sequence that would share another feature's.
        self.sequence_tables = {
            key: keras.layers.Embedding(
                self.vocab_sizes[table] + 1, self.embedding_dims[table],
                name=f"{key}_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05),
            )
            for key, table in self.sequences.items() if self.own_history_table and key != table
        }
        if self.sequences:
            self.interaction_width = self.embedding_dims[next(iter(self.sequences.values()))]
        else:
            self.interaction_width = max((self.embedding_dims[k] for k in self.id_keys),
                                         default=0)

    def table(self, sequence_key: str) -> keras.layers.Embedding:
        return self.sequence_tables.get(sequence_key) or self.embeddings[
            self.sequences[sequence_key]]

    def call(self, inputs: dict, training=None) -> tf.Tensor:
        parts = []
        for key in self.id_keys:
            ids = tf.cast(tf.reshape(inputs[key], [-1]), tf.int32) + 1
            parts.append(self.embeddings[key](ids))
        by_key = dict(zip(self.id_keys, parts))
        penalties = [tf.reduce_mean(tf.reduce_sum(tf.square(part), axis=-1))
                     for part in parts] if self.embedding_l2 else []
        pooled, means = [], []
        for key, table in self.sequences.items():
            ids = tf.cast(inputs[key], tf.int32)
            vectors = self.table(key)(ids)
            if self.embedding_l2:
                valid = tf.cast(ids > 0, vectors.dtype)
                # The mean over the non-padding entries: a sequence weighs as one id.
                penalties.append(tf.math.divide_no_nan(
                    tf.reduce_sum(tf.reduce_sum(tf.square(vectors), axis=-1) * valid),
                    tf.reduce_sum(valid)))
            pooled.append(self.pool_history(vectors, ids > 0, by_key, training, key=key))
            if self.embedding_dims[table] == self.interaction_width:
                means.append(FeatureEmbedding.pool_history(self, vectors, ids > 0, by_key))
        if self.dot_interactions:
            vectors = [part for key, part in by_key.items()
                       if self.embedding_dims[key] == self.interaction_width] + means
            dots = [tf.reduce_sum(vectors[i] * vectors[j], axis=-1, keepdims=True)
                    for i in range(len(vectors)) for j in range(i + 1, len(vectors))]
        parts.extend(pooled)
        for key in self.numeric_keys:
            parts.append(tf.reshape(tf.cast(inputs[key], tf.float32), [-1, 1]))
        if self.dot_interactions:
            parts.extend(dots)
        if self.embedding_l2 and penalties:
            self.add_loss(self.embedding_l2 * tf.add_n(penalties))
        return tf.concat(parts, axis=-1)

    def pool_history(self, item_vectors, valid, id_parts, training=None, key=None) -> tf.Tensor:
        """[batch, dim] summary of a sequence: the mean of its non-padding vectors."""
        mask = tf.cast(valid, item_vectors.dtype)[..., None]
        count = tf.reduce_sum(mask, axis=1)
        return tf.math.divide_no_nan(tf.reduce_sum(item_vectors * mask, axis=1), count)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            vocab_sizes=self.vocab_sizes,
            embedding_dims=self.embedding_dims,
            numeric_keys=self.numeric_keys,
            id_keys=self.id_keys,
            sequences=self.sequences,
            own_history_table=self.own_history_table,
            dot_interactions=self.dot_interactions,
            embedding_l2=self.embedding_l2,
        )
        return config


@keras.saving.register_keras_serializable(package="mtl")
class IdBiases(keras.layers.Layer):
    """A learned bias per id of every id feature and per output: [batch, outputs], the sum
    over the features of each example's ids' biases (the user and item biases b_u + b_i of
    the classic ratings models, Koren 2008; the wide part of wide & deep, Cheng et al. 2016,
    over the ids). The biases start at 0; `l2` > 0 adds l2 * the batch mean of the squared
    biases looked up, as for the embedding rows."""

    def __init__(self, vocab_sizes: dict[str, int], outputs: int, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_sizes = dict(vocab_sizes)
        self.outputs = int(outputs)
        self.l2 = float(l2)
        self.tables = {
            key: keras.layers.Embedding(size + 1, self.outputs, name=f"{key}_bias",
                                        embeddings_initializer="zeros")
            for key, size in self.vocab_sizes.items()
        }

    def call(self, inputs: dict) -> tf.Tensor:
        biases = [self.tables[key](tf.cast(tf.reshape(inputs[key], [-1]), tf.int32) + 1)
                  for key in self.vocab_sizes]
        if self.l2:
            self.add_loss(self.l2 * tf.add_n(
                [tf.reduce_mean(tf.reduce_sum(tf.square(b), axis=-1)) for b in biases]))
        return tf.add_n(biases)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(vocab_sizes=self.vocab_sizes, outputs=self.outputs, l2=self.l2)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class MLP(keras.layers.Layer):
    """Dense stack with ReLU, optional BatchNorm and Dropout, L2 on the kernels."""

    def __init__(self, units, dropout: float = 0.0, l2: float = 0.0, batch_norm: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = [int(u) for u in units]
        self.dropout = float(dropout)
        self.l2 = float(l2)
        self.batch_norm = bool(batch_norm)
        self.blocks = []
        for i, width in enumerate(self.units):
            block = [keras.layers.Dense(
                width, kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
                name=f"dense_{i}",
            )]
            if self.batch_norm:
                # Synchronised: under a multi-replica strategy the batch statistics are those
                # of the global batch (all-reduced), not of each replica's share.
                block.append(keras.layers.BatchNormalization(synchronized=True, name=f"bn_{i}"))
            block.append(keras.layers.ReLU(name=f"relu_{i}"))
            if self.dropout:
                block.append(keras.layers.Dropout(self.dropout, name=f"dropout_{i}"))
            self.blocks.append(block)

    def call(self, x, training=None):
        for block in self.blocks:
            for layer in block:
                x = layer(x, training=training) if isinstance(
                    layer, (keras.layers.Dropout, keras.layers.BatchNormalization)
                ) else layer(x)
        return x

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout, l2=self.l2,
                      batch_norm=self.batch_norm)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class TaskTower(keras.layers.Layer):
    """One task's tower: MLP (optional BatchNorm, Dropout, L2) then the logits: [batch] for one
    output (binary, regression), [batch, outputs] for several (a multiclass task's classes).

    `logit_bias` is the logits' initial bias, so a head can start at a sensible prediction (a
    regression head at the label's typical magnitude) instead of wherever a zero logit maps.
    """

    def __init__(self, units, dropout: float = 0.0, l2: float = 0.0, outputs: int = 1,
                 batch_norm: bool = False, logit_bias: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = [int(u) for u in units]
        self.dropout = float(dropout)
        self.l2 = float(l2)
        self.outputs = int(outputs)
        self.batch_norm = bool(batch_norm)
        self.logit_bias = float(logit_bias)
        self.mlp = MLP(self.units, dropout=self.dropout, l2=self.l2, batch_norm=self.batch_norm,
                       name="mlp")
        self.logit = keras.layers.Dense(
            self.outputs, kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
            bias_initializer=keras.initializers.Constant(self.logit_bias), name="logit"
        )

    def call(self, x, training=None):
        logits = self.logit(self.mlp(x, training=training))
        return tf.squeeze(logits, axis=-1) if self.outputs == 1 else logits

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout, l2=self.l2, outputs=self.outputs,
                      batch_norm=self.batch_norm, logit_bias=self.logit_bias)
        return config


def _l2(value: float):
    return keras.regularizers.L2(value) if value else None


@keras.saving.register_keras_serializable(package="mtl")
class TransformerBlock(keras.layers.Layer):
    """Post-norm Transformer encoder block (Vaswani et al., NeurIPS 2017): multi-head
    self-attention and a ReLU feed-forward layer, each with dropout, a residual and LayerNorm.
    Padding positions are masked out as keys."""

    def __init__(self, dim: int, heads: int, ff_units: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff_units = int(dim), int(heads), int(ff_units)
        self.dropout = float(dropout)
        self.attention = keras.layers.MultiHeadAttention(
            self.heads, key_dim=max(1, self.dim // self.heads), dropout=self.dropout,
            name="self_attention")
        self.ff_in = keras.layers.Dense(self.ff_units, activation="relu", name="ff_in")
        self.ff_out = keras.layers.Dense(self.dim, name="ff_out")
        self.norm_1 = keras.layers.LayerNormalization(name="norm_1")
        self.norm_2 = keras.layers.LayerNormalization(name="norm_2")
        self.drop_1 = keras.layers.Dropout(self.dropout, name="dropout_1")
        self.drop_2 = keras.layers.Dropout(self.dropout, name="dropout_2")

    def call(self, x, valid, training=None):
        # [batch, query, key] mask: every query may attend to the non-padding keys.
        length = tf.shape(x)[1]
        mask = tf.logical_and(valid[:, None, :], tf.ones([1, length, 1], tf.bool))
        attended = self.attention(x, x, attention_mask=mask, training=training)
        x = self.norm_1(x + self.drop_1(attended, training=training))
        ff = self.ff_out(self.ff_in(x))
        return self.norm_2(x + self.drop_2(ff, training=training))

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(dim=self.dim, heads=self.heads, ff_units=self.ff_units,
                      dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class TransformerFeatureEmbedding(FeatureEmbedding):
    """`FeatureEmbedding` whose history summary is a Transformer encoder over the history's item
    vectors (plus learned positions) read out by attention with the target item as query,
    concatenated with the mean-pooled history.

    Encoder: Vaswani et al., NeurIPS 2017; target-item attention over the behaviour sequence as
    in BST (Chen et al., "Behavior Sequence Transformer", DLP-KDD 2019) and DIN (Zhou et al.,
    KDD 2018). An empty history gives a zero vector, as the mean pooling does.
    """

    def __init__(self, *args, sequence_key: str, target_key: str, heads: int = 2,
                 num_layers: int = 1, attention_dropout: float = 0.0, sequence_length: int = 20,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.sequence_key = sequence_key
        self.target_key = target_key
        self.heads = int(heads)
        self.num_layers = int(num_layers)
        self.attention_dropout = float(attention_dropout)
        self.sequence_length = int(sequence_length)
        dim = self.embedding_dims[self.sequences[sequence_key]]
        self.positions = keras.layers.Embedding(
            self.sequence_length, dim, name="position_embedding",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05))
        self.blocks = [
            TransformerBlock(dim, self.heads, 2 * dim, self.attention_dropout, name=f"block_{i}")
            for i in range(self.num_layers)
        ]
        self.target_attention = keras.layers.MultiHeadAttention(
            self.heads, key_dim=max(1, dim // self.heads), name="target_attention")

    def pool_history(self, item_vectors, valid, id_parts, training=None, key=None):
        mean = super().pool_history(item_vectors, valid, id_parts, training)
        if key != self.sequence_key:
            return mean
        target = id_parts[self.target_key]  # [batch, dim]
        x = item_vectors + self.positions(tf.range(tf.shape(item_vectors)[1]))[None]
        for block in self.blocks:
            x = block(x, valid, training=training)
        mask = valid[:, None, :]  # [batch, 1 query, keys]
        out = self.target_attention(target[:, None, :], x, attention_mask=mask,
                                    training=training)[:, 0, :]
        has_history = tf.cast(tf.reduce_any(valid, axis=1), out.dtype)[:, None]
        # As in BST, the sequence encoder's output joins the other features rather than
        # replacing them: the mean-pooled history stays alongside.
        return tf.concat([mean, out * has_history], axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(sequence_key=self.sequence_key, target_key=self.target_key,
                      heads=self.heads, num_layers=self.num_layers,
                      attention_dropout=self.attention_dropout,
                      sequence_length=self.sequence_length)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class MixtureOfExperts(keras.layers.Layer):
    """MMoE's sharing layer (Ma et al., "Modeling Task Relationships in Multi-task Learning with
    Multi-gate Mixture-of-Experts", KDD 2018): shared expert MLPs and one softmax gate per task;
    task t's output is sum_e gate_t(x)_e * expert_e(x). Returns a list, one vector per task."""

    def __init__(self, num_tasks: int, num_experts: int, expert_units, l2: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_tasks, self.num_experts = int(num_tasks), int(num_experts)
        self.expert_units = [int(u) for u in expert_units]
        self.l2 = float(l2)
        self.experts = [MLP(self.expert_units, l2=self.l2, name=f"expert_{e}")
                        for e in range(self.num_experts)]
        self.gates = [keras.layers.Dense(self.num_experts, activation="softmax",
                                         kernel_regularizer=_l2(self.l2), name=f"gate_{t}")
                      for t in range(self.num_tasks)]

    def gate_weights(self, x) -> list:
        """Each task's [batch, num_experts] gate (rows sum to 1)."""
        return [gate(x) for gate in self.gates]

    def call(self, x, training=None):
        experts = tf.stack([expert(x, training=training) for expert in self.experts], axis=1)
        return [tf.einsum("be,bed->bd", g, experts) for g in self.gate_weights(x)]

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_tasks=self.num_tasks, num_experts=self.num_experts,
                      expert_units=self.expert_units, l2=self.l2)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class CGCLevel(keras.layers.Layer):
    """One Customized Gate Control level of PLE (Tang et al., "Progressive Layered Extraction",
    RecSys 2020): per-task experts and shared experts; task t's gate mixes its own and the shared
    experts; unless this is the last level, a shared gate mixes every expert into the next
    level's shared input.

    Input: a list of num_tasks + 1 vectors (each task's input, then the shared input).
    Output: the same list shape, or num_tasks vectors when `last`.
    """

    def __init__(self, num_tasks: int, task_experts: int, shared_experts: int, expert_units,
                 l2: float = 0.0, last: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks, self.task_experts = int(num_tasks), int(task_experts)
        self.shared_experts, self.last = int(shared_experts), bool(last)
        self.expert_units = [int(u) for u in expert_units]
        self.l2 = float(l2)
        # Flat (nested lists are not tracked for SavedModel): task t's experts are
        # task_expert_mlps[t * task_experts: (t + 1) * task_experts].
        self.task_expert_mlps = [
            MLP(self.expert_units, l2=self.l2, name=f"task_{t}_expert_{e}")
            for t in range(self.num_tasks) for e in range(self.task_experts)
        ]
        self.shared_expert_mlps = [MLP(self.expert_units, l2=self.l2, name=f"shared_expert_{e}")
                                   for e in range(self.shared_experts)]
        self.task_gates = [
            keras.layers.Dense(self.task_experts + self.shared_experts, activation="softmax",
                               kernel_regularizer=_l2(self.l2), name=f"task_{t}_gate")
            for t in range(self.num_tasks)
        ]
        self.shared_gate = None if self.last else keras.layers.Dense(
            self.num_tasks * self.task_experts + self.shared_experts, activation="softmax",
            kernel_regularizer=_l2(self.l2), name="shared_gate")

    def _experts(self, inputs, training):
        shared_in = inputs[-1]
        k = self.task_experts
        task_out = [[mlp(inputs[t], training=training)
                     for mlp in self.task_expert_mlps[t * k:(t + 1) * k]]
                    for t in range(self.num_tasks)]
        shared_out = [mlp(shared_in, training=training) for mlp in self.shared_expert_mlps]
        return task_out, shared_out

    def gate_weights(self, inputs) -> list:
        """Each task's gate, then (not last) the shared gate; rows sum to 1."""
        gates = [self.task_gates[t](inputs[t]) for t in range(self.num_tasks)]
        if self.shared_gate is not None:
            gates.append(self.shared_gate(inputs[-1]))
        return gates

    def call(self, inputs, training=None):
        task_out, shared_out = self._experts(inputs, training)
        gates = self.gate_weights(inputs)
        outputs = []
        for t in range(self.num_tasks):
            experts = tf.stack(task_out[t] + shared_out, axis=1)
            outputs.append(tf.einsum("be,bed->bd", gates[t], experts))
        if not self.last:
            experts = tf.stack([e for out in task_out for e in out] + shared_out, axis=1)
            outputs.append(tf.einsum("be,bed->bd", gates[-1], experts))
        return outputs

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_tasks=self.num_tasks, task_experts=self.task_experts,
                      shared_experts=self.shared_experts, expert_units=self.expert_units,
                      l2=self.l2, last=self.last)
        return config


@keras.saving.register_keras_serializable(package="mtl")
class CrossStitchNetwork(keras.layers.Layer):
    """Soft parameter sharing (Misra et al., "Cross-stitch Networks for Multi-task Learning",
    CVPR 2016): one dense column per task; after every layer a learned num_tasks x num_tasks
    cross-stitch matrix mixes the columns' activations, h'_s = sum_t alpha[s, t] * h_t
    (initialized to 0.9 on the diagonal, 0.1 spread over the others).

    `column_l2` > 0 adds column_l2 * sum over layers and task pairs of ||W_s - W_t||^2, pulling
    the columns' kernels together (soft sharing by regularization, Duong et al., ACL 2015).
    Returns a list, one vector per task.
    """

    def __init__(self, num_tasks: int, units, l2: float = 0.0, column_l2: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = int(num_tasks)
        self.units = [int(u) for u in units]
        self.l2, self.column_l2 = float(l2), float(column_l2)
        # A flat list (nested lists are not tracked for SavedModel): task t, layer i is at
        # t * len(units) + i; see `column`.
        self.column_layers = [
            keras.layers.Dense(width, activation="relu", kernel_regularizer=_l2(self.l2),
                               name=f"task_{t}_dense_{i}")
            for t in range(self.num_tasks) for i, width in enumerate(self.units)
        ]
        n = self.num_tasks
        off = 0.1 / (n - 1) if n > 1 else 0.0
        init = [[0.9 if s == t else off for t in range(n)] for s in range(n)] if n > 1 else [[1.0]]
        self.stitches = [
            self.add_weight(shape=(n, n), initializer=keras.initializers.Constant(init),
                            name=f"cross_stitch_{i}")
            for i in range(len(self.units))
        ]

    def column(self, task: int, layer: int) -> keras.layers.Dense:
        return self.column_layers[task * len(self.units) + layer]

    def column_penalty(self) -> tf.Tensor:
        """column_l2 * sum_i sum_{s<t} ||W_s^i - W_t^i||^2 (0 when column_l2 is 0)."""
        total = tf.constant(0.0)
        for i in range(len(self.units)):
            for s in range(self.num_tasks):
                for t in range(s + 1, self.num_tasks):
                    diff = self.column(s, i).kernel - self.column(t, i).kernel
                    total += tf.reduce_sum(tf.square(diff))
        return self.column_l2 * total

    def call(self, x, training=None):
        hidden = [x] * self.num_tasks
        for i in range(len(self.units)):
            hidden = [self.column(t, i)(hidden[t]) for t in range(self.num_tasks)]
            stacked = tf.stack(hidden, axis=1)  # [batch, task, dim]
            mixed = tf.einsum("st,btd->bsd", self.stitches[i], stacked)
            hidden = [mixed[:, t] for t in range(self.num_tasks)]
        if self.column_l2:
            self.add_loss(self.column_penalty())
        return hidden

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_tasks=self.num_tasks, units=self.units, l2=self.l2,
                      column_l2=self.column_l2)
        return config
