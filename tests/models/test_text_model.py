"""The text_transformer: output shapes and probabilities, masked text losses, a fit that learns,
and the refusals of a text problem with another model."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import model as model_lib
from models import tasks as task_lib
from models.hparams import ModelHParams
from models.spec import ProblemSpec
from tests.support.text_problem import SPEC

PROBLEM = ProblemSpec.from_dict(SPEC)
HP = ModelHParams(model="text_transformer", text_width=16, text_layers=1, text_heads=2,
                  tower_units=(8,), learning_rate=5e-3, embedding_learning_rate=None)
SIZES = {"text": 30}


def _batch(n=64, seed=0):
    """Token 5 at position p tags it B-PER; the sentiment is whether token 7 occurs; the answer
    is the position of token 9. Padding after a random length; the question holds token 9."""
    rng = np.random.default_rng(seed)
    text = np.zeros((n, 12), np.int64)
    tags = np.full((n, 12), -1, np.int64)
    spans = np.full((n, 2), -1, np.int64)
    for i in range(n):
        length = int(rng.integers(4, 13))
        text[i, :length] = rng.integers(10, 30, size=length)
        text[i, rng.integers(length)] = 5
        if i % 2:
            text[i, rng.integers(length)] = 7
        answer = int(rng.integers(length))
        text[i, answer] = 9
        spans[i] = answer
        tags[i, :length] = np.where(text[i, :length] == 5, 1, 0)
    question = np.zeros((n, 6), np.int64)
    question[:, :2] = [3, 9]
    inputs = {"text_xf": text, "question_xf": question}
    labels = {"sentiment": (text == 7).any(axis=1).astype(np.float32), "entities": tags,
              "answer": spans}
    masks = {"sentiment": np.ones(n, np.float32),
             "entities": (np.arange(n) % 3 != 0).astype(np.float32),  # a third untagged
             "answer": np.ones(n, np.float32)}
    return inputs, labels, masks


def test_outputs_are_probabilities_and_padding_gets_no_answer():
    network = model_lib.build_network(HP, SIZES, PROBLEM.default_tasks, PROBLEM)
    inputs, _, _ = _batch(8)
    out = network(inputs)
    assert out["sentiment"].shape == (8,)
    assert out["entities"].shape == (8, 12, 9)
    np.testing.assert_allclose(out["entities"].numpy().sum(-1), 1.0, atol=1e-5)
    span = out["answer"].numpy()
    assert span.shape == (8, 2, 12)
    np.testing.assert_allclose(span.sum(-1), 1.0, atol=1e-5)
    assert (span[inputs["text_xf"][:, None, :].repeat(2, 1) == 0] < 1e-6).all()


def test_text_losses_ignore_padding_and_untagged_examples():
    task = PROBLEM.task("entities")
    labels = tf.constant([[1, 0, -1, -1]])
    good = tf.one_hot([[1, 0, 3, 3]], 9) * 0.98 + 0.01 / 9
    # Different predictions at padding positions change nothing.
    other = tf.one_hot([[1, 0, 5, 2]], 9) * 0.98 + 0.01 / 9
    a = task_lib.per_example_loss(task, labels, good)
    b = task_lib.per_example_loss(task, labels, other)
    np.testing.assert_allclose(a.numpy(), b.numpy())
    untagged = task_lib.masked_loss(task, tf.constant([[-1, -1, -1, -1]]), other, tf.constant([0.0]))
    assert float(untagged) == 0.0
    span = PROBLEM.task("answer")
    p = tf.constant([[[0.1, 0.9, 0.0], [0.2, 0.2, 0.6]]])
    loss = task_lib.per_example_loss(span, tf.constant([[1, 2]]), p)
    np.testing.assert_allclose(loss.numpy(), [-(np.log(0.9) + np.log(0.6)) / 2], rtol=1e-5)


def test_the_shared_encoder_learns_every_task():
    model = model_lib.build_model(HP, SIZES, PROBLEM.default_tasks, PROBLEM)
    inputs, labels, masks = _batch(512)
    data = tf.data.Dataset.from_tensor_slices((inputs, labels, masks)).batch(64)
    history = model.fit(data, epochs=12, verbose=0).history
    assert history["entities_token_accuracy"][-1] > 0.97
    assert history["answer_boundary_accuracy"][-1] > 0.8
    assert history["sentiment_auc"][-1] > 0.9
    assert history["loss"][-1] < 0.3 * history["loss"][0]


@pytest.mark.parametrize("decoder", [True])
def test_the_encoder_decoder_option_builds_one_decoder_per_text_task(decoder):
    hp = ModelHParams(**{**HP.to_dict(), "text_decoder": decoder})
    network = model_lib.build_network(hp, SIZES, PROBLEM.default_tasks, PROBLEM)
    names = {layer.name for layer in network.layers}
    assert {"entities_decoder", "answer_decoder"} <= names


def test_a_text_problem_needs_the_text_model():
    with pytest.raises(ValueError, match="has text features .* use --model text_transformer"):
        model_lib.build_network(ModelHParams(), SIZES, PROBLEM.default_tasks, PROBLEM)
