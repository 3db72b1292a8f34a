"""Small, fast pipeline configurations shared by the e2e tests."""

from __future__ import annotations

# Small data cannot reach the production bounds in the default spec; e2e tests gate on these
# so that they test the mechanics, not the data size. like is LOOSENED to 0.4: a 5,000-example
# eval split holds ~200 observed like labels, whose AUC has a standard error of ~0.04, and the
# default model lands at 0.49-0.53 there (0.63 at 100,000 examples); its naive margin follows
# (small_data_gates: -0.1).
SMALL_DATA_THRESHOLDS = {"click": 0.55, "conversion": 0.55, "watch_time": 80.0, "like": 0.4}
SMALL_EXAMPLES = 5000
# The naive-baseline gate (pipeline.evaluation.gates) stays ON in every small-data run, loosened
# only where small data cannot pass it:
# - watch_time: RMSE at most 1.5 x the mean predictor's (production: 0.95). LOOSENED: the
#   default model reaches 0.86 x on the default 100,000-example run, but a few thousand
#   examples do not get it under 0.95 (2,000 examples, 1 epoch: 28.11 s against the mean
#   predictor's 29.22 s on 130 labels, 0.96 x; 5,000 examples, 3 epochs: 1.01 x on 302
#   labels); a head that predicts a constant 100 s (tests/e2e/test_release_gate.py: 2.05 x)
#   still fails.
# - binary tasks: AUC above 0.5 by at most the default margin, and never by more than the
#   test's own (already loosened) absolute bound: a 2,000-example eval split holds ~90 like
#   labels, whose AUC is noise of several points either side of 0.5.
# - multiclass (engagement_level): accuracy at least the majority-class share - 0.05
#   (production: + 0.01). LOOSENED: 3 epochs on 5,000 examples leave the softmax head below
#   the majority class (accuracy 0.3908 against a majority share of 0.4023 on 261 labels,
#   where an accuracy's standard error is 0.03): the old bound, accuracy >= 0.36 ("above a
#   uniform guess"), blessed a head the majority class beats.
SMALL_DATA_NAIVE_RATIO = 1.5
SMALL_DATA_MULTICLASS_MARGIN = -0.05


def small_data_gates(thresholds: dict[str, float]) -> dict[str, dict]:
    """The naive-baseline gate overrides matching small-data absolute `thresholds`."""
    from pipeline.evaluation.gates import DEFAULT_NAIVE_MARGIN
    from tests.support.default_problem import ALL_TASKS

    gates = {}
    for task in ALL_TASKS:
        if task.kind == "regression":
            gates[task.name] = {"naive_ratio": SMALL_DATA_NAIVE_RATIO}
        elif task.kind == "binary" and task.name in thresholds:
            gates[task.name] = {"naive_margin": round(min(DEFAULT_NAIVE_MARGIN,
                                                          thresholds[task.name] - 0.5), 6)}
        elif task.kind == "multiclass" and task.name in thresholds:
            gates[task.name] = {"naive_margin": SMALL_DATA_MULTICLASS_MARGIN}
    return gates


def naive_flags(gates: dict[str, dict]) -> list[str]:
    """`small_data_gates` as `mtl run --naive TASK=VALUE` flags."""
    flags = []
    for task, fields in gates.items():
        for value in fields.values():
            flags += ["--naive", f"{task}={value:g}"]
    return flags


def small_hparams(**changes):
    """Hyperparameters for several epochs over a few thousand examples.

    The embedding step of 2e-2 (`embedding_learning_rate`) was tuned for one epoch over
    100,000 examples (docs/results/model-quality.md); three epochs over 4,000 training rows let it
    memorise the ids (like AUC 0.49 on 204 labels, seed 7), so these runs train every variable
    with the dense step instead (like 0.53). One-epoch small runs keep the defaults.
    """
    from models.hparams import ModelHParams

    return ModelHParams(**{"epochs": 3, "batch_size": 128, "embedding_learning_rate": None,
                           **changes})


def small_config(root, **changes):
    """A config for a fast run on `SMALL_EXAMPLES` generated examples under `root`."""
    from pipeline.core.config import PipelineConfig

    hparams = changes.pop("hparams", None) or small_hparams()
    thresholds = changes.pop("thresholds", dict(SMALL_DATA_THRESHOLDS))
    gates = small_data_gates(thresholds)
    for task, fields in changes.pop("gates", {}).items():
        gates[task] = {**gates.get(task, {}), **fields}
    return PipelineConfig(
        root=str(root),
        examples=changes.pop("examples", SMALL_EXAMPLES),
        seed=changes.pop("seed", 7),
        hparams=hparams,
        thresholds=thresholds,
        gates=gates,
        **changes,
    )
