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
    trainer.save_warm_start(base, trainer.network_spec(hp, VOCAB), str(serving))
    inputs, _, _ = fake_batch()
    expected = base(inputs)["click"].numpy()

    # Training-only changes (weighting, learning rate, epochs) keep the same network.
    same = dataclasses.replace(hp, weighting="pcgrad", learning_rate=0.1, epochs=5)
    fresh = build_network(same, VOCAB, features.TASKS, features.SPEC)
    assert not np.allclose(fresh(inputs)["click"].numpy(), expected)
    message = trainer.maybe_warm_start(fresh, trainer.network_spec(same, VOCAB), str(serving))
    assert message.startswith("warm start")
    np.testing.assert_allclose(fresh(inputs)["click"].numpy(), expected, rtol=1e-6)

    other = dataclasses.replace(hp, num_experts=3)
    message = trainer.maybe_warm_start(build_network(other, VOCAB, features.TASKS, features.SPEC),
                                       trainer.network_spec(other, VOCAB), str(serving))
    assert "another architecture" in message
    bigger_vocab = {**VOCAB, "item_id": 9}
    assert "cold start" in trainer.maybe_warm_start(
        build_network(hp, bigger_vocab, features.TASKS, features.SPEC),
        trainer.network_spec(hp, bigger_vocab), str(serving))
    assert "no base model" in trainer.maybe_warm_start(base, {}, None)
