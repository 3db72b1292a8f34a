"""The multiclass task kind: head, masked cross-entropy, metrics (Keras and TFMA), Transform,
score fusion, and the optional `engagement_level` task wired through config and data."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import model
from models import tasks as task_lib
from models.export import fused_score, score_term
from models.hparams import TABULAR_MODEL_NAMES, ModelHParams
from models.weighting import STRATEGIES
from tests.support import default_problem as features
from tests.support.model_batches import SMALL, VOCAB, fake_batch

ENGAGEMENT = features.task_by_name("engagement_level", features.ALL_TASKS)
TASKS = features.select_tasks(["engagement_level"])


def _batch_with_engagement(n: int = 16, seed: int = 0):
    inputs, labels, masks = fake_batch(n, seed)
    rng = np.random.default_rng(seed + 1)
    labels["engagement_level"] = rng.integers(0, 3, n).astype(np.float32)
    masks["engagement_level"] = labels["click"].copy()
    return inputs, labels, masks


def test_engagement_level_is_an_optional_three_class_task():
    assert ENGAGEMENT.kind == "multiclass" and ENGAGEMENT.num_classes == 3
    assert ENGAGEMENT not in features.TASKS and ENGAGEMENT.optional
    assert ENGAGEMENT.metric == "accuracy" and ENGAGEMENT.higher_is_better
    assert ENGAGEMENT.top_k_metric == "top_2_accuracy"
    assert features.select_tasks() == features.TASKS
    assert TASKS == features.TASKS + (ENGAGEMENT,)
    assert "engagement_level" in features.LABEL_KEYS  # never needed by serving


def test_selecting_unknown_or_default_tasks_names_the_choices():
    with pytest.raises(ValueError, match="unknown optional tasks \\['nope'\\].*engagement_level"):
        features.select_tasks(["nope"])
    with pytest.raises(ValueError, match="\\['click'\\] are always trained"):
        features.select_tasks(["click"])
    with pytest.raises(ValueError, match="num_classes >= 2"):
        features.Task("x", "multiclass", "x", num_classes=1)
    with pytest.raises(ValueError, match="unknown kind 'ordinal'"):
        features.Task("x", "ordinal", "x")


def test_masked_cross_entropy_by_hand():
    probabilities = tf.constant([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    labels = tf.constant([0.0, 2.0, 0.0])  # the third is missing: its (clipped) value is noise
    mask = tf.constant([1.0, 1.0, 0.0])
    loss = task_lib.masked_loss(ENGAGEMENT, labels, probabilities, mask)
    assert float(loss) == pytest.approx(-(math.log(0.7) + math.log(0.8)) / 2, rel=1e-6)
    nothing = task_lib.masked_loss(ENGAGEMENT, tf.constant([-1.0, 5.0, 1.0]), probabilities,
                                   tf.zeros(3))
    assert float(nothing) == 0.0


def test_keras_accuracy_and_top_k_count_only_observed_labels():
    model_ = model.build_model(ModelHParams(**SMALL), VOCAB, TASKS, features.SPEC)
    accuracy, top2 = model_.task_metrics["engagement_level"]
    probabilities = tf.constant([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1],
                                 [0.1, 0.1, 0.8]])
    labels = tf.constant([0.0, 1.0, 2.0, 0.0])
    mask = tf.constant([1.0, 1.0, 1.0, 0.0])
    model_._update_metrics(
        tf.constant(0.0), {t.name: tf.constant(0.0) for t in TASKS},
        {t.name: labels if t.name == "engagement_level" else tf.zeros(4) for t in TASKS},
        {t.name: mask if t.name == "engagement_level" else tf.zeros(4) for t in TASKS},
        {t.name: probabilities if t.name == "engagement_level" else tf.fill([4], 0.5)
         for t in TASKS})
    # Observed rows: hit (0), miss (1 is second: top-2 hit), miss (2 is third).
    assert float(accuracy.result()) == pytest.approx(1 / 3)
    assert float(top2.result()) == pytest.approx(2 / 3)


@pytest.mark.parametrize("name", sorted(TABULAR_MODEL_NAMES))
def test_every_architecture_outputs_class_probabilities(name):
    network = model.build_network(ModelHParams(model=name, **SMALL), VOCAB, TASKS, features.SPEC)
    inputs, _, _ = fake_batch()
    outputs = network(inputs, training=False)
    assert sorted(outputs) == sorted(t.name for t in TASKS)
    probabilities = outputs["engagement_level"].numpy()
    assert probabilities.shape == (16, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert outputs["click"].shape == (16,)


@pytest.mark.parametrize("weighting", sorted(STRATEGIES))
def test_every_weighting_trains_with_a_multiclass_task(weighting):
    keras.utils.set_random_seed(0)
    hp = ModelHParams(weighting=weighting, dwa_period_steps=1, **SMALL)
    m = model.build_model(hp, VOCAB, TASKS, features.SPEC)
    m.run_eagerly = True
    history = m.fit(tf.data.Dataset.from_tensors(_batch_with_engagement()).repeat(3),
                    verbose=0).history
    assert np.isfinite(history["engagement_level_loss"][-1])
    assert history["engagement_level_loss"][-1] > 0
    assert 0.0 <= history["engagement_level_accuracy"][-1] <= 1.0
    assert np.isfinite(history["engagement_level_loss_weight"][-1])


def test_score_adds_the_expected_class_id():
    probabilities = tf.constant([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(score_term(ENGAGEMENT, probabilities).numpy(), [1.3, 0.0])
    outputs = {"click": tf.constant([0.5, 0.1]), "engagement_level": probabilities}
    two = (features.TASKS[0], ENGAGEMENT)
    score = fused_score(outputs, {"click": 1.0, "engagement_level": 0.25}, two)
    np.testing.assert_allclose(score.numpy(), [0.5 + 0.25 * 1.3, 0.1], rtol=1e-6)
