"""Serializable building blocks of the multi-task models (each implements `get_config`)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="mtl")
class FeatureEmbedding(keras.layers.Layer):
    """Turns the transformed features into one dense vector per example.

    Categorical ids get an embedding each; the history list shares the item embedding table and
    is mean-pooled over its non-padding entries (id 0 is padding, real ids are shifted by one);
    numeric features are concatenated as they are (already z-scored by Transform).
    """

    def __init__(
        self,
        vocab_sizes: dict[str, int],
        embedding_dims: dict[str, int],
        numeric_keys: list[str],
        history_key: str,
        history_vocab_of: str,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_sizes = dict(vocab_sizes)
        self.embedding_dims = dict(embedding_dims)
        self.numeric_keys = list(numeric_keys)
        self.history_key = history_key
        self.history_vocab_of = history_vocab_of
        self.embeddings = {
            key: keras.layers.Embedding(
                size + 1, self.embedding_dims[key], name=f"{key}_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05),
            )
            for key, size in self.vocab_sizes.items()
        }

    def call(self, inputs: dict) -> tf.Tensor:
        parts = []
        for key, layer in self.embeddings.items():
            ids = tf.cast(tf.reshape(inputs[key], [-1]), tf.int32) + 1
            parts.append(layer(ids))
        history = tf.cast(inputs[self.history_key], tf.int32)
        item_vectors = self.embeddings[self.history_vocab_of](history)
        mask = tf.cast(history > 0, item_vectors.dtype)[..., None]
        count = tf.reduce_sum(mask, axis=1)
        parts.append(tf.math.divide_no_nan(tf.reduce_sum(item_vectors * mask, axis=1), count))
        for key in self.numeric_keys:
            parts.append(tf.reshape(tf.cast(inputs[key], tf.float32), [-1, 1]))
        return tf.concat(parts, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            vocab_sizes=self.vocab_sizes,
            embedding_dims=self.embedding_dims,
            numeric_keys=self.numeric_keys,
            history_key=self.history_key,
            history_vocab_of=self.history_vocab_of,
        )
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
                block.append(keras.layers.BatchNormalization(name=f"bn_{i}"))
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
    """One task's tower: MLP (BatchNorm, Dropout, L2) then a 1-unit logit, returned as [batch]."""

    def __init__(self, units, dropout: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = [int(u) for u in units]
        self.dropout = float(dropout)
        self.l2 = float(l2)
        self.mlp = MLP(self.units, dropout=self.dropout, l2=self.l2, batch_norm=True, name="mlp")
        self.logit = keras.layers.Dense(
            1, kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None, name="logit"
        )

    def call(self, x, training=None):
        return tf.squeeze(self.logit(self.mlp(x, training=training)), axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout, l2=self.l2)
        return config
