"""The TFX Trainer's module: the input pipeline and `run_fn` (training, then export).

The model is Keras 3 (the TensorFlow 2.16 default): its custom train step (masked per-task
losses, loss weighting) trained about 4x faster than the tf-keras (TF_USE_LEGACY_KERAS=1)
equivalent in a trial, and `models.export` saves it with `tf.saved_model.save`, which works
with this stack; TFMA and tf.Transform keep using tf-keras internally.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from models import cluster, distribute, early_stopping, preprocessing, search_space, validation
from models import progress as progress_lib
from models.distribute import make_strategy
from models.export import export_serving_model
from models.hparams import ModelHParams
from models.model import build_model, table_keys
from models.spec import ProblemSpec, Task, default_spec, label_name, weight_name


def vocab_sizes(tft_output: tft.TFTransformOutput, spec: ProblemSpec | None = None
                ) -> dict[str, int]:
    """Size of each embedding table's id space: a vocabulary plus its OOV buckets (plus its
    missing id, when an optional feature looks ids up in it), or a bucketized feature's
    buckets."""
    spec = spec or default_spec()
    sizes = {}
    for name in table_keys(spec):
        feature = spec.feature(name)
        if feature.kind == "numeric":
            sizes[name] = feature.buckets
        else:
            sizes[name] = (tft_output.vocabulary_size_by_name(preprocessing.vocabulary_name(name))
                           + feature.oov_buckets + int(spec.has_missing_id(name)))
    return sizes


def split_features(batch: dict, tasks: tuple[Task, ...] | None = None,
                   spec: ProblemSpec | None = None) -> tuple[dict, dict, dict]:
    """(model inputs, labels by task, masks by task) from a batch of transformed features."""
    spec = spec or default_spec()
    tasks = spec.default_tasks if tasks is None else tasks
    missing = sorted(label_name(t) for t in tasks if label_name(t) not in batch)
    if missing:
        raise ValueError(f"the transformed examples have no {missing}: the Transform ran without "
                         f"these tasks (tasks asked for: {[t.name for t in tasks]})")
    inputs = {key: batch[key] for key in spec.model_input_keys()}
    labels = {t.name: batch[label_name(t)] for t in tasks}
    masks = {t.name: batch[weight_name(t)] for t in tasks}
    return inputs, labels, masks


# Records held by the example-level shuffle buffer (tfx_bsl's TFXIO default, kept).
SHUFFLE_BUFFER = 10_000


def _list_files(file_pattern) -> list[str]:
    """The files matched by one pattern or a list of patterns, sorted (a stable order)."""
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files = sorted({f for pattern in patterns for f in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"no transformed examples match {patterns}")
    return files


# Which records of the files `input_fn` reads: all, all but the validation slice, or the slice.
ALL, FIT, VALIDATION = "all", "fit", "validation"


def input_fn(file_pattern, data_accessor, tft_output: tft.TFTransformOutput,
             batch_size: int, seed: int | None = None, shuffle: bool = True,
             tasks: tuple[Task, ...] | None = None,
             spec: ProblemSpec | None = None, part: str = ALL,
             validation_fraction: float = validation.VALIDATION_FRACTION,
             cache: bool = False) -> tf.data.Dataset:
    """One epoch of batches of (inputs, labels, masks) from transformed TFRecords.

    `part`: ALL the records, FIT (all but the validation slice, `models.validation`) or
    VALIDATION (the slice alone). `cache` keeps the selected records in memory after the
    first pass (for a validation slice read every epoch).

    Reads Transform's materialized tf.Examples (gzipped TFRecords) with parallel interleave
    across files, shuffles records, batches, then parses each *batch* with one
    `tf.io.parse_example` against the transformed feature spec on parallel threads and
    prefetches. tfx_bsl's `TensorFlowDataset` (what `data_accessor.tf_dataset_factory` gives)
    parses batches on a single thread and renames features in another map; on 2 cores this
    path measured faster (benchmarks/train_throughput.py). `data_accessor` stays in the
    signature, as TFX's `fn_args` provides it, but is not needed for tf.Example TFRecords.
    """
    del data_accessor
    files = _list_files(file_pattern)
    compression = _compression(files)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
        cycle_length=min(len(files), 4),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    dataset = _select(dataset, part, validation_fraction)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed)
    feature_spec = tft_output.transformed_feature_spec()
    problem = spec or default_spec()
    dataset = dataset.batch(batch_size).map(
        lambda records: split_features(tf.io.parse_example(records, feature_spec), tasks,
                                       problem),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _select(records: tf.data.Dataset, part: str, fraction: float) -> tf.data.Dataset:
    if part == ALL:
        return records
    if part not in (FIT, VALIDATION):
        raise ValueError(f"unknown part {part!r}; expected one of {[ALL, FIT, VALIDATION]}")
    fit, held_out = validation.validation_split(records, fraction)
    return fit if part == FIT else held_out


def read_records(file_pattern, part: str = ALL,
                 fraction: float = validation.VALIDATION_FRACTION) -> tf.data.Dataset:
    """The records of the files (all, or a part: see `input_fn`), in file order (gzipped when
    their names end in .gz)."""
    files = _list_files(file_pattern)
    return _select(tf.data.TFRecordDataset(files, compression_type=_compression(files)),
                   part, fraction)


def _compression(files: list[str]) -> str:
    return "GZIP" if files[0].endswith(".gz") else ""


def count_records(file_pattern) -> int:
    return int(read_records(file_pattern).reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def split_counts(file_pattern, fraction: float = validation.VALIDATION_FRACTION
                 ) -> tuple[int, int]:
    """(records to fit, records of the validation slice) of the files, in one pass."""
    def add(counts, records):
        held = tf.reduce_sum(tf.cast(validation.in_validation(records, fraction), tf.int64))
        return counts + tf.stack([tf.size(records, tf.int64) - held, held])

    counts = read_records(file_pattern).batch(4096).reduce(tf.zeros([2], tf.int64), add)
    return int(counts[0]), int(counts[1])


def task_counts(file_pattern, tft_output: tft.TFTransformOutput, tasks: tuple[Task, ...],
                part: str = ALL, fraction: float = validation.VALIDATION_FRACTION
                ) -> dict[str, float]:
    """The number of labelled examples of each task in the files (one pass)."""
    spec = {weight_name(t): tft_output.transformed_feature_spec()[weight_name(t)] for t in tasks}
    data = read_records(file_pattern, part, fraction).batch(4096).map(
        lambda records: tf.io.parse_example(records, spec))
    totals = {t.name: 0.0 for t in tasks}
    for batch in data:
        for t in tasks:
            totals[t.name] += float(tf.reduce_sum(batch[weight_name(t)]))
    return totals


def sampling_weights(counts: dict[str, float], mode: str, temperature: float = 1.0
                     ) -> dict[str, float]:
    """Each task's share of the sampled examples: uniform, or n_t ** (1 / T) normalised."""
    present = {k: v for k, v in counts.items() if v > 0}
    if not present:
        raise ValueError(f"no task has a labelled example to sample from: {counts}")
    if mode == "uniform":
        raw = {k: 1.0 for k in present}
    else:
        raw = {k: v ** (1.0 / temperature) for k, v in present.items()}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


def sampled_input_fn(file_pattern, tft_output: tft.TFTransformOutput, batch_size: int,
                     steps: int, hp: ModelHParams, tasks: tuple[Task, ...],
                     spec: ProblemSpec, part: str = ALL) -> tf.data.Dataset:
    """`steps` batches whose examples are drawn task by task (`hp.task_sampling`): task t's
    stream holds its labelled examples, shuffled and repeated; an example labelled for several
    tasks sits in each of their streams and keeps all its labels."""
    feature_spec = tft_output.transformed_feature_spec()
    fraction = hp.validation_fraction
    weights = sampling_weights(task_counts(file_pattern, tft_output, tasks, part, fraction),
                               hp.task_sampling, hp.task_temperature)
    examples = read_records(file_pattern, part, fraction).batch(1024).map(
        lambda records: tf.io.parse_example(records, feature_spec),
        num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    streams = [examples.filter(lambda x, name=name: x[weight_name(name)] > 0)
               .shuffle(SHUFFLE_BUFFER, seed=hp.seed).repeat() for name in weights]
    mixed = tf.data.Dataset.sample_from_datasets(streams, weights=list(weights.values()),
                                                 seed=hp.seed)
    return (mixed.batch(batch_size).take(steps)
            .map(lambda batch: split_features(batch, tasks, spec),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def hparams_from_custom_config(custom_config: dict | None) -> ModelHParams:
    config = dict(custom_config or {})
    return ModelHParams.from_dict(config.get("hparams"))


def spec_from_custom_config(custom_config: dict | None) -> ProblemSpec:
    """The run's problem spec (`custom_config["spec"]`; the default problem without one)."""
    return preprocessing.spec_from_custom_config(custom_config)


def tasks_from_custom_config(custom_config: dict | None) -> tuple[Task, ...]:
    """The run's task list: the spec's default tasks plus `custom_config["extra_tasks"]`."""
    return spec_from_custom_config(custom_config).select_tasks(
        (custom_config or {}).get("extra_tasks"))


# Beside the serving SavedModel in the Model artifact (not pushed): the network's weights and
# what they fit, so a later run can warm start from this model.
WARM_START_DIR = "mtl-warm-start"
WARM_START_WEIGHTS = "network_weights.npz"
WARM_START_SPEC = "spec.json"
# Hyperparameters that do not change the network's variables.
_TRAINING_ONLY = {"weighting", "epochs", "patience", "step_size_cuts", "max_epochs", "max_train_seconds",
                  "validation_fraction", "embedding_l2", "steps_per_epoch", "batch_size", "learning_rate",
                  "text_dropout", "task_sampling", "task_temperature",
                  "embedding_learning_rate", "seed",
                  "jit_compile", "warm_start", "uncertainty_init", "gradnorm_alpha",
                  "gradnorm_lr", "dwa_temperature", "dwa_period_steps", "dropout",
                  "attention_dropout", "l2", "cross_stitch_l2", "head_bias_init"}


def network_spec(hp: ModelHParams, sizes: dict[str, int],
                 tasks: tuple[Task, ...] | None = None,
                 problem: ProblemSpec | None = None) -> dict:
    """What determines the network's variables: architecture hyperparameters, the features,
    vocab sizes and the tasks (each has its tower)."""
    problem = problem or default_spec()
    tasks = problem.default_tasks if tasks is None else tasks
    arch = {k: v for k, v in hp.to_dict().items() if k not in _TRAINING_ONLY}
    task_spec = [[t.name, t.kind, t.num_classes] for t in tasks]
    feature_spec = [f.to_dict() for f in problem.features]
    for feature in feature_spec:
        feature.pop("default", None)
        feature.pop("schema", None)
    return json.loads(json.dumps({"architecture": arch, "vocab_sizes": sizes,
                                  "tasks": task_spec, "features": feature_spec}))


def save_warm_start(network: keras.Model, spec: dict, serving_model_dir: str) -> None:
    """Writes the weights and spec next to the serving model (temp file, then rename)."""
    folder = os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), WARM_START_DIR)
    tf.io.gfile.makedirs(folder)
    # The ordered weight list (the network is rebuilt by the same code, so the order matches).
    tmp = os.path.join(folder, WARM_START_WEIGHTS + ".tmp")
    buffer = io.BytesIO()
    np.savez(buffer, *network.get_weights())
    with tf.io.gfile.GFile(tmp, "wb") as f:
        f.write(buffer.getvalue())
    tf.io.gfile.rename(tmp, os.path.join(folder, WARM_START_WEIGHTS), overwrite=True)
    tmp = os.path.join(folder, WARM_START_SPEC + ".tmp")
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump(spec, f, sort_keys=True)
    tf.io.gfile.rename(tmp, os.path.join(folder, WARM_START_SPEC), overwrite=True)


def maybe_warm_start(network: keras.Model, spec: dict, base_model: str | None) -> str:
    """Loads the base model's weights when its spec equals `spec`; returns what happened."""
    if not base_model:
        return "no base model (no blessed model yet, or warm_start is off)"
    folder = os.path.join(os.path.dirname(base_model.rstrip("/")), WARM_START_DIR)
    spec_path = os.path.join(folder, WARM_START_SPEC)
    if not tf.io.gfile.exists(spec_path):
        return f"base model {base_model} has no {WARM_START_DIR}/{WARM_START_SPEC}: cold start"
    with tf.io.gfile.GFile(spec_path) as f:
        base_spec = json.load(f)
    if base_spec != spec:
        return f"base model {base_model} has another architecture or vocabulary: cold start"
    with tf.io.gfile.GFile(os.path.join(folder, WARM_START_WEIGHTS), "rb") as f:
        stored = np.load(io.BytesIO(f.read()))
        weights = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    current = network.get_weights()
    if [w.shape for w in weights] != [w.shape for w in current]:
        return f"base model {base_model}: weight shapes differ from this network: cold start"
    network.set_weights(weights)
    return f"warm start from {base_model}"


# Beside history.json in the model run folder: the hyperparameters the model was trained with.
TRAINED_HPARAMS_FILE = "hyperparameters.json"


def write_trained_hparams(run_dir: str, hp: ModelHParams, tasks, tuned: dict) -> None:
    """`hyperparameters.json`: the hyperparameters and task loss weights training used, and
    the tuned values among them (temp file, then rename)."""
    path = os.path.join(run_dir, TRAINED_HPARAMS_FILE)
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        json.dump({"hparams": hp.to_dict(),
                   "loss_weights": {t.name: t.loss_weight for t in tasks},
                   "tuned": tuned}, f, sort_keys=True)
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor).

    The strategy is created first, before any other TensorFlow work in the process.
    `multi_worker_mirrored` without a TF_CONFIG (no cluster around this process) trains in
    `custom_config["local_workers"]` fresh local processes instead (`models.worker`): this
    process has already done TensorFlow work, too late for collective ops. With a TF_CONFIG
    (a TFJob replica, Vertex AI's Trainer extension) it trains here, as one of the workers.
    """
    config = fn_args.custom_config or {}
    name = config.get("distribution_strategy", "default")
    if name == "multi_worker_mirrored" and "TF_CONFIG" not in os.environ:
        cluster.run_local_workers(fn_args, int(config.get("local_workers") or 1))
        return
    train_and_export(fn_args, make_strategy(name))


# history.json's entry (beside the per-epoch metric lists) that says how training went.
TRAINING_KEY = "training"
# Validation slices up to this many records are kept in memory between epochs.
CACHE_VALIDATION_RECORDS = 250_000


def train_and_export(fn_args, strategy: tf.distribute.Strategy) -> None:
    """Trains under `strategy` and exports. Every worker of a cluster runs this; only the chief
    writes the serving model, the warm-start files, history.json and TensorBoard logs (the
    others write theirs to scratch folders, then delete them).

    `epochs: auto` fits the train split less its validation slice (`models.validation`), stops
    on the slice's loss (`models.early_stopping.BestEpoch`) and keeps the best epoch's weights;
    `epochs: N` fits the whole train split N times and keeps the last weights (its per-epoch
    `val_` figures are the eval split's, for the curves only). history.json holds the
    per-epoch figures and, under "training", the epochs run, the best epoch and why training
    stopped.
    """
    hp = hparams_from_custom_config(fn_args.custom_config)
    problem = spec_from_custom_config(fn_args.custom_config)
    tasks = tasks_from_custom_config(fn_args.custom_config)
    # The Tuner's best_hyperparameters (a search of this run, or a stored one it reuses),
    # laid over the run's own: tuned values win.
    tuned = search_space.values_of(getattr(fn_args, "hyperparameters", None))
    if tuned:
        hp, tasks = search_space.apply_tuned(hp, tasks, tuned)
        logging.info("tuned hyperparameters: %s", search_space.describe(tuned))
    keras.utils.set_random_seed(hp.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    n_workers = distribute.num_workers(strategy)
    summary: dict = {"epochs": hp.epochs}
    part = FIT
    if hp.auto_epochs:
        n_fit, n_validation = split_counts(fn_args.train_files, hp.validation_fraction)
        summary.update(train_examples=n_fit, validation_examples=n_validation)
        if n_validation == 0:
            # Too few records to hold any out: the whole split, the budget's epochs.
            part, n_fit = ALL, n_fit + n_validation
        max_epochs = hp.max_epochs or early_stopping.epoch_budget(n_fit)
        summary["max_epochs"] = max_epochs
    else:
        part, max_epochs, n_fit = ALL, hp.epochs, None
    held_out = hp.auto_epochs and part == FIT
    train = input_fn(fn_args.train_files, fn_args.data_accessor, tft_output, hp.batch_size,
                     seed=hp.seed, tasks=tasks, spec=problem, part=part,
                     validation_fraction=hp.validation_fraction)
    if held_out:
        monitored = input_fn(fn_args.train_files, fn_args.data_accessor, tft_output,
                             hp.batch_size, shuffle=False, tasks=tasks, spec=problem,
                             part=VALIDATION, validation_fraction=hp.validation_fraction,
                             cache=summary["validation_examples"] <= CACHE_VALIDATION_RECORDS)
        monitored_steps, monitored_files = None, fn_args.train_files
    elif hp.auto_epochs:
        monitored = monitored_steps = monitored_files = None
    else:
        monitored = input_fn(fn_args.eval_files, fn_args.data_accessor, tft_output,
                             hp.batch_size, shuffle=False, tasks=tasks, spec=problem)
        monitored_steps, monitored_files = fn_args.eval_steps, fn_args.eval_files
    if hp.task_sampling != "natural":
        if n_fit is None:
            n_fit = count_records(fn_args.train_files)
        steps = hp.steps_per_epoch or -(-n_fit // hp.batch_size)
        train = sampled_input_fn(fn_args.train_files, tft_output, hp.batch_size, steps, hp,
                                 tasks, problem, part=part)
    elif hp.steps_per_epoch:
        train = train.repeat().take(hp.steps_per_epoch)
    if n_workers > 1:
        train = train.with_options(distribute.shard_options(
            len(_list_files(fn_args.train_files)), n_workers))
        if monitored is not None:
            monitored = monitored.with_options(distribute.shard_options(
                len(_list_files(monitored_files)), n_workers))
    sizes = vocab_sizes(tft_output, problem)
    with strategy.scope():
        model = build_model(hp, sizes, tasks, problem)
        if n_workers > 1:
            distribute.skip_symbolic_build(model)
    spec = network_spec(hp, sizes, tasks, problem)
    if hp.warm_start:
        logging.info("%s", maybe_warm_start(model.network, spec, fn_args.base_model))
    run_dir = distribute.output_dir(fn_args.model_run_dir, strategy)
    serving_dir = distribute.output_dir(fn_args.serving_model_dir, strategy)
    callbacks = [keras.callbacks.TensorBoard(log_dir=run_dir, update_freq=50),
                 progress_lib.TrainingProgress()]
    best = None
    if held_out:
        # Several workers' clocks could disagree on when to stop: no time cap there.
        best = early_stopping.BestEpoch(
            {t.name: t.loss_weight for t in tasks}, patience=hp.patience,
            max_seconds=hp.max_train_seconds if n_workers == 1 else None,
            cuts=hp.step_size_cuts)
        callbacks.append(best)
    try:
        with strategy.scope():
            history = model.fit(
                train,
                epochs=max_epochs,
                validation_data=monitored,
                validation_steps=monitored_steps,
                callbacks=callbacks,
                verbose=2,
            )
        figures = {k: [float(np.mean(v)) for v in values]
                   for k, values in history.history.items()}
        epochs_run = len(figures.get("loss", [])) or max_epochs
        if best is not None:
            summary.update(best.summary())
        else:
            summary.update(epochs_run=epochs_run, best_epoch=epochs_run,
                           stop_reason=early_stopping.STOP_ASKED if not hp.auto_epochs
                           else early_stopping.STOP_NO_VALIDATION)
        # Under several workers Keras logs shape-[1] values (distribute.reducible_logs).
        write_json(os.path.join(run_dir, "history.json"), {**figures, TRAINING_KEY: summary})
        logging.info("training: %s", summary)
        write_trained_hparams(run_dir, hp, tasks, tuned)
        export_serving_model(model.network, tft_output, serving_dir,
                             fusion_weights=(fn_args.custom_config or {}).get("fusion_weights"),
                             tasks=tasks, spec=problem)
        save_warm_start(model.network, spec, serving_dir)
    finally:
        if not distribute.is_chief(strategy):
            for scratch in (run_dir, serving_dir):
                shutil.rmtree(os.path.dirname(scratch), ignore_errors=True)


def write_json(path: str, value) -> None:
    """Writes `value` as JSON to `path` (a temp file, then a rename)."""
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump(value, f)
    tf.io.gfile.rename(tmp, path, overwrite=True)
