"""The pipeline's configuration: paths, model, thresholds and Beam options, in one dataclass.

No import-time side effects: nothing here reads flags or the environment (``pipeline.cli.main``
does), creates folders or imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from components.gated_pusher.latency import DEFAULT_LATENCY_BUDGET_MS, DEFAULT_LATENCY_SAMPLES
from models import search_space
from models.hparams import ModelHParams
from models.spec import ProblemSpec, Task, default_spec

# Beam's local FnApiRunner, named explicitly: Beam 2.74's "DirectRunner" first tries to
# download its Prism runner from the internet, then falls back to this same runner.
# The last flag names a dependency so that TFX does not package itself for remote workers:
# without any of --extra_package, --setup_file, --requirements_file or --sdk_container_image,
# every Beam component's executor builds a `tfx_ephemeral` sdist of the whole TFX install
# (tfx.utils.dependency_utils.make_beam_dependency_flags), seconds each, that the in-process
# FnApiRunner never reads; it never reads the container image either. Flags given with
# `mtl run --beam-arg` replace these, so a remote runner still gets TFX's packaging.
LOCAL_DEPENDENCY_FLAG = "--sdk_container_image=unused-by-the-in-process-fnapirunner"
DEFAULT_BEAM_ARGS: tuple[str, ...] = (
    "--runner=FnApiRunner",
    "--direct_running_mode=in_memory",
    "--direct_num_workers=1",
    LOCAL_DEPENDENCY_FLAG,
)

# `beam_processes="auto"`: the local runner's worker processes for the data-proportional Beam
# stages (one per core) once the newest span holds this many examples, one below it. Each
# process imports TensorFlow, TFX and TFMA again in every Beam stage, a fixed cost that only
# a large span repays (docs/results/speed.md: measured at 100,000 and 1,000,000 examples).
AUTO_BEAM_PROCESSES_MIN_EXAMPLES = 500_000

# The fewest examples a new span may have (train and eval splits together): the AnomaliesGate
# refuses a smaller one with the count, before its drift checks (which, on a few dozen examples,
# would only report noise) and before Transform. 1,000 examples leave about 200 for evaluation.
DEFAULT_MIN_SPAN_EXAMPLES = 1000

# `mtl run --tune [TRIALS]` (docs/guides/tuning.md): trials when no number is given, the
# wall-clock cap of a search, and the per-trial budget that fits 100,000 examples in the
# 15 minutes of a whole `--tune` run on 2 cores (measured: benchmarks/tuning.py).
DEFAULT_TUNE_TRIALS = 10
DEFAULT_TUNE_MINUTES = 8.0
TUNE_TRIAL_EPOCHS = 8
TUNE_PATIENCE = 2
TUNE_MAX_EXAMPLES = 40_000
TUNE_VALIDATION_FRACTION = 0.1
# Hyperparameters that do not change what a search finds, left out of the tuning key: the seed,
# the training length (epochs, steps per epoch, early stopping's patience and budgets; a name
# this version lacks is simply absent), warm start and XLA.
_UNTUNED_HPARAMS = ("seed", "epochs", "steps_per_epoch", "patience", "max_epochs",
                    "max_train_seconds", "warm_start", "jit_compile")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything a pipeline run depends on.

    `spec` is the problem (features, tasks, gates; `models.spec`), the default problem unless
    the run names a spec file (`mtl run --spec FILE`).

    The home folder (`root`) is laid out as:
      data/span-<N>/*.tfrecord.gz   the input spans (or `data_root`, `mtl run --data DIR`)
      pipeline_root/                TFX artifacts
      metadata.db                   SQLite ML Metadata
      serving/<model_name>/<ver>/   pushed SavedModels, TF Serving layout
    """

    root: str = "mtl_home"
    spec: ProblemSpec = dataclasses.field(default_factory=default_spec)
    # The folder holding the span-<N>/ folders (None: HOME/data, where embedded data of the
    # default problem is generated when there is none).
    data_root: str | None = None
    pipeline_name: str = "mtl"
    model_name: str = "mtl_model"
    # Embedded data generated when the data folder has no span yet (None: the problem's
    # default, pipeline.datasets.embedded).
    examples: int | None = None
    seed: int = 42
    hparams: ModelHParams = ModelHParams()
    # Caps on the Trainer's evaluation during training (None: the whole eval split).
    eval_steps: int | None = None
    # Train/eval hash buckets of ImportExampleGen's split.
    train_buckets: int = 4
    eval_buckets: int = 1
    # Per-task overrides of `Task.threshold` / `Task.max_change`: {task name: value}.
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    max_changes: dict[str, float] = dataclasses.field(default_factory=dict)
    # Per-task gate overrides {task: {"bound", "max_change", "change_mode", "min_labels",
    # "naive_ratio" | "naive_margin", ...}}, see pipeline/evaluation/gates.py; applied after
    # `thresholds` / `max_changes`.
    gates: dict[str, dict] = dataclasses.field(default_factory=dict)
    # Overrides of the spec's fusion weights ({task: w}) in the fused ranking score `score` =
    # sum_t w_t * output_t of the serving signatures.
    fusion_weights: dict[str, float] = dataclasses.field(default_factory=dict)
    beam_pipeline_args: tuple[str, ...] = DEFAULT_BEAM_ARGS
    # Worker processes of the local runner (the default Beam flags only) for the Beam stages
    # whose work grows with the data (ExampleGen, StatisticsGen, Transform, Evaluator): 1
    # runs them in this process; "auto" is resolved by each local run from the newest span's
    # size (`resolve_beam_processes`, AUTO_BEAM_PROCESSES_MIN_EXAMPLES).
    beam_processes: int | str = 1
    # Latency gate of the Pusher: serving_default p99 at batch 1, in-process, on this many
    # evaluation examples, must stay under the budget or the model is not pushed.
    latency_budget_ms: float = DEFAULT_LATENCY_BUDGET_MS
    latency_samples: int = DEFAULT_LATENCY_SAMPLES
    # Transform's own pre- and post-transform statistics (two extra TFDV passes over the
    # data; StatisticsGen already describes the raw data). Off by default: measured by
    # benchmarks/pipeline.py (docs/results/speed.md). A problem with a `text` feature computes
    # them whatever this says: its post-transform statistics count the truncated texts, which
    # the run summary prints (pipeline/dag/build.py).
    transform_statistics: bool = False
    enable_cache: bool = True
    # Rolling training window: Transform and Trainer read the latest `train_spans` spans that
    # ImportExampleGen ingested (1: only the newest). The Evaluator always gates on the newest
    # span's held-out (eval) examples. See pipeline/data/spans.py.
    train_spans: int = 1
    # Trainer's tf.distribute strategy: "default", "mirrored" or "multi_worker_mirrored".
    distribution_strategy: str = "default"
    # multi_worker_mirrored only: worker processes the Trainer starts on this machine when no
    # cluster gives it a TF_CONFIG (models/workers.py); ignored inside a cluster.
    local_workers: int = 1
    # The curated schema to validate spans against (None: the home's own, written by
    # `mtl schema freeze`, else the one shipped with the package; see
    # pipeline.data.schema.resolve_schema_path); `infer_schema` lets SchemaGen infer one
    # instead; `allow_anomalies` lets a run go on despite anomalies.
    schema_path: str | None = None
    infer_schema: bool = False
    # Where the components read that schema, when it differs from this machine's path (the
    # Kubeflow image: kubeflow/compile.py sets it); None: the local file itself.
    schema_runtime_path: str | None = None
    allow_anomalies: bool = False
    # The AnomaliesGate refuses a span with fewer examples than this (0: no minimum).
    min_span_examples: int = DEFAULT_MIN_SPAN_EXAMPLES
    # Optional tasks of the spec (`optional: true`) trained on top of the default ones; the
    # embedded data then carries their labels.
    extra_tasks: tuple[str, ...] = ()
    # Hyperparameter search (docs/guides/tuning.md): the Tuner runs up to `tune_trials` trials
    # (None: no search in this run) for at most `tune_minutes`. `tuned_hyperparameters` is the
    # folder of a stored search's best_hyperparameters artifact that this run reuses instead
    # (the local runner finds it in ML Metadata by `tuning_key`: pipeline.runs.tuning).
    tune_trials: int | None = None
    tune_minutes: float = DEFAULT_TUNE_MINUTES
    tuned_hyperparameters: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "extra_tasks", tuple(self.extra_tasks))
        active = {t.name for t in self.spec.select_tasks(self.extra_tasks)}
        every = {t.name for t in self.spec.tasks}
        for field in ("thresholds", "max_changes", "gates", "fusion_weights"):
            names = set(getattr(self, field))
            unknown = sorted(names - every)
            if unknown:
                raise ValueError(f"{field}: unknown tasks {unknown}; known tasks: {sorted(every)}")
            inactive = sorted(names - active)
            if inactive:
                raise ValueError(f"{field}: tasks {inactive} are optional and not enabled in "
                                 f"this run; add them to extra_tasks (mtl run --with-task NAME)")
        if self.local_workers < 1:
            raise ValueError(f"local_workers must be at least 1, got {self.local_workers}")
        if self.local_workers > 1 and self.distribution_strategy != "multi_worker_mirrored":
            raise ValueError(f"local_workers={self.local_workers} needs distribution_strategy "
                             f"multi_worker_mirrored, got {self.distribution_strategy!r}")
        if self.min_span_examples < 0:
            raise ValueError(f"min_span_examples must be >= 0, got {self.min_span_examples}")
        if self.train_spans < 1:
            raise ValueError(f"train_spans must be at least 1, got {self.train_spans}")
        if self.tune_trials is not None and self.tune_trials < 1:
            raise ValueError(f"tune_trials must be at least 1, got {self.tune_trials}")
        if not self.tune_minutes > 0:
            raise ValueError(f"tune_minutes must be > 0, got {self.tune_minutes}")
        if self.tune_trials is not None and self.tuned_hyperparameters:
            raise ValueError("a run either searches (tune_trials) or reuses stored "
                             "hyperparameters (tuned_hyperparameters), not both")
        if self.beam_processes != "auto" and (
                not isinstance(self.beam_processes, int) or self.beam_processes < 1):
            raise ValueError(f"beam_processes must be 'auto' or at least 1, got "
                             f"{self.beam_processes!r}")

    def data_beam_args(self) -> tuple[str, ...]:
        """The Beam flags added to the data-proportional Beam stages: the local runner's
        multi-process mode with `beam_processes` workers, when more than one and the run uses
        the default (local) Beam flags. None otherwise: a remote runner has its own
        parallelism, and "auto" not yet resolved (a compiled package, built before any data
        exists) means the defaults."""
        if self.beam_processes in ("auto", 1) or self.beam_pipeline_args != DEFAULT_BEAM_ARGS:
            return ()
        return ("--direct_running_mode=multi_processing",
                f"--direct_num_workers={self.beam_processes}")

    def resolve_beam_processes(self, newest_span_examples: int) -> PipelineConfig:
        """This config with `beam_processes` "auto" decided for a newest span of that size:
        one per core from AUTO_BEAM_PROCESSES_MIN_EXAMPLES examples, else 1."""
        if self.beam_processes != "auto":
            return self
        large = newest_span_examples >= AUTO_BEAM_PROCESSES_MIN_EXAMPLES
        return self.replace(beam_processes=(os.cpu_count() or 1) if large else 1)

    @property
    def home(self) -> Path:
        return Path(os.path.abspath(self.root))

    @property
    def data_dir(self) -> Path:
        return Path(os.path.abspath(self.data_root)) if self.data_root else self.home / "data"

    @property
    def generates_data(self) -> bool:
        """Whether a run with no span may generate embedded data: only into the home's own data
        folder (and only for a problem shipped with its generator: pipeline.datasets.embedded)."""
        return self.data_root is None

    @property
    def pipeline_root(self) -> Path:
        return self.home / "pipeline_root"

    @property
    def metadata_path(self) -> Path:
        return self.home / "metadata.db"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving" / self.model_name

    def active_fusion_weights(self) -> dict[str, float]:
        """The fusion weights of the tasks this run trains: the spec's, then the overrides."""
        weights = {t.name: float(t.fusion_weight) for t in self.tasks()}
        weights.update({k: float(v) for k, v in self.fusion_weights.items()})
        return weights

    def tasks(self) -> tuple[Task, ...]:
        """The task list (default plus `extra_tasks`) with the threshold overrides applied."""
        out = []
        for task in self.spec.select_tasks(self.extra_tasks):
            changes = {}
            if task.name in self.thresholds:
                changes["threshold"] = float(self.thresholds[task.name])
            if task.name in self.max_changes:
                changes["max_change"] = float(self.max_changes[task.name])
            out.append(dataclasses.replace(task, **changes))
        return tuple(out)

    def tuning_settings(self) -> dict:
        """The Tuner's budget (`custom_config["tuning"]`, read by models.tuning)."""
        return {"trials": self.tune_trials or DEFAULT_TUNE_TRIALS,
                "max_minutes": float(self.tune_minutes), "trial_epochs": TUNE_TRIAL_EPOCHS,
                "patience": TUNE_PATIENCE, "max_examples": TUNE_MAX_EXAMPLES,
                "validation_fraction": TUNE_VALIDATION_FRACTION}

    def tuning_key(self) -> str:
        """What a stored search must match to be reused: sha256 over the search space's
        version, the problem spec's content, the optional tasks trained, and the run's
        hyperparameters other than the seed, the training length, warm start and XLA (so
        `--model`, `--weighting`, `--batch-size`, `--learning-rate`, `--task-sampling`, ...
        or any change to the spec ask for a new search; `--seed` and `--epochs` do not)."""
        hparams = {k: v for k, v in self.hparams.to_dict().items() if k not in _UNTUNED_HPARAMS}
        payload = {"space_version": search_space.SPACE_VERSION, "spec": self.spec.to_dict(),
                   "extra_tasks": sorted(self.extra_tasks), "hparams": hparams}
        text = json.dumps(payload, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, **changes) -> PipelineConfig:
        return dataclasses.replace(self, **changes)
