"""Warm start: weights are reused only when the architecture and vocabularies match."""

import dataclasses

import numpy as np

from models import trainer
from models.hparams import ModelHParams
from models.model import build_network
from tests.support import default_problem as features
from tests.support.model_batches import SMALL, VOCAB, fake_batch


def test_warm_start_loads_matching_weights_and_refuses_another_architecture(tmp_path):
    hp = ModelHParams(model="mmoe", **SMALL)
    base = build_network(hp, VOCAB, features.TASKS, features.SPEC)
    serving = tmp_path / "model" / "Format-Serving"
    serving.mkdir(parents=True)
    trainer.save_warm_start(base, trainer.network_spec(hp, VOCAB, None, features.SPEC), str(serving))
    inputs, _, _ = fake_batch()
    expected = base(inputs)["click"].numpy()

    # Training-only changes (weighting, learning rate, epochs) keep the same network.
    same = dataclasses.replace(hp, weighting="pcgrad", learning_rate=0.1, epochs=5)
    fresh = build_network(same, VOCAB, features.TASKS, features.SPEC)
    assert not np.allclose(fresh(inputs)["click"].numpy(), expected)
    message = trainer.maybe_warm_start(
        fresh, trainer.network_spec(same, VOCAB, None, features.SPEC), str(serving))
    assert message.startswith("warm start")
    np.testing.assert_allclose(fresh(inputs)["click"].numpy(), expected, rtol=1e-6)

    other = dataclasses.replace(hp, num_experts=3)
    message = trainer.maybe_warm_start(build_network(other, VOCAB, features.TASKS, features.SPEC),
                                       trainer.network_spec(other, VOCAB, None, features.SPEC), str(serving))
    assert "another architecture" in message
    bigger_vocab = {**VOCAB, "item_id": 9}
    assert "cold start" in trainer.maybe_warm_start(
        build_network(hp, bigger_vocab, features.TASKS, features.SPEC),
        trainer.network_spec(hp, bigger_vocab, None, features.SPEC), str(serving))
    assert "no base model" in trainer.maybe_warm_start(base, {}, None)


def test_remap_rows_moves_each_token_to_its_new_index():
    old = np.arange(6, dtype=np.float32)[:, None] * 10  # pad, a, b, c, oov0, oov1
    fresh = -np.ones((6, 1), dtype=np.float32)           # pad, c, d, a, oov0, oov1
    out = trainer.remap_rows(old, fresh, ["a", "b", "c"], ["c", "d", "a"])
    # c (old row 3) -> row 1, d is new (fresh), a (old row 1) -> row 3, OOV rows as they were.
    assert out[:, 0].tolist() == [0, 30, -1, 10, 40, 50]


def test_warm_start_follows_tokens_when_the_vocabulary_is_reordered(tmp_path):
    hp = ModelHParams(**SMALL)
    base = build_network(hp, VOCAB, features.TASKS, features.SPEC)
    serving = tmp_path / "model" / "Format-Serving"
    serving.mkdir(parents=True)
    key = "user_id_xf"
    size = VOCAB["user_id"]
    tokens = [f"u{i}" for i in range(size - 2)]
    trainer.save_warm_start(base, trainer.network_spec(hp, VOCAB, None, features.SPEC),
                            str(serving), {key: tokens})
    table = next(w for w in base.weights if w.path.endswith(f"/{key}_embedding/embeddings"))
    before = np.asarray(table.numpy())

    fresh = build_network(hp, VOCAB, features.TASKS, features.SPEC)
    reordered = tokens[::-1]
    message = trainer.maybe_warm_start(
        fresh, trainer.network_spec(hp, VOCAB, None, features.SPEC), str(serving),
        {key: reordered})
    # The user's embedding table and its per-id bias table (one per id feature) follow.
    biases = [w for w in base.weights if w.path.endswith(f"/{key}_bias/embeddings")]
    assert message.startswith("warm start") and f"{1 + len(biases)} id tables follow" in message
    after = np.asarray(next(w for w in fresh.weights if w.path == table.path).numpy())
    n = len(tokens)
    np.testing.assert_array_equal(after[1:n + 1], before[1:n + 1][::-1])
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[n + 1:], before[n + 1:])
    # Every other weight is loaded as it was.
    for old, new in zip(base.weights, fresh.weights):
        if new.path != table.path and new.path not in {b.path for b in biases}:
            np.testing.assert_array_equal(np.asarray(old.numpy()), np.asarray(new.numpy()))
    # A larger vocabulary is no longer a cold start: its new tokens keep their fresh rows.
    bigger = {**VOCAB, "user_id": size + 1}
    grown = build_network(hp, bigger, features.TASKS, features.SPEC)
    message = trainer.maybe_warm_start(
        grown, trainer.network_spec(hp, bigger, None, features.SPEC), str(serving),
        {key: [*tokens, "new"]})
    assert message.startswith("warm start"), message
    # Another architecture still is.
    other = dataclasses.replace(hp, bottom_units=(4,))
    assert "another architecture" in trainer.maybe_warm_start(
        build_network(other, VOCAB, features.TASKS, features.SPEC),
        trainer.network_spec(other, VOCAB, None, features.SPEC), str(serving), {key: tokens})
