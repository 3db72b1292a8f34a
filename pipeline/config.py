"""The pipeline's configuration: paths, model, thresholds and Beam options, in one dataclass.

No import-time side effects: nothing here reads flags or the environment (``pipeline.cli``
does), creates folders or imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from models import features
from models.features import Task
from models.hparams import ModelHParams

# Beam's local FnApiRunner, named explicitly: Beam 2.74's "DirectRunner" first tries to
# download its Prism runner from the internet, then falls back to this same runner.
DEFAULT_BEAM_ARGS: tuple[str, ...] = (
    "--runner=FnApiRunner",
    "--direct_running_mode=in_memory",
    "--direct_num_workers=1",
)


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything a pipeline run depends on.

    The home folder (`root`) is laid out as:
      data/span-<N>/*.tfrecord.gz   the input spans
      pipeline_root/                TFX artifacts
      metadata.db                   SQLite ML Metadata
      serving/<model_name>/<ver>/   pushed SavedModels, TF Serving layout
    """

    root: str = "mtl_home"
    pipeline_name: str = "mtl"
    model_name: str = "mtl_model"
    # Embedded data generated when the data folder has no span yet.
    examples: int = 100_000
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
    beam_pipeline_args: tuple[str, ...] = DEFAULT_BEAM_ARGS
    # Transform's own pre- and post-transform statistics (two extra TFDV passes over the
    # data that nothing downstream reads; StatisticsGen already describes the raw data).
    # Off by default: measured by benchmarks/pipeline.py (README, "Benchmarks").
    transform_statistics: bool = False
    enable_cache: bool = True

    def __post_init__(self):
        known = {t.name for t in features.TASKS}
        for field in ("thresholds", "max_changes"):
            unknown = sorted(set(getattr(self, field)) - known)
            if unknown:
                raise ValueError(f"{field}: unknown tasks {unknown}; known tasks: {sorted(known)}")

    @property
    def home(self) -> Path:
        return Path(os.path.abspath(self.root))

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def pipeline_root(self) -> Path:
        return self.home / "pipeline_root"

    @property
    def metadata_path(self) -> Path:
        return self.home / "metadata.db"

    @property
    def serving_dir(self) -> Path:
        return self.home / "serving" / self.model_name

    def tasks(self) -> tuple[Task, ...]:
        """The task list with this config's threshold overrides applied."""
        out = []
        for task in features.TASKS:
            changes = {}
            if task.name in self.thresholds:
                changes["threshold"] = float(self.thresholds[task.name])
            if task.name in self.max_changes:
                changes["max_change"] = float(self.max_changes[task.name])
            out.append(dataclasses.replace(task, **changes))
        return tuple(out)

    def replace(self, **changes) -> PipelineConfig:
        return dataclasses.replace(self, **changes)
