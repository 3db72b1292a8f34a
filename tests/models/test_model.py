"""The model zoo: every architecture's outputs, serialization, gates and ESMM's loss."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import layers, model
from models.hparams import TABULAR_MODEL_NAMES, ModelHParams
from models.weighting import STRATEGIES
from tests.support import default_problem as features
from tests.support.model_batches import SMALL, VOCAB, fake_batch

TASK_NAMES = [t.name for t in features.TASKS]


@pytest.mark.parametrize("name", sorted(TABULAR_MODEL_NAMES))
def test_outputs_are_the_task_list_in_label_units(name):
    network = model.build_network(ModelHParams(model=name, **SMALL), VOCAB, features.TASKS, features.SPEC)
    inputs, _, _ = fake_batch()
    outputs = network(inputs, training=False)
    assert sorted(outputs) == sorted(TASK_NAMES)
    for task in features.TASKS:
        values = outputs[task.name].numpy()
        assert values.shape == (16,), task.name
        if task.kind == "binary":
            assert ((values > 0) & (values < 1)).all(), task.name
        else:
            assert (values >= 0).all(), task.name


def _input_signature():
    xf = features.transformed_name
    spec = {xf(k): tf.TensorSpec([None], tf.int64, xf(k)) for k in features.CATEGORICAL_FEATURES}
    for k in features.FLOAT_FEATURES + features.INT_FEATURES:
        spec[xf(k)] = tf.TensorSpec([None], tf.float32, xf(k))
    spec[xf(features.HISTORY_FEATURE)] = tf.TensorSpec(
        [None, features.HISTORY_LENGTH], tf.int64, xf(features.HISTORY_FEATURE))
    return spec


@pytest.mark.parametrize("name", sorted(TABULAR_MODEL_NAMES))
def test_savedmodel_and_keras_config_round_trips_give_identical_predictions(name, tmp_path):
    hp = ModelHParams(model=name, **SMALL)
    network = model.build_network(hp, VOCAB, features.TASKS, features.SPEC)
    inputs, _, _ = fake_batch()
    expected = {k: v.numpy() for k, v in network(inputs, training=False).items()}

    module = tf.Module()
    module.network = network
    module.serve = tf.function(lambda x: module.network(x, training=False),
                               input_signature=[_input_signature()])
    tf.saved_model.save(module, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    got = loaded.serve({k: tf.constant(v) for k, v in inputs.items()})
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key].numpy(), value, rtol=1e-5, atol=1e-6)

    # Every layer serializes: the network rebuilt from its config with the same weights
    # predicts the same (no Lambda closures).
    clone = keras.Model.from_config(network.get_config())
    clone.set_weights(network.get_weights())
    for key, value in clone(inputs, training=False).items():
        np.testing.assert_allclose(value.numpy(), expected[key], rtol=1e-5, atol=1e-6)


def test_mmoe_gates_sum_to_one():
    layer = layers.MixtureOfExperts(num_tasks=3, num_experts=4, expert_units=[5])
    x = tf.random.normal([6, 9], seed=1)
    outputs = layer(x)
    gates = layer.gate_weights(x)
    assert len(outputs) == 3 and len(gates) == 3
    for gate in gates:
        assert gate.shape == (6, 4)
        np.testing.assert_allclose(tf.reduce_sum(gate, axis=1).numpy(), np.ones(6), rtol=1e-6)
    # Task 0's output is its gate's mixture of the experts.
    experts = np.stack([e(x).numpy() for e in layer.experts], axis=1)
    mixed = np.einsum("be,bed->bd", gates[0].numpy(), experts)
    np.testing.assert_allclose(outputs[0].numpy(), mixed, rtol=1e-5, atol=1e-6)


def test_ple_gates_sum_to_one_and_cover_own_plus_shared_experts():
    level = layers.CGCLevel(num_tasks=2, task_experts=2, shared_experts=3, expert_units=[4])
    inputs = [tf.random.normal([5, 6], seed=s) for s in range(3)]
    outputs = level(inputs)
    gates = level.gate_weights(inputs)
    assert len(outputs) == 3  # two tasks and the shared output (not the last level)
    assert [g.shape[1] for g in gates] == [2 + 3, 2 + 3, 2 * 2 + 3]
    for gate in gates:
        np.testing.assert_allclose(tf.reduce_sum(gate, axis=1).numpy(), np.ones(5), rtol=1e-6)
    last = layers.CGCLevel(num_tasks=2, task_experts=1, shared_experts=1, expert_units=[4],
                           last=True)
    assert len(last(inputs)) == 2 and len(last.gate_weights(inputs)) == 2


def test_cross_stitch_starts_near_identity_and_penalizes_column_differences():
    layer = layers.CrossStitchNetwork(num_tasks=2, units=[3], column_l2=0.5)
    layer(tf.ones([2, 4]))
    np.testing.assert_allclose(layer.stitches[0].numpy(), [[0.9, 0.1], [0.1, 0.9]])
    a, b = layer.column(0, 0).kernel, layer.column(1, 0).kernel
    a.assign(tf.ones([4, 3]))
    b.assign(tf.zeros([4, 3]))
    # 0.5 * ||1 - 0||^2 over 12 entries = 6.
    assert float(layer.column_penalty()) == pytest.approx(6.0)
    layer(tf.ones([2, 4]))
    assert [float(v) for v in layer.losses] == pytest.approx([6.0])


def test_esmm_trains_conversion_through_pctcvr_on_every_impression():
    m = model.build_model(ModelHParams(model="esmm", **SMALL), VOCAB, features.TASKS, features.SPEC)
    predictions = {"click": tf.constant([0.5, 0.8, 0.4]), "conversion": tf.constant([0.5, 0.25, 0.9]),
                   "watch_time": tf.zeros(3), "like": tf.zeros(3) + 0.5}
    labels = {"click": tf.constant([0.0, 1.0, 1.0]), "conversion": tf.constant([0.0, 1.0, 0.0]),
              "watch_time": tf.zeros(3), "like": tf.zeros(3)}
    # Row 3 clicked but its conversion label is missing: CTCVR unknown there.
    masks = {"click": tf.ones(3), "conversion": tf.constant([0.0, 1.0, 0.0]),
             "watch_time": tf.zeros(3), "like": tf.zeros(3)}
    losses = m.task_losses(labels, masks, predictions)
    # pCTCVR = [0.25, 0.2], labels [0, 1], both observed (row 1 through click = 0).
    expected = -(math.log(0.75) + math.log(0.2)) / 2
    assert float(losses["conversion"]) == pytest.approx(expected, rel=1e-5)
    assert float(losses["watch_time"]) == 0.0 and float(losses["like"]) == 0.0


def test_unknown_architecture_names_the_choices():
    with pytest.raises(ValueError, match="unknown model 'nope'.*transformer"):
        model.build_network(ModelHParams(model="nope"), VOCAB, features.TASKS, features.SPEC)


# Graph mode (tf.function, as in the Trainer) for one architecture per strategy; eager for the
# whole matrix, which skips the per-model tracing and keeps this test cheap.
# (The e2e tests train every architecture in graph mode with static weighting.)
GRAPH_MODE = {("shared_bottom", w) for w in ("uncertainty", "gradnorm", "dwa", "pcgrad")}


@pytest.mark.parametrize("weighting", sorted(STRATEGIES))
@pytest.mark.parametrize("name", sorted(TABULAR_MODEL_NAMES))
def test_every_architecture_trains_with_every_weighting(name, weighting):
    """What `mtl run --model X --weighting Y` builds and fits, on a tiny in-memory batch."""
    keras.utils.set_random_seed(0)
    hp = ModelHParams(model=name, weighting=weighting, dwa_period_steps=1, **SMALL)
    m = model.build_model(hp, VOCAB, features.TASKS, features.SPEC)
    m.run_eagerly = (name, weighting) not in GRAPH_MODE
    data = tf.data.Dataset.from_tensors(fake_batch()).repeat(3)
    before = [v.numpy().copy() for v in m.network.trainable_variables]
    history = m.fit(data, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][-1])
    assert np.isfinite(history["like_loss"][-1]) and history["like_loss"][-1] == 0.0
    for task in TASK_NAMES:
        assert np.isfinite(history[f"{task}_loss_weight"][-1])
    after = m.network.trainable_variables
    changed = sum(not np.allclose(b, a.numpy()) for b, a in zip(before, after))
    assert changed > len(before) // 2


def test_registries_match_the_names_the_cli_offers():
    from models.hparams import MODEL_NAMES, WEIGHTING_NAMES

    assert tuple(model.ARCHITECTURES) == MODEL_NAMES
    assert tuple(STRATEGIES) == WEIGHTING_NAMES


def test_xla_jit_compile_trains_with_a_gradient_based_weighting():
    keras.utils.set_random_seed(0)
    hp = ModelHParams(model="shared_bottom", weighting="pcgrad", jit_compile=True, **SMALL)
    m = model.build_model(hp, VOCAB, features.TASKS, features.SPEC)
    history = m.fit(tf.data.Dataset.from_tensors(fake_batch()).repeat(2), verbose=0).history
    assert np.isfinite(history["loss"][-1]) and history["like_loss"][-1] == 0.0
