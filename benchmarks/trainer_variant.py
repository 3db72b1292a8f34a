"""The Trainer on a finished home's Transform output, with hyperparameter overrides: one JSON line.

Runs `models.trainer.train_and_export` (the Trainer's own code: `epochs: auto` with its
validation slice, or `--epochs N`) on the newest Transform output of `--home`, keeps the trained
network instead of exporting it, and scores the eval split the way the Evaluator gates: AUC of
each binary task and RMSE of each regression task over the observed labels, the RMSE also as a
ratio to the mean predictor's on the same labels. Prints the figures, the seconds and
history.json's "training" entry (epochs run, best epoch, why it stopped) with the per-epoch
validation losses.

    python -m benchmarks.trainer_variant --home HOME [--set KEY=JSON ...] [--seed 42]

e.g. `--set model='"ple"' --set weighting='"pcgrad"' --set embedding_l2=0.1`. For the default
problem only (the embedded data's home).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from benchmarks.common import emit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", required=True, help="a home `mtl run` has completed in")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a ModelHParams override, the value as JSON (repeatable)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)

    import tensorflow as tf
    import tensorflow_transform as tft

    from benchmarks.quality import masked_auc, masked_rmse
    from benchmarks.train_throughput import latest_artifact_dir
    from models import trainer
    from models.hparams import ModelHParams
    from models.spec import default_spec

    hp = ModelHParams.from_dict({**overrides, "seed": args.seed})
    home = Path(args.home)
    graph = latest_artifact_dir(home, "Transform", "transform_graph")
    examples = latest_artifact_dir(home, "Transform", "transformed_examples")
    scratch = Path(tempfile.mkdtemp(prefix="trainer_variant_"))
    fn_args = types.SimpleNamespace(
        custom_config={"hparams": hp.to_dict()}, transform_output=str(graph),
        train_files=[str(examples / "Split-train" / "*")],
        eval_files=[str(examples / "Split-eval" / "*")], data_accessor=None, eval_steps=None,
        base_model=None, model_run_dir=str(scratch / "run"),
        serving_model_dir=str(scratch / "model" / "serving"))
    kept = {}

    def keep(network, *_, **__):
        kept["network"] = network

    # Scored in memory: no SavedModel, no warm-start files.
    trainer.export_serving_model = keep
    trainer.save_warm_start = lambda *_, **__: None
    began = time.perf_counter()
    trainer.train_and_export(fn_args, tf.distribute.get_strategy())
    seconds = time.perf_counter() - began

    tasks = default_spec().default_tasks
    output = tft.TFTransformOutput(str(graph))
    predictions = {t.name: [] for t in tasks}
    labels = {t.name: [] for t in tasks}
    masks = {t.name: [] for t in tasks}
    for inputs, y, m in trainer.input_fn(fn_args.eval_files, None, output, 4096,
                                          shuffle=False, tasks=tasks):
        out = kept["network"](inputs, training=False)
        for t in tasks:
            predictions[t.name].append(np.asarray(out[t.name]))
            labels[t.name].append(np.asarray(y[t.name]))
            masks[t.name].append(np.asarray(m[t.name]))
    figures: dict = {"benchmark": "trainer_variant", "overrides": overrides, "seed": args.seed,
                     "train_seconds": round(seconds, 1)}
    for t in tasks:
        p, y, m = (np.concatenate(d[t.name]) for d in (predictions, labels, masks))
        if t.kind == "binary":
            figures[f"{t.name}_auc"] = round(masked_auc(y, p, m), 4)
        elif t.kind == "regression":
            rmse = masked_rmse(y, p, m)
            observed = y[m > 0]
            figures[f"{t.name}_rmse"] = round(rmse, 3)
            figures[f"{t.name}_naive_ratio"] = round(rmse / float(np.std(observed)), 4)
    history = json.loads((scratch / "run" / "history.json").read_text())
    figures["training"] = history["training"]
    figures["val_losses"] = {k: [round(v, 4) for v in values] for k, values in history.items()
                             if k.startswith("val_") and k.endswith(("_loss", "objective"))}
    emit(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
