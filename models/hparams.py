"""Training and architecture hyperparameters, passed to the Trainer as JSON in `custom_config`.

Pure Python (no TensorFlow import), so the pipeline definition can build and fingerprint it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# The names `models.model.ARCHITECTURES` and `models.weighting.STRATEGIES` register (kept here,
# TensorFlow-free, so the CLI and the config can check a name before anything runs).
MODEL_NAMES: tuple[str, ...] = ("shared_bottom", "mmoe", "ple", "cross_stitch", "esmm",
                                "transformer", "text_transformer")
# The architectures of problems without text, and the one that reads text.
TEXT_MODEL_NAMES: tuple[str, ...] = ("text_transformer",)
TABULAR_MODEL_NAMES: tuple[str, ...] = tuple(m for m in MODEL_NAMES if m not in TEXT_MODEL_NAMES)
WEIGHTING_NAMES: tuple[str, ...] = ("static", "uncertainty", "gradnorm", "dwa", "pcgrad")
# How training batches mix the tasks (models.trainer.input_fn).
TASK_SAMPLING: tuple[str, ...] = ("natural", "proportional", "uniform")
# `epochs`' value for training until the validation loss stops improving.
AUTO = "auto"


def parse_epochs(value: int | str) -> int | str:
    """`epochs` as given (a flag's text, a spec's value): "auto" or a whole number >= 1."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    else:
        number = 0
    if number < 1:
        raise ValueError(f"epochs must be 'auto' or a whole number >= 1, got {value!r}")
    return number


@dataclasses.dataclass(frozen=True)
class ModelHParams:
    """What the Trainer needs to build and fit the model.

    Attributes:
      model: the architecture name (see `models.model.ARCHITECTURES`).
      weighting: the loss-weighting strategy (see `models.weighting.STRATEGIES`).
      embedding_scale: multiplies every feature's embedding dimension from the problem spec.
      bottom_units: widths of the shared dense stack.
      tower_units: widths of each task tower.
      tower_batch_norm: BatchNorm after every dense layer of the task towers.
      head_bias_init: start each regression head at its task's `scale` (the label's typical
        magnitude, in the label's units) rather than at softplus(0) * scale.
      own_history_embedding: a sequence feature that shares another feature's vocabulary (a
        history of items) looks up an embedding table of its own instead of sharing that
        feature's table.
      dot_interactions: append the pairwise dot products of the equally wide embeddings
        (e.g. user, item, mean-pooled history) to the input vector (FM / DLRM interactions).
      id_biases: every id feature (categorical, bucketized numeric) gets a learned bias per
        id and task output, added to the task's logits (the user and item biases of the
        classic ratings models, and of wide & deep's wide part).
      embedding_l2: L2 penalty on the embedding rows (and id biases) a batch looks up, averaged
        over the batch: a frequent id is pulled toward 0 as often as it is seen, as in the
        regularized matrix factorization of the ratings literature, so longer training does
        not memorise the rare ids.
      dropout: dropout rate in the towers.
      l2: L2 penalty on the dense kernels.
      batch_size: training batch size.
      epochs: "auto" (default): train on the train split less a validation slice
        (`models.validation`) until the validation loss over the observed labels is no better
        for `patience` epochs, within an epoch budget (`max_epochs`, else one that follows the
        data size: `models.early_stopping.epoch_budget`) and `max_train_seconds`, and keep
        the best epoch's weights. A number: exactly that many full passes over the whole train
        split, the last epoch's weights kept.
      patience: `epochs: auto` stops after this many epochs without a better validation loss.
      step_size_cuts: `epochs: auto`, when patience runs out the first time(s): back to the
        best epoch's weights, every learning rate divided by 10, and on until one epoch brings
        no improvement.
      max_epochs: `epochs: auto`'s epoch budget (None: it follows the data size).
      max_train_seconds: `epochs: auto` starts no epoch that would end after this many
        seconds of training (estimated from the epochs so far).
      validation_fraction: the share of the train split `epochs: auto` holds out.
      steps_per_epoch: when set, caps each epoch at this many batches (smoke runs).
      learning_rate: Adam learning rate.
      embedding_learning_rate: when set, the embedding tables have an Adam optimizer of their
        own with this learning rate (`learning_rate` then applies to the rest).
      seed: seeds weights, dropout and shuffling, so a run is reproducible.
      jit_compile: compile the train step with XLA.
      num_experts: MMoE's shared experts.
      expert_units: widths of every expert's dense stack (MMoE, PLE).
      ple_levels: stacked CGC levels of PLE.
      ple_shared_experts / ple_task_experts: PLE's shared / per-task experts per level.
      cross_stitch_units: widths of each task column of the cross-stitch network.
      cross_stitch_l2: L2 penalty on the differences between task columns' kernels (0: off).
      attention_heads / attention_layers / attention_dropout: the transformer's self-attention
        encoder over the spec's sequence feature (then one target attention).
      uncertainty_init: initial log-variance s_t of uncertainty weighting.
      gradnorm_alpha / gradnorm_lr: GradNorm's asymmetry and the learning rate of its weights.
      dwa_temperature / dwa_period_steps: DWA's temperature and the number of training steps
        over which the loss averages are taken (the paper uses one epoch).
      text_width / text_layers / text_heads / text_dropout: the `text_transformer`'s shared
        encoder (models.text).
      text_decoder: each task of the `text_transformer` gets a Transformer decoder layer of its
        own over the shared encoder's output.
      task_sampling: "natural" (batches as the data comes, each example with whatever labels
        it has), "proportional" (each example drawn from one task's labelled examples, task t
        with probability proportional to n_t ** (1 / task_temperature)) or "uniform" (every
        task equally often). An epoch keeps its number of batches.
      task_temperature: the temperature of "proportional" (1: as the data, larger: flatter).
      warm_start: initialize from the latest blessed model's weights when its architecture and
        hyperparameters match (the Trainer's `base_model`).
    """

    model: str = "shared_bottom"
    weighting: str = "static"
    embedding_scale: float = 2.0
    bottom_units: tuple[int, ...] = (128, 64)
    tower_units: tuple[int, ...] = (32,)
    tower_batch_norm: bool = False
    head_bias_init: bool = True
    own_history_embedding: bool = False
    dot_interactions: bool = True
    id_biases: bool = True
    embedding_l2: float = 1e-2
    dropout: float = 0.1
    l2: float = 1e-5
    batch_size: int = 512
    epochs: int | str = AUTO
    patience: int = 2
    step_size_cuts: int = 1
    max_epochs: int | None = None
    max_train_seconds: float = 1800.0
    validation_fraction: float = 0.1
    steps_per_epoch: int | None = None
    learning_rate: float = 2e-3
    embedding_learning_rate: float | None = 5e-3
    seed: int = 42
    jit_compile: bool = False
    num_experts: int = 4
    expert_units: tuple[int, ...] = (64, 32)
    ple_levels: int = 2
    ple_shared_experts: int = 2
    ple_task_experts: int = 1
    cross_stitch_units: tuple[int, ...] = (64, 32)
    cross_stitch_l2: float = 0.0
    attention_heads: int = 2
    attention_layers: int = 1
    attention_dropout: float = 0.1
    uncertainty_init: float = 0.0
    gradnorm_alpha: float = 1.5
    gradnorm_lr: float = 0.025
    dwa_temperature: float = 2.0
    dwa_period_steps: int = 50
    text_width: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_dropout: float = 0.1
    text_decoder: bool = False
    task_sampling: str = "natural"
    task_temperature: float = 1.0
    warm_start: bool = False

    def __post_init__(self):
        object.__setattr__(self, "epochs", parse_epochs(self.epochs))
        if self.step_size_cuts < 0:
            raise ValueError(f"step_size_cuts must be >= 0, got {self.step_size_cuts}")
        if self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1 (or None), got {self.max_epochs}")
        if not self.max_train_seconds > 0:
            raise ValueError(f"max_train_seconds must be > 0, got {self.max_train_seconds}")
        if not 0.0 < self.validation_fraction < 0.5:
            raise ValueError(f"validation_fraction must be in (0, 0.5), got "
                             f"{self.validation_fraction}")
        if self.embedding_l2 < 0:
            raise ValueError(f"embedding_l2 must be >= 0, got {self.embedding_l2}")
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {list(MODEL_NAMES)}")
        if self.task_sampling not in TASK_SAMPLING:
            raise ValueError(f"unknown task sampling {self.task_sampling!r}; choose one of "
                             f"{list(TASK_SAMPLING)}")
        if not self.task_temperature > 0:
            raise ValueError(f"task_temperature must be > 0, got {self.task_temperature}")
        if self.weighting not in WEIGHTING_NAMES:
            raise ValueError(f"unknown loss weighting {self.weighting!r}; "
                             f"choose one of {list(WEIGHTING_NAMES)}")

    @property
    def auto_epochs(self) -> bool:
        """Whether training stops on the validation slice (`epochs: auto`)."""
        return self.epochs == AUTO

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> ModelHParams:
        """Builds from a (JSON-decoded) dict; unknown keys are an error, lists become tuples."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model hyperparameters {unknown}; known: {sorted(known)}")
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = tuple(value)
        return cls(**values)
