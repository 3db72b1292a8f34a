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

from models import cluster, distribute, preprocessing, search_space
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


def input_fn(file_pattern, data_accessor, tft_output: tft.TFTransformOutput,
             batch_size: int, seed: int | None = None, shuffle: bool = True,
             tasks: tuple[Task, ...] | None = None,
             spec: ProblemSpec | None = None) -> tf.data.Dataset:
    """One epoch of batches of (inputs, labels, masks) from transformed TFRecords.

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


def _records(file_pattern) -> tf.data.TFRecordDataset:
    """Every record of the files, in file order (gzipped when their names end in .gz)."""
    files = _list_files(file_pattern)
    return tf.data.TFRecordDataset(files, compression_type=_compression(files))


def _compression(files: list[str]) -> str:
    return "GZIP" if files[0].endswith(".gz") else ""


def count_records(file_pattern) -> int:
    return int(_records(file_pattern).reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def task_counts(file_pattern, tft_output: tft.TFTransformOutput, tasks: tuple[Task, ...]
                ) -> dict[str, float]:
    """The number of labelled examples of each task in the files (one pass)."""
    spec = {weight_name(t): tft_output.transformed_feature_spec()[weight_name(t)] for t in tasks}
    data = _records(file_pattern).batch(4096).map(
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
                     spec: ProblemSpec) -> tf.data.Dataset:
    """`steps` batches whose examples are drawn task by task (`hp.task_sampling`): task t's
    stream holds its labelled examples, shuffled and repeated; an example labelled for several
    tasks sits in each of their streams and keeps all its labels."""
    feature_spec = tft_output.transformed_feature_spec()
    weights = sampling_weights(task_counts(file_pattern, tft_output, tasks), hp.task_sampling,
                               hp.task_temperature)
    examples = _records(file_pattern).batch(1024).map(
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
_TRAINING_ONLY = {"weighting", "epochs", "steps_per_epoch", "batch_size", "learning_rate",
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


def train_and_export(fn_args, strategy: tf.distribute.Strategy) -> None:
    """Trains under `strategy` and exports. Every worker of a cluster runs this; only the chief
    writes the serving model, the warm-start files, history.json and TensorBoard logs (the
    others write theirs to scratch folders, then delete them)."""
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
    train = input_fn(fn_args.train_files, fn_args.data_accessor, tft_output, hp.batch_size,
                     seed=hp.seed, tasks=tasks, spec=problem)
    evaluation = input_fn(fn_args.eval_files, fn_args.data_accessor, tft_output, hp.batch_size,
                          shuffle=False, tasks=tasks, spec=problem)
    if hp.task_sampling != "natural":
        steps = hp.steps_per_epoch or -(-count_records(fn_args.train_files) // hp.batch_size)
        train = sampled_input_fn(fn_args.train_files, tft_output, hp.batch_size, steps, hp,
                                 tasks, problem)
    elif hp.steps_per_epoch:
        train = train.repeat().take(hp.steps_per_epoch)
    n_workers = distribute.num_workers(strategy)
    if n_workers > 1:
        train = train.with_options(distribute.shard_options(
            len(_list_files(fn_args.train_files)), n_workers))
        evaluation = evaluation.with_options(distribute.shard_options(
            len(_list_files(fn_args.eval_files)), n_workers))
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
    try:
        with strategy.scope():
            history = model.fit(
                train,
                epochs=hp.epochs,
                validation_data=evaluation,
                validation_steps=fn_args.eval_steps,
                callbacks=[keras.callbacks.TensorBoard(log_dir=run_dir, update_freq=50),
                           progress_lib.TrainingProgress()],
                verbose=2,
            )
        with tf.io.gfile.GFile(os.path.join(run_dir, "history.json"), "w") as f:
            # Under several workers Keras logs shape-[1] values (distribute.reducible_logs).
            json.dump({k: [float(np.mean(v)) for v in values]
                       for k, values in history.history.items()}, f)
        write_trained_hparams(run_dir, hp, tasks, tuned)
        export_serving_model(model.network, tft_output, serving_dir,
                             fusion_weights=(fn_args.custom_config or {}).get("fusion_weights"),
                             tasks=tasks, spec=problem)
        save_warm_start(model.network, spec, serving_dir)
    finally:
        if not distribute.is_chief(strategy):
            for scratch in (run_dir, serving_dir):
                shutil.rmtree(os.path.dirname(scratch), ignore_errors=True)
