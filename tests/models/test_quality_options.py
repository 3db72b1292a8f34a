"""The model-quality options: tower BatchNorm, the regression head's start, the history's
table and the dot-product interactions (values derived by hand)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import layers, model
from models import tasks as task_lib
from models.hparams import TABULAR_MODEL_NAMES, ModelHParams
from tests.support import default_problem as features

VOCAB = {key: 7 for key in features.CATEGORICAL_FEATURES}
XF = features.transformed_name


def _batch_norms(network: keras.Model) -> int:
    towers = [layer for layer in network.layers if isinstance(layer, layers.TaskTower)]
    assert len(towers) == len(features.TASKS)
    return sum(isinstance(sub, keras.layers.BatchNormalization)
               for tower in towers for block in tower.mlp.blocks for sub in block)


def test_default_towers_have_no_batch_norm_and_the_option_adds_one_per_layer():
    assert _batch_norms(model.build_network(ModelHParams(), VOCAB, features.TASKS, features.SPEC)) == 0
    hp = ModelHParams(tower_batch_norm=True, tower_units=(8, 4))
    # 4 towers x 2 dense layers.
    assert _batch_norms(model.build_network(hp, VOCAB, features.TASKS, features.SPEC)) == 8


def test_regression_head_bias_init_starts_at_the_task_scale():
    watch_time = features.task_by_name("watch_time")
    logit = tf.constant([task_lib.initial_logit(watch_time)])
    # softplus(log(e - 1)) = log(1 + e - 1) = 1, times scale 30.
    assert float(task_lib.head_activation(watch_time, logit)[0]) == pytest.approx(30.0, rel=1e-6)
    assert task_lib.initial_logit(features.task_by_name("click")) == 0.0

    tower = layers.TaskTower([3], logit_bias=task_lib.initial_logit(watch_time))
    tower(tf.zeros([2, 5]))
    tower.logit.kernel.assign(tf.zeros_like(tower.logit.kernel))
    out = task_lib.head_activation(watch_time, tower(tf.ones([2, 5])))
    np.testing.assert_allclose(out.numpy(), [30.0, 30.0], rtol=1e-6)


def _embedding(**options) -> layers.FeatureEmbedding:
    """user / item 2 wide, category / device 1 wide, no numeric features; ids in 0..2."""
    dims = {XF("user_id"): 2, XF("item_id"): 2, XF("category"): 1, XF("device"): 1}
    layer = layers.FeatureEmbedding(
        vocab_sizes={key: 3 for key in dims}, embedding_dims=dims, numeric_keys=[],
        sequences={XF("history_item_ids"): XF("item_id")}, **options)
    return layer


def _inputs():
    # One example: user id 0, item id 1, history = item ids 0 and 1 (shifted: 1, 2), then padding.
    ids = {XF(k): tf.constant([v], tf.int64)
           for k, v in {"user_id": 0, "item_id": 1, "category": 0, "device": 0}.items()}
    ids[XF("history_item_ids")] = tf.constant([[1, 2, 0]], tf.int64)
    return ids


def _set_tables(layer, item_rows, user_rows=None, history_rows=None):
    layer(_inputs())
    for key, table in layer.embeddings.items():
        width = layer.embedding_dims[key]
        table.embeddings.assign(np.zeros((4, width), np.float32))
    # Table row = id + 1 (row 0 is the history's padding).
    layer.embeddings[XF("item_id")].embeddings.assign(np.asarray(item_rows, np.float32))
    if user_rows is not None:
        layer.embeddings[XF("user_id")].embeddings.assign(np.asarray(user_rows, np.float32))
    if history_rows is not None:
        layer.sequence_tables[XF("history_item_ids")].embeddings.assign(
            np.asarray(history_rows, np.float32))


def test_history_shares_the_item_table_unless_it_has_its_own():
    items = [[0, 0], [1, 0], [0, 3], [9, 9]]
    shared = _embedding()
    _set_tables(shared, items)
    # Parts: user 2, item 2, category 1, device 1, then the pooled history:
    # mean of item rows 1 and 2 = ([1, 0] + [0, 3]) / 2.
    np.testing.assert_allclose(shared(_inputs()).numpy()[0, 6:], [0.5, 1.5])
    assert shared.sequence_tables == {}

    own = _embedding(own_history_table=True)
    _set_tables(own, items, history_rows=[[0, 0], [2, 2], [4, 0], [0, 0]])
    np.testing.assert_allclose(own(_inputs()).numpy()[0, 6:], [3.0, 1.0])
    # The target item still reads the item table: item id 1 -> row 2.
    np.testing.assert_allclose(own(_inputs()).numpy()[0, 2:4], [0.0, 3.0])


def test_dot_interactions_append_the_pairwise_products_of_the_equally_wide_vectors():
    layer = _embedding(dot_interactions=True)
    _set_tables(layer, item_rows=[[0, 0], [1, 0], [0, 3], [9, 9]],
                user_rows=[[0, 0], [2, 1], [0, 0], [0, 0]])
    out = layer(_inputs()).numpy()[0]
    # user = [2, 1] (id 0 -> row 1), item = [0, 3] (id 1 -> row 2), history mean = [0.5, 1.5];
    # pairs in order: user.item = 3, user.history = 2.5, item.history = 4.5.
    assert out.shape == (2 + 2 + 1 + 1 + 2 + 3,)
    np.testing.assert_allclose(out[-3:], [3.0, 2.5, 4.5])


@pytest.mark.parametrize("name", sorted(TABULAR_MODEL_NAMES))
def test_every_architecture_builds_with_every_option_on(name):
    hp = ModelHParams(model=name, tower_batch_norm=True, head_bias_init=True,
                      own_history_embedding=True, dot_interactions=True, bottom_units=(8,),
                      tower_units=(4,), expert_units=(4,), num_experts=2, cross_stitch_units=(4,))
    network = model.build_network(hp, VOCAB, features.TASKS, features.SPEC)
    rng = np.random.default_rng(0)
    inputs = {XF(k): rng.integers(0, 7, 5).astype(np.int64) for k in features.CATEGORICAL_FEATURES}
    for k in features.FLOAT_FEATURES + features.INT_FEATURES:
        inputs[XF(k)] = rng.normal(size=5).astype(np.float32)
    inputs[XF(features.HISTORY_FEATURE)] = rng.integers(
        0, 8, (5, features.HISTORY_LENGTH)).astype(np.int64)
    outputs = network(inputs, training=False)
    assert sorted(outputs) == sorted(t.name for t in features.TASKS)
    clone = keras.Model.from_config(network.get_config())
    clone.set_weights(network.get_weights())
    for key, value in clone(inputs, training=False).items():
        np.testing.assert_allclose(value.numpy(), outputs[key].numpy(), rtol=1e-5, atol=1e-6)


def test_embedding_tables_have_their_own_optimizer():
    """With the dense learning rate at 0 only the tables move, and the reverse."""
    from tests.support.model_batches import fake_batch

    def moved(learning_rate, embedding_learning_rate):
        hp = ModelHParams(learning_rate=learning_rate,
                          embedding_learning_rate=embedding_learning_rate,
                          bottom_units=(8,), tower_units=(4,))
        m = model.build_model(hp, VOCAB, features.TASKS, features.SPEC)
        m(fake_batch()[0])
        variables = model.embedding_variables(m.network)
        tables = {id(v) for v in variables}
        # Each id feature's embedding table and its per-id bias table (hp.id_biases).
        names = sorted(v.path.split("/")[-2] for v in variables)
        assert names == sorted(f"{features.transformed_name(k)}_{kind}"
                               for k in features.CATEGORICAL_FEATURES
                               for kind in ("bias", "embedding"))
        before = {id(v): v.numpy().copy() for v in m.network.trainable_variables}
        m.train_on_batch(*[tf.nest.map_structure(tf.constant, part) for part in fake_batch()])
        changed = {id(v) for v in m.network.trainable_variables
                   if not np.array_equal(before[id(v)], v.numpy())}
        return changed, tables

    changed, tables = moved(0.0, 0.1)
    assert changed == tables
    changed, tables = moved(0.1, 0.0)
    assert changed and not changed & tables
