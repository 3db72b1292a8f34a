"""Model-quality ablation on one Transform output: one factor at a time, several seeds, one JSON line.

Every variant trains the project's model (`models.model.build_model`, the Trainer's own input
path `models.trainer.input_fn`) from the same transformed train split of a finished `mtl run`
home with the same budget (1 epoch, batch 512 unless told otherwise), then predicts the eval
split with the network the serving signature wraps and scores it the way the Evaluator gates:
AUC over the rows whose label is observed (the Transform's `<task>_weight`), watch_time RMSE in
seconds over the observed rows. Each variant runs for `--seeds` seeds; the JSON gives the mean
and (population) standard deviation per metric, plus the watch_time bias (mean prediction minus
mean label) and the constant predictor's RMSE (the label's standard deviation on those rows).

Variants are `ModelHParams` overrides (plus equal task loss weights, which live on the task
list) relative to two anchors, so each row changes exactly one thing:
  `before_*`  the previous defaults (BatchNorm in the towers, dropout 0.1, L2 1e-5, Adam 2e-3,
              history sharing the item table, regression head starting at softplus(0) * scale,
              loss weights 1 / 1 / 0.5 / 0.5) with one factor changed;
  `default_*` the current defaults with one choice changed (reverted, or another option).
`--zoo` trains every architecture of `MODEL_NAMES` with the current defaults.

`--reference-module PATH` also trains a plain-TFX-template model as a measuring stick: the
module file's `_build_keras_model()` (a tf_keras functional model compiled with its own losses)
fed the same transformed features, renamed to the module's inputs, with the watch_time label
divided by 30 and the masks as per-output sample weights, as its own `run_fn` does.

    python -m benchmarks.ablation --home HOME [--seeds 3] [--variants NAME ...]
    python -m benchmarks.ablation --home HOME --zoo --variants none
    python -m benchmarks.ablation --home HOME --variants none \\
        --reference-module path/to/plain_tfx/module.py
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from models.spec import default_spec as _spec

# The previous defaults, spelled out so the `before_*` rows do not move when the defaults do.
BEFORE: dict = dict(tower_batch_norm=True, head_bias_init=False, own_history_embedding=False,
                    dot_interactions=False, embedding_scale=1.0, dropout=0.1, l2=1e-5,
                    learning_rate=2e-3, embedding_learning_rate=None, id_biases=False,
                    embedding_l2=0.0)
# The previous static loss weights (click, conversion, watch_time, like).
BEFORE_WEIGHTS: dict[str, float] = {"click": 1.0, "conversion": 1.0, "watch_time": 0.5,
                                    "like": 0.5}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One row: `overrides` on `ModelHParams()`; `loss_weights` replaces the tasks' static
    weights ({} keeps the task list's own)."""

    name: str
    what: str
    overrides: dict
    loss_weights: dict = dataclasses.field(default_factory=dict)


def _before(name: str, what: str, loss_weights: dict | None = None, **changes) -> Variant:
    return Variant(name, what, {**BEFORE, **changes},
                   dict(BEFORE_WEIGHTS if loss_weights is None else loss_weights))


EQUAL = {"click": 1.0, "conversion": 1.0, "watch_time": 1.0, "like": 1.0}

VARIANTS: tuple[Variant, ...] = (
    _before("before", "previous defaults"),
    _before("before_no_tower_bn", "towers without BatchNorm", tower_batch_norm=False),
    _before("before_head_bias_init", "regression head starts at scale (30 s)",
            head_bias_init=True),
    _before("before_own_history", "history with an embedding table of its own",
            own_history_embedding=True),
    _before("before_no_dropout", "dropout 0", dropout=0.0),
    _before("before_no_l2", "L2 0", l2=0.0),
    _before("before_lr_1e-3", "Adam 1e-3", learning_rate=1e-3),
    _before("before_equal_weights", "loss weights 1 / 1 / 1 / 1", loss_weights=EQUAL),
    _before("before_reference_recipe",
            "every reference choice: no BN / dropout / L2, Adam 1e-3, own history, equal weights",
            loss_weights=EQUAL, tower_batch_norm=False, dropout=0.0, l2=0.0,
            learning_rate=1e-3, own_history_embedding=True),
    Variant("default", "current defaults", {}),
    Variant("default_tower_bn", "current defaults + BatchNorm in the towers",
            {"tower_batch_norm": True}),
    Variant("default_no_dot", "current defaults without the dot interactions",
            {"dot_interactions": False}),
    Variant("default_one_lr", "current defaults, one Adam 2e-3 for the embeddings too",
            {"embedding_learning_rate": None}),
    Variant("default_embedding_scale_1", "current defaults with embeddings 16/16/8/4",
            {"embedding_scale": 1.0}),
    Variant("default_head_bias_init", "current defaults + head starting at 30 s",
            {"head_bias_init": True}),
    Variant("default_own_history", "current defaults + history table of its own",
            {"own_history_embedding": True}),
    Variant("default_no_dropout", "current defaults, dropout 0", {"dropout": 0.0}),
    Variant("default_no_l2", "current defaults, L2 0", {"l2": 0.0}),
    Variant("default_equal_weights", "current defaults, loss weights 1 / 1 / 1 / 1", {},
            dict(EQUAL)),
)


class Data:
    """The transformed splits of a finished home: train files, the eval split in memory."""

    def __init__(self, home: Path):
        import tensorflow as tf
        import tensorflow_transform as tft

        from models import trainer

        self.tft_output = tft.TFTransformOutput(
            str(common.latest_artifact_dir(home, "Transform", "transform_graph")))
        transformed = common.latest_artifact_dir(home, "Transform", "transformed_examples")
        self.train_files = [str(transformed / "Split-train" / "*")]
        self.eval_files = [str(transformed / "Split-eval" / "*")]
        self.sizes = trainer.vocab_sizes(self.tft_output)
        batches = list(trainer.input_fn(self.eval_files, None, self.tft_output, 4096,
                                        shuffle=False))
        self.eval_inputs = tf.nest.map_structure(lambda *xs: tf.concat(xs, 0),
                                                 *[b[0] for b in batches])
        self.labels = {t.name: np.concatenate([b[1][t.name].numpy() for b in batches])
                       for t in _spec().default_tasks}
        self.masks = {t.name: np.concatenate([b[2][t.name].numpy() for b in batches])
                      for t in _spec().default_tasks}

    def train(self, batch_size: int, seed: int):
        from models import trainer

        return trainer.input_fn(self.train_files, None, self.tft_output, batch_size, seed=seed)

    def score(self, predictions: dict) -> dict[str, float]:
        """The Evaluator's gating metrics on the eval split, observed labels only."""
        out = {}
        for t in _spec().default_tasks:
            pred = np.asarray(predictions[t.name], dtype=np.float64).reshape(-1)
            if t.kind == "binary":
                out[f"{t.name}_auc"] = common.masked_auc(self.labels[t.name], pred, self.masks[t.name])
            else:
                keep = self.masks[t.name] > 0
                out[f"{t.name}_rmse"] = common.masked_rmse(self.labels[t.name], pred, self.masks[t.name])
                out[f"{t.name}_bias"] = float(pred[keep].mean() - self.labels[t.name][keep].mean())
        return out


def train_project(data: Data, hp, loss_weights: dict) -> dict[str, float]:
    """The project's model for `hp`, trained for hp.epochs on the train split, scored."""
    import keras

    from models.model import build_model

    tasks = tuple(dataclasses.replace(t, loss_weight=loss_weights.get(t.name, t.loss_weight))
                  for t in _spec().default_tasks)
    keras.utils.set_random_seed(hp.seed)
    model = build_model(hp, data.sizes, tasks)
    begin = time.time()
    model.fit(data.train(hp.batch_size, hp.seed), epochs=hp.epochs, verbose=0)
    seconds = time.time() - begin
    predictions = model.network.predict(data.eval_inputs, batch_size=4096, verbose=0)
    figures = data.score(predictions)
    figures["train_seconds"] = seconds
    return figures


def train_reference(data: Data, module_path: str, seed: int, epochs: int,
                    batch_size: int) -> dict[str, float]:
    """The plain-TFX-template module's model on the same transformed features (see the module
    docstring): its inputs are [batch, 1] scalars and the [batch, 20] history, its watch_time
    output is label / 30, its partially observed outputs take the masks as sample weights."""
    import tensorflow as tf

    from models.spec import transformed_name

    spec = importlib.util.spec_from_file_location("plain_tfx_reference", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.keras.utils.set_random_seed(seed)
    scale = float(module.WATCH_TIME_SCALE)
    history = transformed_name(_spec().sequences[0].name)

    def reference_inputs(inputs):
        return {k: (v if k == history else tf.reshape(v, [-1, 1])) for k, v in inputs.items()}

    def to_reference(inputs, labels, masks):
        targets = {name: tf.reshape(tf.cast(v, tf.float32), [-1, 1])
                   for name, v in labels.items()}
        targets["watch_time"] = targets["watch_time"] / scale
        weights = {name: masks[name] for name in module.PARTIAL_LABEL_KEYS}
        return reference_inputs(inputs), targets, weights

    model = module._build_keras_model()
    begin = time.time()
    model.fit(data.train(batch_size, seed).map(to_reference), epochs=epochs, verbose=0)
    seconds = time.time() - begin
    predictions = model.predict(reference_inputs(data.eval_inputs), batch_size=4096, verbose=0)
    predictions = {k: np.asarray(v).reshape(-1) for k, v in predictions.items()}
    predictions["watch_time"] = predictions["watch_time"] * scale
    figures = data.score(predictions)
    figures["train_seconds"] = seconds
    return figures


def summarize(results: list[dict]) -> dict:
    row = {}
    for key in results[0]:
        stats = common.mean_std([r[key] for r in results])
        row[key], row[f"{key}_std"] = stats["mean"], stats["std"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", required=True,
                        help="a finished `mtl run` home whose Transform output is used")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--variants", nargs="*", default=None,
                        help="variant names to run (default: all; `none`: no variant)")
    parser.add_argument("--custom", nargs="*", default=[], metavar="NAME:KEY=VALUE,...",
                        help="extra rows: ModelHParams overrides on the current defaults, "
                             "values as JSON (e.g. fast:learning_rate=0.003,dropout=0)")
    parser.add_argument("--zoo", action="store_true",
                        help="also every architecture of MODEL_NAMES with the current defaults")
    parser.add_argument("--reference-module", default=None,
                        help="a plain-TFX-template module.py to train as a measuring stick")
    args = parser.parse_args(argv)
    common.quiet_tensorflow()

    from models.hparams import TABULAR_MODEL_NAMES as MODEL_NAMES
    from models.hparams import ModelHParams

    known = {v.name: v for v in VARIANTS}
    names = list(known) if args.variants is None else [n for n in args.variants if n != "none"]
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(known)}")
    for text in args.custom:
        name, _, assignments = text.partition(":")
        overrides = {}
        # Commas inside a value (a list) do not split: only a comma before `key=` does.
        for assignment in filter(None, re.split(r",(?=\w+=)", assignments)):
            key, _, value = assignment.partition("=")
            overrides[key] = json.loads(value)
        ModelHParams.from_dict(overrides)  # an unknown key or bad name stops here
        known[name] = Variant(name, f"custom: {assignments}", overrides)
        names.append(name)
    started = time.time()
    data = Data(Path(args.home))
    seeds = list(range(args.seeds))
    budget = dict(epochs=args.epochs, batch_size=args.batch_size)

    def note(label: str, seed: int, figures: dict) -> None:
        shown = {k: round(v, 4) for k, v in figures.items() if not k.endswith("seconds")}
        print(f"ablation: {label} seed {seed}: {shown} ({figures['train_seconds']:.1f} s)",
              file=sys.stderr, flush=True)

    rows = {}
    for name in names:
        variant = known[name]
        results = []
        for seed in seeds:
            hp = ModelHParams(**{**variant.overrides, **budget, "seed": seed})
            results.append(train_project(data, hp, variant.loss_weights))
            note(name, seed, results[-1])
        rows[name] = {"what": variant.what, "overrides": variant.overrides,
                      "loss_weights": variant.loss_weights or "task list", **summarize(results)}
    zoo = {}
    if args.zoo:
        for architecture in MODEL_NAMES:
            results = []
            for seed in seeds:
                hp = ModelHParams(model=architecture, **budget, seed=seed)
                results.append(train_project(data, hp, {}))
                note(architecture, seed, results[-1])
            zoo[architecture] = summarize(results)
    reference = None
    if args.reference_module:
        results = []
        for seed in seeds:
            results.append(train_reference(data, args.reference_module, seed, **budget))
            note("reference", seed, results[-1])
        reference = summarize(results)

    watch = data.masks["watch_time"] > 0
    figures = {
        "benchmark": "model_ablation",
        "home": str(args.home),
        "eval_examples": int(len(data.labels["click"])),
        "eval_observed": {k: int(v.sum()) for k, v in data.masks.items()},
        "watch_time_label_std": round(float(data.labels["watch_time"][watch].std()), 3),
        "watch_time_label_mean": round(float(data.labels["watch_time"][watch].mean()), 3),
        "seeds": len(seeds), **budget,
        "metric": "eval split, observed labels only: AUC; watch_time RMSE and bias in seconds",
        "defaults": ModelHParams().to_dict(),
        "variants": rows,
        "zoo": zoo,
        "reference": reference,
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
