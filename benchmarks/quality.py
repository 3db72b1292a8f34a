"""Quality benchmarks, each printed as one JSON line: the MMoE synthetic experiment, the funnel.

`--benchmark synthetic`: Ma et al., "Modeling Task Relationships in Multi-task Learning with
Multi-gate Mixture-of-Experts", KDD 2018, section 4: two regression tasks whose correlation is
controlled by p. With orthogonal unit vectors u1, u2 in R^d and scale c,
    w1 = c * u1,   w2 = c * (p * u1 + sqrt(1 - p^2) * u2),
    y_k = w_k . x + sum_i sin(alpha_i * w_k . x + beta_i) + noise,   x ~ N(0, I_d),
with alpha_i, beta_i ~ N(0, 1) shared by both tasks. We train single-task networks (one per
task), shared_bottom, mmoe and ple (the layers of `models.layers`) with the same budget (Adam
1e-3, batch 128, at most `--epochs` epochs with early stopping on a validation set of the same
generator) and report the held-out MSE (mean of the two tasks) for p in {0, 0.5, 0.9, 1.0}
over several seeds, and the final training MSE (what the paper's Figure 4 plots).
The paper finds MMoE's advantage over shared-bottom grows as the correlation falls;
`mmoe_advantage_grows_as_correlation_falls` says whether this run reproduces it (the advantage
at p = 0 is larger than at p = 1).

`--benchmark funnel`: the embedded dataset (`pipeline.datasets.generator`), transformed once by a real
`mtl run` (the project's `preprocessing_fn`), then trained with the project's own model and
input code: the same shared_bottom model with masked labels (the project) vs. missing labels
filled with 0, over several seeds, then every architecture with static weighting and every
weighting with shared_bottom; per-task AUC / RMSE on the eval split over observed labels only.

    python -m benchmarks.quality --benchmark synthetic [--seeds 3] [--train 10000]
    python -m benchmarks.quality --benchmark funnel [--examples 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

from benchmarks import common
from models.spec import default_spec as _spec

if TYPE_CHECKING:
    import keras

CORRELATIONS = (0.0, 0.5, 0.9, 1.0)
MODELS = ("single_task", "shared_bottom", "mmoe", "ple")


def synthetic(p: float, n: int, seed: int, d: int = 100, c: float = 1.0, m: int = 10,
              noise: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x [n, d], y1 [n], y2 [n]) of the paper's generator; the task weights depend on seed."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(d, 2)))
    u1, u2 = u[:, 0], u[:, 1]
    w1 = c * u1
    w2 = c * (p * u1 + np.sqrt(max(0.0, 1.0 - p * p)) * u2)
    alpha, beta = rng.normal(size=m), rng.normal(size=m)
    x = rng.normal(size=(n, d)).astype(np.float32)

    def target(w):
        z = x @ w
        return z + np.sin(np.outer(z, alpha) + beta).sum(axis=1) + rng.normal(0, noise, n)

    return x, target(w1).astype(np.float32), target(w2).astype(np.float32)


def build(name: str, d: int, seed: int) -> keras.Model:
    """A two-output regression network of the given kind, about the same size for each."""
    # Lazy: Keras loads TensorFlow, after `main` quieted its native logs.
    import keras

    from models import layers

    keras.utils.set_random_seed(seed)
    x = keras.Input((d,))
    if name == "shared_bottom":
        h = layers.MLP([64])(x)
        hidden = [h, h]
    elif name == "mmoe":
        hidden = layers.MixtureOfExperts(2, num_experts=4, expert_units=[16])(x)
    elif name == "ple":
        h = [x, x, x]
        h = layers.CGCLevel(2, task_experts=1, shared_experts=2, expert_units=[16])(h)
        hidden = layers.CGCLevel(2, task_experts=1, shared_experts=2, expert_units=[16],
                                 last=True)(h)
    elif name == "single_task":
        hidden = [layers.MLP([64])(x), layers.MLP([64])(x)]
    else:
        raise ValueError(f"unknown benchmark model {name!r}")
    outputs = [keras.layers.Dense(1, name=f"y{k + 1}")(layers.MLP([8])(hidden[k]))
               for k in range(2)]
    model = keras.Model(x, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=["mse", "mse"])
    return model


def run_synthetic(seeds: int, epochs: int, train: int, test: int, validation: int = 2000,
                  patience: int = 6) -> dict:
    """Trains every model of MODELS for every p and seed; returns the figures.

    Each run fits on `train` examples for at most `epochs` epochs, stopping when the MSE on a
    separate `validation` set of the same generator has not improved for `patience` epochs
    and keeping the best epoch's weights (`patience=0`: no early stopping, all epochs). The
    held-out MSE is measured on `test` further examples. The paper plots the *training* loss
    (its Figure 4: how well each model fits the tasks), so the final training MSE is reported
    too.
    """
    import keras

    started = time.time()
    table: dict[str, dict[str, float]] = {}
    train_table: dict[str, dict[str, float]] = {}
    per_seed: dict[str, dict[str, list[float]]] = {}
    stopped: dict[str, list[int]] = {name: [] for name in MODELS}
    for p in CORRELATIONS:
        losses = {name: [] for name in MODELS}
        train_losses = {name: [] for name in MODELS}
        for seed in range(seeds):
            x, y1, y2 = synthetic(p, train + validation + test, seed)
            scale = [float(np.std(y1[:train])), float(np.std(y2[:train]))]
            y1, y2 = y1 / scale[0], y2 / scale[1]
            fit_part, val_part = slice(0, train), slice(train, train + validation)
            test_part = slice(train + validation, None)
            for name in MODELS:
                model = build(name, x.shape[1], seed)
                callbacks = []
                if patience > 0:
                    callbacks.append(keras.callbacks.EarlyStopping(
                        monitor="val_loss", patience=patience, restore_best_weights=True))
                history = model.fit(
                    x[fit_part], [y1[fit_part], y2[fit_part]], batch_size=128, epochs=epochs,
                    validation_data=(x[val_part], [y1[val_part], y2[val_part]]),
                    callbacks=callbacks, verbose=0)
                stopped[name].append(len(history.history["loss"]))

                def mse(part, model=model, x=x, y1=y1, y2=y2):
                    pred = model.predict(x[part], batch_size=1024, verbose=0)
                    return float(np.mean([np.mean((pred[k][:, 0] - y[part]) ** 2)
                                          for k, y in enumerate((y1, y2))]))

                losses[name].append(mse(test_part))
                train_losses[name].append(mse(fit_part))
        table[str(p)] = {name: round(float(np.mean(v)), 4) for name, v in losses.items()}
        table[str(p)].update({f"{name}_std": round(float(np.std(v)), 4)
                              for name, v in losses.items()})
        train_table[str(p)] = {name: round(float(np.mean(v)), 4)
                               for name, v in train_losses.items()}
        per_seed[str(p)] = {name: [round(v, 4) for v in values]
                            for name, values in losses.items()}
    advantage = {p: round(row["shared_bottom"] - row["mmoe"], 4) for p, row in table.items()}
    train_advantage = {p: round(row["shared_bottom"] - row["mmoe"], 4)
                       for p, row in train_table.items()}
    return {
        "benchmark": "mmoe_synthetic",
        "metric": "held-out MSE (mean of 2 tasks, labels scaled to unit variance)",
        "seeds": seeds, "max_epochs": epochs, "patience": patience, "train": train,
        "validation": validation, "test": test,
        "by_correlation": table,
        "mmoe_advantage_over_shared_bottom": advantage,
        "mmoe_advantage_grows_as_correlation_falls": bool(advantage["0.0"] > advantage["1.0"]),
        "train_mse_by_correlation": train_table,
        "train_mse_mmoe_advantage": train_advantage,
        "held_out_mse_per_seed": per_seed,
        "epochs_trained_mean": {name: round(float(np.mean(v)), 1) for name, v in stopped.items()},
        "seconds": round(time.time() - started, 1),
    }


# --- The funnel benchmark: the embedded dataset, the project's own model and input path -------


def zero_fill_masks(masks: dict, tasks) -> dict:
    """The naive alternative to masking: every label of `tasks` counts, missing ones as 0.

    Transform writes `<task>_label` = 0 where the label is missing and `<task>_weight` = 0
    there; setting the weight to 1 everywhere trains on the missing labels as if they were 0
    (a conversion "missing because there was no click" becomes "no conversion").
    """
    import tensorflow as tf

    filled = dict(masks)
    for name in tasks:
        filled[name] = tf.ones_like(filled[name])
    return filled


def run_funnel(examples: int, seeds: int, epochs: int, grid_seeds: int,
               home: str | None = None) -> dict:
    """Masked vs. zero-filled labels, then every architecture and weighting, on the funnel data.

    One `mtl run` (data generation, ExampleGen, the real Transform with
    `models.preprocessing.preprocessing_fn`; 1 training step, its model is not used) fills a
    scratch home; every configuration then trains from the same transformed train split with
    the Trainer's own code (`models.trainer.input_fn`, `vocab_sizes`,
    `models.model.build_model`) and is evaluated on the eval split, counting only observed
    labels (the Transform masks) in every metric.
    """
    import keras
    import tensorflow as tf
    import tensorflow_transform as tft

    from models import trainer
    from models.hparams import MODEL_NAMES, WEIGHTING_NAMES, ModelHParams
    from models.model import build_model

    started = time.time()
    home_path, pipeline_seconds = common.transformed_home(home, examples, [],
                                                          "mtl_quality_")
    tft_output = tft.TFTransformOutput(
        str(common.latest_artifact_dir(home_path, "Transform", "transform_graph")))
    transformed = common.latest_artifact_dir(home_path, "Transform", "transformed_examples")
    train_files = [str(transformed / "Split-train" / "*")]
    eval_files = [str(transformed / "Split-eval" / "*")]
    sizes = trainer.vocab_sizes(tft_output)

    # The eval split, once, in memory: inputs for prediction, labels and the true masks.
    eval_batches = list(trainer.input_fn(eval_files, None, tft_output, 4096, shuffle=False))
    eval_inputs = tf.nest.map_structure(lambda *xs: tf.concat(xs, 0),
                                        *[b[0] for b in eval_batches])
    eval_labels = {t.name: np.concatenate([b[1][t.name].numpy() for b in eval_batches])
                   for t in _spec().default_tasks}
    eval_masks = {t.name: np.concatenate([b[2][t.name].numpy() for b in eval_batches])
                  for t in _spec().default_tasks}
    partially_observed = tuple(t.name for t in _spec().default_tasks if eval_masks[t.name].min() < 1)
    train_examples = sum(1 for _ in tf.data.Dataset.list_files(train_files[0], shuffle=False)
                         .interleave(lambda f: tf.data.TFRecordDataset(
                             f, compression_type="GZIP")))

    def evaluate(model) -> dict[str, float]:
        pred = model.network.predict(eval_inputs, batch_size=4096, verbose=0)
        pred = {k: np.asarray(v).reshape(-1) for k, v in pred.items()}
        out = {}
        for t in _spec().default_tasks:
            if t.kind == "binary":
                out[f"{t.name}_auc"] = common.masked_auc(eval_labels[t.name], pred[t.name],
                                                  eval_masks[t.name])
            else:
                out[f"{t.name}_rmse"] = common.masked_rmse(eval_labels[t.name], pred[t.name],
                                                    eval_masks[t.name])
        observed = eval_masks["conversion"] > 0
        cvr = np.clip(pred["conversion"], 1e-7, 1 - 1e-7)
        y = eval_labels["conversion"]
        # Post-click conversion: calibration and log loss on the observed (clicked) rows.
        out["conversion_logloss"] = float(-np.mean(
            y[observed] * np.log(cvr[observed]) + (1 - y[observed]) * np.log(1 - cvr[observed])))
        out["conversion_mean_prediction"] = float(cvr[observed].mean())
        # Click-and-convert over every impression (click is always observed; conversion is
        # 0 wherever there was no click): scored by pCTR * pCVR, and by the conversion head alone.
        ctcvr = eval_labels["click"] * np.where(observed, y, 0.0)
        out["ctcvr_auc"] = common.masked_auc(ctcvr, pred["click"] * pred["conversion"])
        out["ctcvr_auc_conversion_head"] = common.masked_auc(ctcvr, pred["conversion"])
        return out

    def train(hp: ModelHParams, fill: tuple[str, ...]) -> dict[str, float]:
        keras.utils.set_random_seed(hp.seed)
        model = build_model(hp, sizes)
        data = trainer.input_fn(train_files, None, tft_output, hp.batch_size, seed=hp.seed)
        if fill:
            data = data.map(lambda x, labels, masks: (x, labels, zero_fill_masks(masks, fill)))
        begin = time.time()
        model.fit(data, epochs=hp.epochs, verbose=0)
        seconds = time.time() - begin
        figures = evaluate(model)
        figures["train_seconds"] = seconds
        print(f"funnel: {hp.model}/{hp.weighting} seed {hp.seed} fill {list(fill)}: "
              f"conversion AUC {figures['conversion_auc']:.4f}, {seconds:.1f} s",
              file=sys.stderr, flush=True)
        return figures

    # (i) masked (the project) vs. (ii) conversion zero-filled vs. (iii) every partially
    # observed task zero-filled; the same shared_bottom model and seeds.
    variants = {"masked": (), "zero_filled_conversion": ("conversion",),
                "zero_filled_all": partially_observed}
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for seed in range(seeds):
        for name, fill in variants.items():
            runs[name].append(train(ModelHParams(epochs=epochs, seed=seed), fill))
    comparison = {}
    for name, results in runs.items():
        comparison[name] = {key: common.mean_std([r[key] for r in results]) for key in results[0]}
    differences = [m["conversion_auc"] - z["conversion_auc"]
                   for m, z in zip(runs["masked"], runs["zero_filled_conversion"])]

    # Every architecture with static weighting, every weighting with shared_bottom.
    configs = [(m, "static") for m in MODEL_NAMES] + [
        ("shared_bottom", w) for w in WEIGHTING_NAMES if w != "static"]
    grid = {}
    for model_name, weighting in configs:
        results = []
        for seed in range(grid_seeds):
            if (model_name, weighting) == ("shared_bottom", "static") and seed < seeds:
                results.append(runs["masked"][seed])
            else:
                results.append(train(ModelHParams(model=model_name, weighting=weighting,
                                                  epochs=epochs, seed=seed), ()))
        keys = [f"{t.name}_{'auc' if t.kind == 'binary' else 'rmse'}" for t in _spec().default_tasks]
        row = {}
        for key in [*keys, "ctcvr_auc", "train_seconds"]:
            stats = common.mean_std([r[key] for r in results])
            row[key], row[f"{key}_std"] = stats["mean"], stats["std"]
        grid[f"{model_name}/{weighting}"] = row
    hp = ModelHParams()
    return {
        "benchmark": "funnel_quality",
        "examples": examples, "home": str(home_path), "train_examples": train_examples,
        "eval_examples": int(len(eval_labels["click"])),
        "eval_observed": {k: int(v.sum()) for k, v in eval_masks.items()},
        "eval_conversion_rate_of_clicks": round(float(
            eval_labels["conversion"][eval_masks["conversion"] > 0].mean()), 4),
        "epochs": epochs, "batch_size": hp.batch_size, "learning_rate": hp.learning_rate,
        "seeds": seeds, "grid_seeds": grid_seeds,
        "partially_observed_tasks": list(partially_observed),
        "metric": "AUC / RMSE on the eval split over observed labels only; conversion_auc on "
                  "clicked rows (post-click pCVR); ctcvr_auc over all impressions",
        "masked_vs_zero_filled": comparison,
        "conversion_auc_masked_minus_zero_filled": {
            "per_seed": [round(d, 4) for d in differences], **common.mean_std(differences)},
        "grid": grid,
        "pipeline_seconds": round(pipeline_seconds, 1),
        "seconds": round(time.time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--benchmark", choices=("synthetic", "funnel", "peers", "all"),
                        default="all")
    synthetic_args = parser.add_argument_group("synthetic (MMoE paper)")
    synthetic_args.add_argument("--seeds", type=int, default=6)
    synthetic_args.add_argument("--epochs", type=int, default=50,
                                help="at most this many epochs (early stopping on validation)")
    synthetic_args.add_argument("--patience", type=int, default=6,
                                help="early-stopping patience in epochs; 0 trains every epoch")
    synthetic_args.add_argument("--train", type=int, default=10_000)
    synthetic_args.add_argument("--validation", type=int, default=2000)
    synthetic_args.add_argument("--test", type=int, default=2000)
    funnel_args = parser.add_argument_group("funnel (the embedded dataset)")
    funnel_args.add_argument("--examples", type=int, default=100_000,
                             help="examples generated for the funnel benchmark's run")
    funnel_args.add_argument("--funnel-seeds", type=int, default=5,
                             help="training seeds of the masked vs. zero-filled comparison")
    funnel_args.add_argument("--funnel-epochs", type=int, default=2)
    funnel_args.add_argument("--grid-seeds", type=int, default=3,
                             help="training seeds of every architecture and weighting")
    funnel_args.add_argument("--home", default=None,
                             help="reuse this finished `mtl run` home (its Transform output) "
                                  "instead of running the pipeline into a scratch home (which "
                                  "is kept; its path is the JSON's `home`)")
    peers_args = parser.add_argument_group("peers and the ceiling (the embedded dataset)")
    peers_args.add_argument("--peer-seeds", type=int, default=3,
                            help="training seeds of every peer (mean ± std)")
    peers_args.add_argument("--data-seed", type=int, default=42,
                            help="the seed the data was generated with (the oracle regenerates "
                                 "its ground truth); also the seed of the scratch run")
    peers_args.add_argument("--zoo", nargs="*", default=None,
                            help="zoo architectures besides the default (default: all)")
    peers_args.add_argument("--weight-trial", action="append", default=[], metavar="TASK=W",
                            help="also train the default model with TASK's static loss weight "
                                 "set to W (repeatable)")
    peers_args.add_argument("--tasks-trial", action="append", default=[], metavar="T1,T2",
                            help="also train the default model on these tasks only (repeatable)")
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    if args.benchmark in ("synthetic", "all"):
        print(json.dumps(run_synthetic(args.seeds, args.epochs, args.train, args.test,
                                       args.validation, args.patience)), flush=True)
    if args.benchmark in ("funnel", "all"):
        print(json.dumps(run_funnel(args.examples, args.funnel_seeds, args.funnel_epochs,
                                    args.grid_seeds, args.home)), flush=True)
    if args.benchmark in ("peers", "all"):
        from benchmarks import peers

        print(json.dumps(peers.run_peers(
            args.examples, args.peer_seeds, args.home, args.data_seed, args.zoo,
            weight_trials=tuple(peers.parse_weight_trial(t) for t in args.weight_trial),
            task_trials=tuple(tuple(t.split(",")) for t in args.tasks_trial))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
