"""Text quality benchmark: the multi-task text_transformer under each task sampling against one
single-task model per task, printed as one JSON line.

One `mtl run --spec text` (the packaged text problem: its generated data, ExampleGen split on
`split_key`, the real Transform with its tokenizer; one training step, whose model is not used)
fills a scratch home; every configuration then trains from the same transformed train split
with the Trainer's own code (`models.trainer.input_fn` / `sampled_input_fn`, `vocab_sizes`,
`models.model.build_model`) at the same budget, the spec's hyperparameters (batch size,
learning rate, encoder size) and the same number of epochs and steps per epoch:

  natural            every task, batches as the data comes (one pass per epoch);
  proportional_t1    every task, examples drawn task by task with p ~ n_t (temperature 1);
  proportional_t2    the same with p ~ n_t ** (1 / 2) (flatter);
  uniform            every task drawn equally often;
  single_<task>      the same architecture built for that task alone (a one-task tuple),
                     trained on the examples labelled for it (its stream, shuffled and
                     repeated for the same number of steps).

Every model is evaluated on the eval split (held-out names and templates included) with the
gate's own metric cores (`pipeline.evaluation.text_metrics`): entity F1 (`entity_counts`,
`precision_recall_f1`: conlleval chunks, micro-averaged), span F1 and exact match
(`span_scores`: SQuAD v1.1 normalisation, the best span within `max_answer_tokens`), and for
sentiment the ROC AUC over its labelled examples (exact, Mann-Whitney; TFMA's gate AUC is its
10,000-threshold approximation). Each configuration runs with seeds 0, 1, 2: mean ± std.

    python -m benchmarks.text_quality [--examples 20000] [--epochs 1] [--home H]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from benchmarks import common

MULTI_TASK = {"natural": ("natural", 1.0), "proportional_t1": ("proportional", 1.0),
              "proportional_t2": ("proportional", 2.0), "uniform": ("uniform", 1.0)}


def text_home(home: str | None, examples: int, seed: int = 42):
    """(home, seconds): `home` as given, or a scratch home after one `mtl run --spec text`."""
    return common.transformed_home(home, examples, ["--spec", "text", "--seed", str(seed)],
                                   "mtl_text_quality_")


def load_split(files, tft_output, spec) -> dict[str, np.ndarray]:
    """Every transformed feature of a split, in file order, as numpy arrays."""
    import tensorflow as tf

    patterns = [files] if isinstance(files, str) else list(files)
    paths = sorted({path for pattern in patterns for path in tf.io.gfile.glob(pattern)})
    feature_spec = tft_output.transformed_feature_spec()
    data = tf.data.TFRecordDataset(paths, compression_type="GZIP" if paths[0].endswith(".gz")
                                   else "").batch(4096).map(
        lambda r: tf.io.parse_example(r, feature_spec))
    batches = list(data.as_numpy_iterator())
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def evaluate(predictions: dict, split: dict[str, np.ndarray], tasks) -> dict[str, float]:
    """The gate's metrics of each task over its labelled eval examples."""
    from models.spec import label_name, weight_name
    from pipeline.evaluation import text_metrics as tm

    out = {}
    for task in tasks:
        labels, weights = split[label_name(task)], split[weight_name(task)].reshape(-1)
        pred = np.asarray(predictions[task.name])
        if task.kind == "binary":
            out[f"{task.name}_auc"] = common.masked_auc(labels, pred, weights)
        elif task.kind == "sequence_labeling":
            totals = np.zeros(3)
            for i in np.flatnonzero(weights > 0):
                gold = labels[i].reshape(-1)
                keep = gold != tm.IGNORED
                guess = np.argmax(pred[i], axis=-1)
                totals += tm.entity_counts([task.tags[t] for t in gold[keep]],
                                           [task.tags[t] for t in guess[keep]])
            precision, recall, f1 = tm.precision_recall_f1(*totals)
            out[f"{task.name}_entity_f1"] = f1
            out[f"{task.name}_entity_precision"] = precision
            out[f"{task.name}_entity_recall"] = recall
        elif task.kind == "span":
            tokens = split[f"{task.text}_tokens"]
            scores = [tm.span_scores(labels[i], pred[i], tokens[i], task.max_answer_tokens)
                      for i in np.flatnonzero(weights > 0)]
            scores = [s for s in scores if s is not None]
            out[f"{task.name}_span_f1"] = float(np.mean([s[0] for s in scores]))
            out[f"{task.name}_exact_match"] = float(np.mean([s[1] for s in scores]))
        else:
            raise ValueError(f"task {task.name!r}: no benchmark metric for kind {task.kind!r}")
    return out


def run(examples: int, epochs: int, seeds: list[int], home: str | None,
        configs: list[str] | None = None, steps_per_epoch: int | None = None) -> dict:
    import keras
    import tensorflow_transform as tft

    from models import trainer
    from models.hparams import ModelHParams
    from models.model import build_model
    from models.spec import resolve_spec

    started = time.time()
    home_path, pipeline_seconds = text_home(home, examples)
    spec = resolve_spec("text")
    tasks = spec.default_tasks
    tft_output = tft.TFTransformOutput(
        str(common.latest_artifact_dir(home_path, "Transform", "transform_graph")))
    transformed = common.latest_artifact_dir(home_path, "Transform", "transformed_examples")
    train_files = [str(transformed / "Split-train" / "*")]
    eval_files = [str(transformed / "Split-eval" / "*")]
    sizes = trainer.vocab_sizes(tft_output, spec)
    base = ModelHParams.from_dict(dict(spec.hparams) | {"epochs": epochs})
    train_examples = trainer.count_records(train_files)
    steps = steps_per_epoch or math.ceil(train_examples / base.batch_size)
    train_labelled = trainer.task_counts(train_files, tft_output, tasks)
    split = load_split(eval_files, tft_output, spec)
    inputs = {k: split[k] for k in spec.model_input_keys()}

    plans = {name: (tasks, sampling, temperature)
             for name, (sampling, temperature) in MULTI_TASK.items()}
    plans.update({f"single_{t.name}": ((t,), "uniform", 1.0) for t in tasks})
    if configs:
        unknown = sorted(set(configs) - set(plans))
        if unknown:
            raise SystemExit(f"unknown configurations {unknown}; known: {sorted(plans)}")
        plans = {k: v for k, v in plans.items() if k in configs}

    results: dict[str, list[dict]] = {name: [] for name in plans}
    for seed in seeds:
        for name, (chosen, sampling, temperature) in plans.items():
            hp = ModelHParams.from_dict(base.to_dict() | {
                "seed": seed, "task_sampling": sampling, "task_temperature": temperature})
            keras.utils.set_random_seed(seed)
            model = build_model(hp, sizes, chosen, spec)
            if name == "natural":
                data = trainer.input_fn(train_files, None, tft_output, hp.batch_size, seed=seed,
                                        tasks=chosen, spec=spec)
                if steps_per_epoch:  # as the Trainer caps an epoch
                    data = data.repeat().take(steps_per_epoch)
            else:
                # One task alone, or the tasks mixed: `steps` batches drawn task by task.
                data = trainer.sampled_input_fn(train_files, tft_output, hp.batch_size, steps,
                                                hp, chosen, spec)
            begin = time.time()
            model.fit(data, epochs=hp.epochs, verbose=0)
            seconds = time.time() - begin
            predictions = model.network.predict(inputs, batch_size=512, verbose=0)
            figures = evaluate(predictions, split, chosen)
            figures["train_seconds"] = seconds
            results[name].append(figures)
            print(f"text_quality: {name} seed {seed}: "
                  + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()),
                  file=sys.stderr, flush=True)
            keras.backend.clear_session()

    table = {name: {key: common.mean_std([r[key] for r in runs]) for key in runs[0]}
             for name, runs in results.items()}
    gate_keys = {"binary": "auc", "sequence_labeling": "entity_f1", "span": "span_f1"}
    best = {}
    for task in tasks:
        key = f"{task.name}_{gate_keys[task.kind]}"
        rows = {name: row[key] for name, row in table.items() if key in row}
        if not rows:
            continue
        ranked = sorted(rows, key=lambda n: rows[n]["mean"], reverse=True)
        entry = {"metric": key, "best": ranked[0], "mean": rows[ranked[0]]["mean"],
                 "std": rows[ranked[0]]["std"]}
        if len(ranked) > 1:
            runner_up = rows[ranked[1]]
            entry.update(runner_up=ranked[1],
                         margin=round(rows[ranked[0]]["mean"] - runner_up["mean"], 4),
                         larger_std=max(rows[ranked[0]]["std"], runner_up["std"]))
        best[task.name] = entry
    return {
        "benchmark": "text_quality",
        "problem": spec.name, "examples": examples, "home": str(home_path),
        "train_examples": train_examples,
        "train_labelled": {k: int(v) for k, v in train_labelled.items()},
        "eval_examples": int(len(split[spec.model_input_keys()[0]])),
        "eval_labelled": {t.name: int(split[f"{t.name}_weight"].sum()) for t in tasks},
        "budget": {"epochs": epochs, "steps_per_epoch": steps, "batch_size": base.batch_size,
                   "learning_rate": base.learning_rate, "text_width": base.text_width,
                   "text_layers": base.text_layers, "text_heads": base.text_heads},
        "seeds": seeds,
        "metric": "eval split, each task over its labelled examples: sentiment ROC AUC, entity "
                  "F1 (conlleval chunks, micro), answer span F1 / exact match (SQuAD v1.1)",
        "results": table,
        "best_per_task": best,
        "pipeline_seconds": round(pipeline_seconds, 1),
        "seconds": round(time.time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=20_000,
                        help="examples generated for the pipeline run")
    parser.add_argument("--epochs", type=int, default=1,
                        help="training epochs of every configuration (the packaged spec: 3)")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="batches per epoch (default: one pass over the train split)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="*", default=None,
                        help="only these configurations (default: all; "
                             f"{', '.join(MULTI_TASK)}, single_<task>)")
    parser.add_argument("--home", default=None,
                        help="reuse this finished `mtl run --spec text` home (its Transform "
                             "output) instead of running the pipeline into a scratch home")
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    print(json.dumps(run(args.examples, args.epochs, args.seeds, args.home, args.configs,
                         args.steps_per_epoch)),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
