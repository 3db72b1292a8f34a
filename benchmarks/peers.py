"""Peers and the ceiling of the funnel data: every task's metric between a naive predictor (0) and
the Bayes oracle (1).

On the eval split of one `mtl run` (the same rows for every model), per task:
  naive        the training split's mean of the observed labels, predicted for every row (AUC
               0.5; RMSE of the mean predictor);
  single_task  the project's model (`models.model.build_model`, default hyperparameters: same
               embeddings, shared stack and tower) trained on that one task alone;
  gbdt         scikit-learn's HistGradientBoosting on the raw features, one model per task on
               its observed training rows (ids as categorical: the most frequent ids keep their
               own category, the rest share one);
  reference    the plain TFX-template model, re-implemented here from its description: tf_keras
               functional, embeddings 16/16/8/4, history through its own vocabulary (top 5,000)
               and a 16-wide mean-pooled embedding, Dense 128-64 shared, one Dense 32 tower per
               task, no BatchNorm / Dropout / L2, watch_time regressed as watch_time / 30 with MSE
               under a softplus head, Adam 1e-3, per-output sample weights from the masks;
  default      the project's default multi-task model (`ModelHParams()`);
  zoo          every other architecture with default hyperparameters;
  oracle       the generator's own probabilities / expected watch time
               (`generate_span(..., with_truth=True)`), regenerated from the data's seed and
               joined to the eval rows by their content; never a model input.
Neural models train 1 epoch at batch 512 (the issue's budget) per seed; AUC / RMSE count
observed labels only. `position` = (metric - naive) / (oracle - naive).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchmarks.common import masked_auc, masked_rmse, mean_std
from models.spec import default_spec as _spec

# The reference's vocabulary sizes (top_k) and embedding widths, from its description.
REFERENCE_VOCAB = {"user_id": (20_000, 16), "item_id": (5_000, 16), "category": (100, 8),
                   "device": (10, 4)}
REFERENCE_HISTORY_VOCAB = 5_000
REFERENCE_HISTORY_DIM = 16
REFERENCE_WATCH_SCALE = 30.0
# Categories HistGradientBoosting can hold per feature (its max_bins, 255): the most frequent ids
# keep their own code, every other id shares the last one.
GBDT_MAX_CATEGORIES = 255
NUMERIC_KEYS = ("price", "item_ctr_7d", "user_age", "hour")
ID_KEYS = ("user_id", "item_id", "category", "device")
HISTORY_KEY = "history_item_ids"
# Which generator probability each task's oracle uses.
TRUTH_OF_TASK = {"click": "click_prob", "conversion": "conversion_prob", "like": "like_prob",
                 "watch_time": "watch_time_mean"}


# --- Pure helpers (numpy) -----------------------------------------------------------------------


def observed(labels, mask=None) -> np.ndarray:
    """Boolean rows whose label is observed: `mask` > 0, or label >= 0 without a mask."""
    if mask is not None:
        return np.asarray(mask).reshape(-1) > 0
    return np.asarray(labels, dtype=np.float64).reshape(-1) >= 0


def naive_prediction(train_labels, train_mask=None) -> float:
    """The naive predictor's constant: the mean of the observed training labels (missing ones,
    -1 or masked out, do not count)."""
    labels = np.asarray(train_labels, dtype=np.float64).reshape(-1)
    keep = observed(labels, train_mask)
    if not keep.any():
        raise ValueError("no observed training label")
    return float(labels[keep].mean())


def task_metric(kind: str, labels, predictions, mask=None) -> float:
    """AUC (binary) or RMSE (regression) over the observed rows."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    keep = observed(labels, mask).astype(np.float64)
    if kind == "binary":
        return masked_auc(labels, predictions, keep)
    if kind == "regression":
        return masked_rmse(labels, predictions, keep)
    raise ValueError(f"no metric for task kind {kind!r}")


def position(value: float, naive: float, oracle: float) -> float:
    """Where `value` lies from the naive predictor (0) to the oracle (1); the same formula for a
    higher-is-better AUC and a lower-is-better RMSE. Below 0: worse than naive."""
    if oracle == naive:
        return float("nan")
    return float((value - naive) / (oracle - naive))


def oracle_metrics(tasks, truth: dict, labels: dict, masks: dict) -> dict[str, float]:
    """Each task's metric when the generator's own probability / expected value is the score."""
    return {t.name: task_metric(t.kind, labels[t.name], truth[TRUTH_OF_TASK[t.name]],
                                masks[t.name]) for t in tasks}


def frequency_vocabulary(values, top_k: int) -> dict:
    """{value: index} of the `top_k` most frequent values (ties: the smaller value first)."""
    uniques, counts = np.unique(np.asarray(values, dtype=object).astype(str), return_counts=True)
    order = np.lexsort((uniques, -counts))[:top_k]
    return {uniques[i]: rank for rank, i in enumerate(order)}


def lookup(vocabulary: dict, values, oov: int) -> np.ndarray:
    """Indices of `values` in `vocabulary`; `oov` for values it does not hold."""
    return np.array([vocabulary.get(str(v), oov) for v in values], dtype=np.int64)


def row_keys(columns: dict) -> list[tuple]:
    """One hashable key per row from its features and labels (the join to the ground truth)."""
    n = len(columns["click"])
    price = np.asarray(columns["price"], dtype=np.float32)
    ctr = np.asarray(columns["item_ctr_7d"], dtype=np.float32)
    watch = np.asarray(columns["watch_time"], dtype=np.float32)
    return [(str(columns["user_id"][i]), str(columns["item_id"][i]), str(columns["device"][i]),
             int(columns["hour"][i]), int(columns["user_age"][i]), float(price[i]), float(ctr[i]),
             tuple(str(h) for h in columns[HISTORY_KEY][i]), int(columns["click"][i]),
             int(columns["conversion"][i]), int(columns["like"][i]), float(watch[i]))
            for i in range(n)]


def align(source_keys: list[tuple], target_keys: list[tuple]) -> np.ndarray:
    """For each target key, the index of a source row with that key; KeyError if one is absent."""
    where = {key: i for i, key in enumerate(source_keys)}
    missing = sum(1 for key in target_keys if key not in where)
    if missing:
        raise KeyError(f"{missing} of {len(target_keys)} rows are not in the generated data")
    return np.array([where[key] for key in target_keys], dtype=np.int64)


def paired(a: list[float], b: list[float]) -> dict:
    """a - b per seed, their mean ± std and the standard error of the mean difference."""
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    se = float(np.std(diffs, ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")
    return {"per_seed": [round(float(d), 4) for d in diffs], **mean_std(list(diffs)),
            "se": round(se, 4)}


# --- Data ---------------------------------------------------------------------------------------


def read_raw(pattern: str, spec: dict) -> tuple[dict, list]:
    """(columns, record batches) of a split's raw tf.Examples: numpy arrays, lists for lists."""
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(pattern))
    columns: dict[str, list] = {key: [] for key in spec}
    batches = []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8192):
        batches.append(batch)
        parsed = tf.io.parse_example(batch, spec)
        for key, value in parsed.items():
            if isinstance(value, tf.SparseTensor):
                ragged = tf.RaggedTensor.from_sparse(value).to_list()
                columns[key].extend([[v.decode() if isinstance(v, bytes) else v for v in row]
                                     for row in ragged])
            else:
                array = value.numpy().reshape(len(batch), -1)[:, 0]
                if array.dtype == object:
                    array = np.array([v.decode() for v in array], dtype=object)
                columns[key].append(array)
    out = {}
    for key, parts in columns.items():
        out[key] = parts if key == HISTORY_KEY or spec_is_sparse(spec[key]) else \
            np.concatenate(parts)
    return out, batches


def spec_is_sparse(feature) -> bool:
    import tensorflow as tf

    return isinstance(feature, tf.io.VarLenFeature)


# --- Peers --------------------------------------------------------------------------------------


def gbdt_matrix(train: dict, columns: dict) -> tuple[np.ndarray, list[bool]]:
    """Raw features for HistGradientBoosting: ids as categorical codes (vocabulary from the
    training split), numerics as they are, and the history's length."""
    parts, categorical = [], []
    for key in ID_KEYS:
        vocab = frequency_vocabulary(train[key], GBDT_MAX_CATEGORIES - 1)
        parts.append(lookup(vocab, columns[key], GBDT_MAX_CATEGORIES - 1).astype(np.float64))
        categorical.append(True)
    for key in NUMERIC_KEYS:
        parts.append(np.asarray(columns[key], dtype=np.float64))
        categorical.append(False)
    parts.append(np.array([len(h) for h in columns[HISTORY_KEY]], dtype=np.float64))
    categorical.append(False)
    return np.stack(parts, axis=1), categorical


def train_gbdt(task, seed: int, x_train, x_eval, categorical, train_labels) -> np.ndarray:
    """One HistGradientBoosting model on the task's observed training rows; eval predictions."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    labels = np.asarray(train_labels, dtype=np.float64)
    keep = labels >= 0
    common = dict(max_iter=500, learning_rate=0.1, max_leaf_nodes=31, early_stopping=True,
                  validation_fraction=0.1, n_iter_no_change=20, categorical_features=categorical,
                  random_state=seed)
    if task.kind == "binary":
        model = HistGradientBoostingClassifier(**common)
        model.fit(x_train[keep], labels[keep].astype(np.int64))
        return model.predict_proba(x_eval)[:, 1]
    model = HistGradientBoostingRegressor(**common)
    model.fit(x_train[keep], labels[keep])
    return model.predict(x_eval)


def reference_inputs(train: dict, columns: dict) -> dict[str, np.ndarray]:
    """The reference's preprocessing, from the training split: vocabularies with one OOV bucket,
    the history through its own vocabulary (id + 1, 0 = padding, 20 long), z-scored numerics."""
    out = {}
    for key, (top_k, _) in REFERENCE_VOCAB.items():
        vocab = frequency_vocabulary(train[key], top_k)
        out[key] = lookup(vocab, columns[key], len(vocab))
    flat = [h for row in train[HISTORY_KEY] for h in row]
    vocab = frequency_vocabulary(flat, REFERENCE_HISTORY_VOCAB)
    history = np.zeros((len(columns[HISTORY_KEY]), 20), dtype=np.int64)
    for i, row in enumerate(columns[HISTORY_KEY]):
        ids = lookup(vocab, row[:20], len(vocab)) + 1
        history[i, :len(ids)] = ids
    out[HISTORY_KEY] = history
    for key in NUMERIC_KEYS:
        ref = np.asarray(train[key], dtype=np.float64)
        value = np.asarray(columns[key], dtype=np.float64)
        out[key] = ((value - ref.mean()) / (ref.std() or 1.0)).astype(np.float32)
    return out


def reference_sizes(train: dict) -> dict[str, int]:
    sizes = {key: len(frequency_vocabulary(train[key], top_k)) + 1
             for key, (top_k, _) in REFERENCE_VOCAB.items()}
    flat = [h for row in train[HISTORY_KEY] for h in row]
    sizes[HISTORY_KEY] = len(frequency_vocabulary(flat, REFERENCE_HISTORY_VOCAB)) + 2
    return sizes


def build_reference(tasks, sizes: dict[str, int], learning_rate: float = 1e-3):
    """The plain TFX-template model (tf_keras functional), from its description."""
    import tensorflow as tf
    import tf_keras

    layers = tf_keras.layers
    inputs, parts = {}, []
    for key, (_, dim) in REFERENCE_VOCAB.items():
        inputs[key] = tf_keras.Input(shape=(), dtype="int64", name=key)
        parts.append(layers.Embedding(sizes[key], dim)(inputs[key]))
    inputs[HISTORY_KEY] = tf_keras.Input(shape=(20,), dtype="int64", name=HISTORY_KEY)
    embedded = layers.Embedding(sizes[HISTORY_KEY], REFERENCE_HISTORY_DIM)(inputs[HISTORY_KEY])

    def mean_pool(args):
        vectors, ids = args
        mask = tf.cast(ids > 0, tf.float32)[:, :, None]
        return tf.reduce_sum(vectors * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)

    parts.append(layers.Lambda(mean_pool)([embedded, inputs[HISTORY_KEY]]))
    for key in NUMERIC_KEYS:
        inputs[key] = tf_keras.Input(shape=(), dtype="float32", name=key)
        parts.append(layers.Reshape((1,))(inputs[key]))
    shared = layers.Dense(64, activation="relu")(
        layers.Dense(128, activation="relu")(layers.Concatenate()(parts)))
    outputs, losses = {}, {}
    for task in tasks:
        tower = layers.Dense(32, activation="relu")(shared)
        activation = "sigmoid" if task.kind == "binary" else "softplus"
        outputs[task.name] = layers.Dense(1, activation=activation, name=task.name)(tower)
        losses[task.name] = "binary_crossentropy" if task.kind == "binary" else "mse"
    model = tf_keras.Model(inputs, outputs)
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate), loss=losses)
    return model


def train_reference(tasks, seed: int, train: dict, eval_columns: dict, epochs: int,
                    batch_size: int) -> dict[str, np.ndarray]:
    """Trains the reference on the raw training split; eval predictions in label units."""
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    model = build_reference(tasks, reference_sizes(train))
    x = reference_inputs(train, train)
    labels, weights = {}, {}
    for task in tasks:
        raw = np.asarray(train[task.label_key], dtype=np.float32)
        scale = REFERENCE_WATCH_SCALE if task.kind == "regression" else 1.0
        labels[task.name] = np.maximum(raw, 0.0) / scale
        weights[task.name] = (raw >= 0).astype(np.float32)
    data = (tf.data.Dataset.from_tensor_slices((x, labels, weights))
            .shuffle(len(labels[tasks[0].name]), seed=seed).batch(batch_size))
    model.fit(data, epochs=epochs, verbose=0)
    pred = model.predict(reference_inputs(train, eval_columns), batch_size=4096, verbose=0)
    return {t.name: np.asarray(pred[t.name]).reshape(-1)
            * (REFERENCE_WATCH_SCALE if t.kind == "regression" else 1.0) for t in tasks}


def parse_weight_trial(text: str) -> tuple[str, float]:
    """`TASK=W` -> (task, weight): a trial of the default model with that task's loss weight."""
    task, sep, weight = text.partition("=")
    if not sep or not task:
        raise ValueError(f"expected TASK=WEIGHT, got {text!r}")
    return task, float(weight)


def trial_tasks(tasks, weights: dict[str, float] | None = None,
                only: tuple[str, ...] | None = None) -> tuple:
    """`tasks` with some static loss weights replaced, or only the named ones (in their order)."""
    import dataclasses

    names = {t.name for t in tasks}
    unknown = sorted((set(weights or {}) | set(only or ())) - names)
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; tasks: {sorted(names)}")
    out = tuple(dataclasses.replace(t, loss_weight=(weights or {}).get(t.name, t.loss_weight))
                for t in tasks)
    return tuple(t for t in out if only is None or t.name in only)


def run_peers(examples: int, seeds: int, home: str | None, data_seed: int,
              zoo: tuple[str, ...] | None = None, epochs: int = 1, batch_size: int = 512,
              weight_trials: tuple[tuple[str, float], ...] = (),
              task_trials: tuple[tuple[str, ...], ...] = ()) -> dict:
    """Every peer on the same eval split, per seed; positions between naive and oracle.

    `weight_trials` ((task, weight), ...) and `task_trials` ((task, ...), ...) add rows of the
    default model with one task's static loss weight changed, or trained on those tasks only.
    """

    import keras
    import tensorflow as tf
    import tensorflow_transform as tft

    from benchmarks import common
    from benchmarks.common import latest_artifact_dir
    from models import trainer
    from models.hparams import MODEL_NAMES, ModelHParams
    from models.model import build_model
    from pipeline.datasets import generator

    started = time.time()
    home_path, pipeline_seconds = common.transformed_home(home, examples, ["--seed", str(data_seed)],
                                                          "mtl_peers_")
    tasks = _spec().default_tasks
    tft_output = tft.TFTransformOutput(
        str(latest_artifact_dir(home_path, "Transform", "transform_graph")))
    transformed = latest_artifact_dir(home_path, "Transform", "transformed_examples")
    raw_examples = latest_artifact_dir(home_path, "ImportExampleGen", "examples")
    train_files = [str(transformed / "Split-train" / "*")]
    sizes = trainer.vocab_sizes(tft_output)

    # Raw splits (the rows ExampleGen wrote), the eval split also through the real Transform.
    spec = dict(tft_output.raw_feature_spec())
    spec = {k: v for k, v in spec.items()
            if k in _spec().raw_feature_keys or k in {t.label_key for t in tasks}}
    train, _ = read_raw(str(raw_examples / "Split-train" / "*"), spec)
    evals, batches = read_raw(str(raw_examples / "Split-eval" / "*"), spec)
    transformed_eval = [tft_output.transform_raw_features(tf.io.parse_example(b, spec))
                        for b in batches]
    eval_inputs = {k: np.concatenate([np.asarray(t[k]) for t in transformed_eval])
                   for k in _spec().model_input_keys()}
    eval_labels = {t.name: np.asarray(evals[t.label_key], dtype=np.float64) for t in tasks}
    eval_masks = {t.name: (eval_labels[t.name] >= 0).astype(np.float64) for t in tasks}

    # The oracle: the span regenerated with its ground truth, joined to the eval rows.
    spans = sorted(int(p.name.split("-")[1]) for p in (home_path / "data").glob("span-*"))
    if len(spans) != 1:
        raise ValueError(f"the oracle needs a home with one span; {home_path} has {spans}")
    world = generator.World(data_seed)
    span_size = sum(1 for _ in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(str(home_path / "data" / f"span-{spans[0]}" / "*"))),
        compression_type="GZIP"))
    generated, truth = generator.generate_span(world, span_size, data_seed, spans[0],
                                               with_truth=True)
    try:
        index = align(row_keys(generated), row_keys(evals))
    except KeyError as err:
        raise ValueError(f"the eval rows are not the data of seed {data_seed} "
                         f"(pass the seed the home's data was generated with): {err}") from None
    eval_truth = {k: np.asarray(v)[index] for k, v in truth.items()}
    oracle = oracle_metrics(tasks, eval_truth, eval_labels, eval_masks)
    naive_value = {t.name: naive_prediction(train[t.label_key]) for t in tasks}
    naive = {t.name: task_metric(t.kind, eval_labels[t.name],
                                 np.full(len(eval_labels[t.name]), naive_value[t.name]),
                                 eval_masks[t.name]) for t in tasks}

    def scores(predictions: dict[str, np.ndarray], only=None) -> dict[str, float]:
        return {t.name: task_metric(t.kind, eval_labels[t.name], predictions[t.name],
                                    eval_masks[t.name])
                for t in tasks if only is None or t.name in only}

    def train_project(hp: ModelHParams, model_tasks) -> dict[str, float]:
        keras.utils.set_random_seed(hp.seed)
        model = build_model(hp, sizes, model_tasks)
        data = trainer.input_fn(train_files, None, tft_output, hp.batch_size, seed=hp.seed,
                                tasks=model_tasks)
        model.fit(data, epochs=hp.epochs, verbose=0)
        pred = model.network.predict(eval_inputs, batch_size=4096, verbose=0)
        return scores({k: np.asarray(v).reshape(-1) for k, v in pred.items()},
                      {t.name for t in model_tasks})

    def note(name: str, seed: int, figures: dict, begin: float) -> None:
        text = ", ".join(f"{k} {v:.4f}" for k, v in figures.items())
        print(f"peers: {name} seed {seed}: {text} ({time.time() - begin:.1f} s)",
              file=sys.stderr, flush=True)

    default_hp = ModelHParams(epochs=epochs, batch_size=batch_size)

    def hp_default(seed: int) -> ModelHParams:
        return ModelHParams(epochs=epochs, batch_size=batch_size, seed=seed)

    zoo = tuple(zoo if zoo is not None else (m for m in MODEL_NAMES if m != default_hp.model))
    x_train, categorical = gbdt_matrix(train, train)
    x_eval, _ = gbdt_matrix(train, evals)
    runs: dict[str, list[dict[str, float]]] = {}
    seconds: dict[str, float] = {}

    def record(name: str, seed: int, figures: dict, begin: float) -> None:
        runs.setdefault(name, []).append(figures)
        seconds[name] = seconds.get(name, 0.0) + time.time() - begin
        note(name, seed, figures, begin)

    for seed in range(seeds):
        begin = time.time()
        figures = {}
        for task in tasks:
            figures.update(scores({task.name: train_gbdt(task, seed, x_train, x_eval, categorical,
                                                         train[task.label_key])}, {task.name}))
        record("gbdt", seed, figures, begin)
        begin = time.time()
        record("reference", seed, scores(train_reference(tasks, seed, train, evals, epochs,
                                                         batch_size)), begin)
        begin = time.time()
        figures = {}
        for task in tasks:
            hp = ModelHParams(epochs=epochs, batch_size=batch_size, seed=seed)
            figures.update(train_project(hp, (task,)))
        record("single_task", seed, figures, begin)
        begin = time.time()
        hp = ModelHParams(epochs=epochs, batch_size=batch_size, seed=seed)
        record("default", seed, train_project(hp, tasks), begin)
        for name in zoo:
            begin = time.time()
            hp = ModelHParams(model=name, epochs=epochs, batch_size=batch_size, seed=seed)
            record(name, seed, train_project(hp, tasks), begin)
        for task_name, weight in weight_trials:
            begin = time.time()
            record(f"default_{task_name}_weight_{weight:g}", seed,
                   train_project(hp_default(seed), trial_tasks(tasks, {task_name: weight})),
                   begin)
        for only in task_trials:
            begin = time.time()
            record(f"default_only_{'+'.join(only)}", seed,
                   train_project(hp_default(seed), trial_tasks(tasks, only=only)), begin)

    def summary(results: list[dict[str, float]]) -> dict:
        out = {}
        present = [t for t in tasks if t.name in results[0]]
        for t in present:
            values = [r[t.name] for r in results]
            places = [position(v, naive[t.name], oracle[t.name]) for v in values]
            out[t.name] = {**mean_std(values), "position": mean_std(places)["mean"],
                           "position_std": mean_std(places)["std"]}
        out["mean_position"] = round(float(np.mean([out[t.name]["position"] for t in present])),
                                     4)
        return out

    peers = {name: summary(results) for name, results in runs.items()}
    best_zoo = max(zoo, key=lambda name: peers[name]["mean_position"]) if zoo else None
    claim = {}
    for t in tasks:
        sign = 1.0 if t.higher_is_better else -1.0
        diff = paired([sign * r[t.name] for r in runs["default"]],
                      [sign * r[t.name] for r in runs["single_task"]])
        verdict = ("beats" if diff["mean"] > 2 * diff["se"] else
                   "loses" if diff["mean"] < -2 * diff["se"] else "matches")
        claim[t.name] = {"default_minus_single_task": diff, "verdict": verdict,
                         "coverage": round(float(eval_masks[t.name].mean()), 4)}
    return {
        "benchmark": "funnel_peers",
        "examples": span_size, "data_seed": data_seed, "home": str(home_path),
        "train_examples": int(len(train["click"])), "eval_examples": int(len(evals["click"])),
        "eval_observed": {t.name: int(eval_masks[t.name].sum()) for t in tasks},
        "epochs": epochs, "batch_size": batch_size, "seeds": seeds,
        "default_hparams": default_hp.to_dict(),
        "metric": "AUC (click, conversion, like) / RMSE in s (watch_time) on the eval split over "
                  "observed labels; position = (metric - naive) / (oracle - naive)",
        "naive": {t.name: {"prediction": round(naive_value[t.name], 4),
                           "metric": round(naive[t.name], 4)} for t in tasks},
        "oracle": {k: round(v, 4) for k, v in oracle.items()},
        "peers": peers,
        "best_zoo": best_zoo,
        "multi_task_claim": claim,
        "per_seed": {name: [{k: round(v, 4) for k, v in r.items()} for r in results]
                     for name, results in runs.items()},
        "train_seconds": {k: round(v / max(seeds, 1), 1) for k, v in seconds.items()},
        "pipeline_seconds": round(pipeline_seconds, 1),
        "seconds": round(time.time() - started, 1),
    }
