"""Multi-task Keras models: one builder per architecture, one named output per task.

`build_model(hparams, vocab_sizes, tasks, spec)` returns a `MultiTaskModel` for a problem spec
(`models.spec`): a functional network whose output is a dict keyed by task name (predictions in
label units: probabilities for binary tasks, the label's units for a regression task, [batch, K]
class probabilities for a multiclass task), wrapped with a training step that applies each
task's masked loss and the chosen loss weighting.

Architectures (`ARCHITECTURES`, chosen by `ModelHParams.model` / `mtl run --model NAME`):
  shared_bottom  Hard parameter sharing (Caruana, "Multitask Learning", Machine Learning 1997):
                 embeddings and a shared dense stack feed one tower per task.
  mmoe           Multi-gate Mixture-of-Experts (Ma et al., KDD 2018).
  ple            Progressive Layered Extraction (Tang et al., RecSys 2020): CGC levels stacked.
  cross_stitch   Cross-stitch networks (Misra et al., CVPR 2016), optional L2 between columns.
  esmm           Entire Space Multi-task Model (Ma et al., SIGIR 2018): each child task of the
                 spec's funnel (`model.entire_space`, child: parent) is trained through
                 p(parent) * p(child) on every example with an observed parent label. The
                 network (and serving) still returns each task's own output (the child's is
                 p(child | parent)), and TFMA gates it, like every other architecture, on the
                 examples whose child label is observed, so the gate compares the same rows
                 across architectures.
  transformer    Multi-head self-attention encoder over a sequence feature, read out with the
                 id it shares a vocabulary with as query (BST, Chen et al., DLP-KDD 2019: the
                 history of items against the target item), feeding the shared bottom.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from models import distribute, layers
from models import tasks as task_lib
from models import text as text_lib
from models import weighting as weighting_lib
from models.hparams import ModelHParams
from models.spec import ProblemSpec, Task, default_spec, missing_name, transformed_name


def make_inputs(spec: ProblemSpec) -> dict[str, keras.KerasTensor]:
    """Keras inputs for the transformed features the model reads."""
    inputs = {}
    for feature in spec.features:
        name = transformed_name(feature.name)
        if feature.kind in ("sequence", "text"):
            inputs[name] = keras.Input(shape=(feature.max_length,), dtype="int64", name=name)
        elif feature.is_id:
            inputs[name] = keras.Input(shape=(), dtype="int64", name=name)
        else:
            inputs[name] = keras.Input(shape=(), dtype="float32", name=name)
        if feature.has_indicator:
            indicator = missing_name(feature.name)
            inputs[indicator] = keras.Input(shape=(), dtype="float32", name=indicator)
    return inputs


def sequence_target(spec: ProblemSpec) -> tuple[str, str] | None:
    """(sequence, target id feature) the transformer architecture attends with: the first
    sequence sharing a categorical feature's vocabulary, read out with that feature's id as
    query (the history of items against the target item); None when the problem has none."""
    for feature in spec.sequences:
        if feature.vocabulary:
            return feature.name, feature.vocabulary
    return None


def embed(inputs: dict, vocab_sizes: dict[str, int], hp: ModelHParams, spec: ProblemSpec,
          sequence_encoder: bool = False) -> keras.KerasTensor:
    """The shared input representation: embeddings, pooled sequences, numeric features.

    With `sequence_encoder`, the sequence of `sequence_target(spec)` is summarized by a
    Transformer encoder and target attention instead of a mean alone.
    """
    xf = transformed_name
    tables = [f for f in spec.id_features] + [f for f in spec.sequences if not f.vocabulary]
    kwargs = dict(
        vocab_sizes={xf(f.name): vocab_sizes[f.name] for f in tables},
        embedding_dims={xf(f.name): max(1, round(f.embedding_dim * hp.embedding_scale))
                        for f in tables},
        numeric_keys=[xf(f.name) for f in spec.numeric]
        + [missing_name(f.name) for f in spec.features if f.has_indicator],
        id_keys=[xf(f.name) for f in spec.id_features],
        sequences={xf(f.name): xf(spec.vocabulary_of(f)) for f in spec.sequences},
        own_history_table=hp.own_history_embedding,
        dot_interactions=hp.dot_interactions,
        embedding_l2=hp.embedding_l2,
        name="feature_embedding",
    )
    if sequence_encoder:
        target = sequence_target(spec)
        if target is None:
            raise ValueError(
                f"model 'transformer' attends over a sequence feature with the id it shares a "
                f"vocabulary with as query; problem {spec.name!r} has no sequence sharing a "
                f"categorical feature's vocabulary (choose another --model)")
        sequence, target_key = target
        layer = layers.TransformerFeatureEmbedding(
            sequence_key=xf(sequence), target_key=xf(target_key), heads=hp.attention_heads,
            num_layers=hp.attention_layers, attention_dropout=hp.attention_dropout,
            sequence_length=spec.feature(sequence).max_length, **kwargs)
    else:
        layer = layers.FeatureEmbedding(**kwargs)
    return layer(inputs)


def id_biases(inputs: dict, vocab_sizes: dict[str, int], hp: ModelHParams,
              tasks: tuple[Task, ...], spec: ProblemSpec) -> dict[str, keras.KerasTensor]:
    """{task: its logits' per-id biases} (`hp.id_biases`), one bias per id, task and logit,
    summed over the id features; {} when off or when the problem has no id feature."""
    keys = [f.name for f in spec.id_features]
    if not hp.id_biases or not keys:
        return {}
    widths = [max(1, t.num_classes) for t in tasks]
    biases = layers.IdBiases(
        {transformed_name(k): vocab_sizes[k] for k in keys}, sum(widths), l2=hp.embedding_l2,
        name="id_biases")(inputs)
    out, start = {}, 0
    for task, width in zip(tasks, widths):
        part = biases[:, start:start + width]
        out[task.name] = part[:, 0] if task.num_classes <= 1 else part
        start += width
    return out


def task_outputs(tower_inputs: dict[str, keras.KerasTensor], hp: ModelHParams,
                 tasks: tuple[Task, ...], biases: dict[str, keras.KerasTensor] | None = None
                 ) -> dict[str, keras.KerasTensor]:
    """One tower and head per task, each fed from its own input vector; a task's `biases`
    (`id_biases`), when given, are added to its logits."""
    biases = biases or {}
    outputs = {}
    for task in tasks:
        logits = layers.TaskTower(
            hp.tower_units, hp.dropout, hp.l2, outputs=max(1, task.num_classes),
            batch_norm=hp.tower_batch_norm,
            logit_bias=task_lib.initial_logit(task) if hp.head_bias_init else 0.0,
            name=f"{task.name}_tower",
        )(tower_inputs[task.name])
        if task.name in biases:
            logits = logits + biases[task.name]
        outputs[task.name] = task_lib.head_activation(task, logits)
    return outputs


def build_shared_bottom(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    shared = layers.MLP(hp.bottom_units, dropout=0.0, l2=hp.l2, name="shared_bottom")(
        embed(inputs, vocab_sizes, hp, spec)
    )
    return task_outputs({t.name: shared for t in tasks}, hp, tasks,
                        id_biases(inputs, vocab_sizes, hp, tasks, spec))


def build_mmoe(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    """MMoE: Ma et al., "Modeling Task Relationships in Multi-task Learning with Multi-gate
    Mixture-of-Experts", KDD 2018. Shared experts, one softmax gate per task, then towers."""
    mixed = layers.MixtureOfExperts(len(tasks), hp.num_experts, hp.expert_units, l2=hp.l2,
                                    name="mmoe")(embed(inputs, vocab_sizes, hp, spec))
    return task_outputs({t.name: mixed[i] for i, t in enumerate(tasks)}, hp, tasks,
                        id_biases(inputs, vocab_sizes, hp, tasks, spec))


def build_ple(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    """PLE: Tang et al., "Progressive Layered Extraction (PLE): A Novel Multi-Task Learning
    Model for Personalized Recommendations", RecSys 2020. `ple_levels` CGC levels stacked; the
    last level drops the shared gate."""
    if hp.ple_levels < 1:
        raise ValueError(f"ple_levels must be >= 1, got {hp.ple_levels}")
    x = embed(inputs, vocab_sizes, hp, spec)
    hidden = [x] * (len(tasks) + 1)
    for level in range(hp.ple_levels):
        hidden = layers.CGCLevel(
            len(tasks), hp.ple_task_experts, hp.ple_shared_experts, hp.expert_units, l2=hp.l2,
            last=level == hp.ple_levels - 1, name=f"ple_level_{level}",
        )(hidden)
    return task_outputs({t.name: hidden[i] for i, t in enumerate(tasks)}, hp, tasks,
                        id_biases(inputs, vocab_sizes, hp, tasks, spec))


def build_cross_stitch(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    """Cross-stitch: Misra et al., "Cross-stitch Networks for Multi-task Learning", CVPR 2016.
    One column per task over the shared embeddings, mixed after every layer;
    `cross_stitch_l2` adds an L2 penalty between the columns' kernels."""
    columns = layers.CrossStitchNetwork(
        len(tasks), hp.cross_stitch_units, l2=hp.l2, column_l2=hp.cross_stitch_l2,
        name="cross_stitch")(embed(inputs, vocab_sizes, hp, spec))
    return task_outputs({t.name: columns[i] for i, t in enumerate(tasks)}, hp, tasks,
                        id_biases(inputs, vocab_sizes, hp, tasks, spec))


def build_esmm(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    """ESMM: Ma et al., "Entire Space Multi-Task Model: An Effective Approach for Estimating
    Post-Click Conversion Rate", SIGIR 2018. The tasks share the embeddings only; each has its
    own network (`bottom_units` then its tower). The funnel is the spec's
    `model.entire_space` ({child: parent}); the p(parent) * p(child) product is formed in the
    loss (`MultiTaskModel.task_losses`), so the outputs stay each task's own probability."""
    names = {t.name for t in tasks}
    if not spec.entire_space:
        raise ValueError(f"model 'esmm' needs a funnel: problem {spec.name!r} declares no "
                         f"model.entire_space (child task: parent task)")
    for child, parent in spec.entire_space.items():
        if child not in names or parent not in names:
            raise ValueError(f"esmm needs tasks {child!r} and {parent!r}; tasks: {sorted(names)}")
    x = embed(inputs, vocab_sizes, hp, spec)
    tower_inputs = {
        t.name: layers.MLP(hp.bottom_units, dropout=0.0, l2=hp.l2, name=f"{t.name}_bottom")(x)
        for t in tasks
    }
    return task_outputs(tower_inputs, hp, tasks,
                        id_biases(inputs, vocab_sizes, hp, tasks, spec))


def build_transformer(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    """Transformer over the behaviour sequence: Vaswani et al., "Attention Is All You Need",
    NeurIPS 2017, as used in BST (Chen et al., "Behavior Sequence Transformer for E-commerce
    Recommendation in Alibaba", DLP-KDD 2019): self-attention over the spec's sequence, the id
    it shares a vocabulary with as query, feeding the shared bottom and the towers."""
    shared = layers.MLP(hp.bottom_units, dropout=0.0, l2=hp.l2, name="shared_bottom")(
        embed(inputs, vocab_sizes, hp, spec, sequence_encoder=True)
    )
    return task_outputs({t.name: shared for t in tasks}, hp, tasks,
                        id_biases(inputs, vocab_sizes, hp, tasks, spec))


def build_text_transformer(inputs, vocab_sizes, hp: ModelHParams, tasks, spec: ProblemSpec):
    """The shared Transformer text encoder with per-task heads (`models.text`); the problem's
    other features, if any, join the pooled text."""
    others = any(f.kind != "text" for f in spec.features)
    features = embed(inputs, vocab_sizes, hp, spec) if others else None
    return text_lib.build_text_transformer(inputs, vocab_sizes, hp, tasks, spec, features)


ARCHITECTURES: dict[str, Callable] = {
    "shared_bottom": build_shared_bottom,
    "mmoe": build_mmoe,
    "ple": build_ple,
    "cross_stitch": build_cross_stitch,
    "esmm": build_esmm,
    "transformer": build_transformer,
    "text_transformer": build_text_transformer,
}


def _last_kernel(mlp: layers.MLP):
    return mlp.blocks[-1][0].kernel


def last_shared_variables(network: keras.Model, architecture: str) -> list:
    """The variables of the last layer that every task shares (GradNorm's W, Chen et al. 2018).

    shared_bottom / transformer: the shared stack's last kernel; mmoe: every expert's last
    kernel; ple: the last level's shared experts' last kernels; cross_stitch: the last
    cross-stitch matrix; esmm (which shares only the embeddings): the embedding tables.
    """
    if architecture in ("shared_bottom", "transformer"):
        return [_last_kernel(network.get_layer("shared_bottom"))]
    if architecture == "mmoe":
        return [_last_kernel(e) for e in network.get_layer("mmoe").experts]
    if architecture == "ple":
        last = [layer for layer in network.layers if isinstance(layer, layers.CGCLevel)][-1]
        return [_last_kernel(e) for e in last.shared_expert_mlps]
    if architecture == "cross_stitch":
        return [network.get_layer("cross_stitch").stitches[-1]]
    if architecture == "esmm":
        return list(network.get_layer("feature_embedding").trainable_variables)
    if architecture == "text_transformer":
        return text_lib.last_shared_variables(network)
    raise ValueError(f"unknown model {architecture!r}; choose one of {sorted(ARCHITECTURES)}")


def embedding_variables(network: keras.Model) -> list:
    """The trainable tables of every `keras.layers.Embedding` in the network."""
    return [w for layer in network._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.Embedding) for w in layer.trainable_weights]


class MultiTaskModel(keras.Model):
    """Wraps a multi-output network with masked per-task losses and a loss-weighting strategy.

    Data come as (features, labels, masks), labels and masks being dicts keyed by task name.
    The train step computes every task's masked loss, lets the weighting strategy combine them
    and (for gradient-based strategies: GradNorm, PCGrad) turn the per-task gradients into the
    update; a task without an observed label in the batch contributes nothing.

    `entire_space` ({child: parent}, ESMM) trains each child through p(parent) * p(child) over
    every row where the parent's label is observed.

    `embedding_optimizer`, when given, updates the embedding tables (every `keras.layers.
    Embedding` of the network) and the compiled optimizer everything else: an id's row gets a
    gradient only in the batches where the id occurs, so with one epoch the tables need a
    larger step than the dense layers.
    """

    def __init__(self, network: keras.Model, tasks: tuple[Task, ...],
                 weighting: weighting_lib.LossWeighting, architecture: str = "shared_bottom",
                 entire_space: dict[str, str] | None = None,
                 embedding_optimizer: keras.optimizers.Optimizer | None = None, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.embedding_optimizer = embedding_optimizer
        self.tasks = tuple(tasks)
        self.weighting = weighting
        self.architecture = architecture
        self.entire_space = dict(entire_space or {})
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.task_loss_trackers = {
            t.name: keras.metrics.Mean(name=f"{t.name}_loss") for t in self.tasks
        }
        self.task_metrics = {t.name: task_lib.make_metrics(t) for t in self.tasks}

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    @property
    def metrics(self):
        out = [self.loss_tracker, *self.task_loss_trackers.values()]
        for metric_list in self.task_metrics.values():
            out.extend(metric_list)
        return out

    def loss_targets(self, labels, masks, predictions) -> dict[str, tuple]:
        """{task: (task, labels, predictions, mask)} the loss of each task is computed on."""
        out = {}
        for t in self.tasks:
            if t.name in self.entire_space:
                parent = self.entire_space[t.name]
                parent_label = tf.cast(labels[parent], tf.float32)
                child_label = tf.cast(labels[t.name], tf.float32)
                # parent AND child: known 0 wherever the parent is 0, known where the parent is
                # 1 only if the child's label is observed.
                mask = tf.cast(masks[parent], tf.float32) * tf.where(
                    parent_label > 0, tf.cast(masks[t.name], tf.float32), 1.0)
                out[t.name] = (t, parent_label * child_label,
                               predictions[parent] * predictions[t.name], mask)
            else:
                out[t.name] = (t, labels[t.name], predictions[t.name], masks[t.name])
        return out

    def task_losses(self, labels, masks, predictions) -> dict[str, tf.Tensor]:
        return {name: task_lib.masked_loss(*target)
                for name, target in self.loss_targets(labels, masks, predictions).items()}

    def label_counts(self, labels, masks, predictions) -> dict[str, tf.Tensor]:
        """{task: float scalar} the weight of the labels in the batch the task's loss is over."""
        return {name: tf.reduce_sum(tf.cast(target[3], tf.float32))
                for name, target in self.loss_targets(labels, masks, predictions).items()}

    def observed(self, labels, masks, predictions) -> dict[str, tf.Tensor]:
        """{task: bool scalar} whether the batch has at least one label for the task's loss."""
        return {name: count > 0
                for name, count in self.label_counts(labels, masks, predictions).items()}

    def _update_metrics(self, total, task_losses, labels, masks, predictions):
        self.loss_tracker.update_state(total)
        counts = self.label_counts(labels, masks, predictions)
        for t in self.tasks:
            # Weighted by the batch's labels: over an epoch, the mean loss over every observed
            # label (batches without one count for nothing).
            self.task_loss_trackers[t.name].update_state(task_losses[t.name],
                                                         sample_weight=counts[t.name])
            y_true, y_pred, weight = task_lib.metric_inputs(
                t, labels[t.name], predictions[t.name], masks[t.name])
            for metric in self.task_metrics[t.name]:
                metric.update_state(y_true, y_pred, sample_weight=weight)
        logs = {m.name: m.result() for m in self.metrics}
        for name, value in self.weighting.current_weights().items():
            logs[f"{name}_loss_weight"] = value
        return distribute.reducible_logs(logs)

    def _regularization(self) -> tf.Tensor:
        losses = self.network.losses
        return tf.add_n(losses) if losses else tf.constant(0.0)

    def train_step(self, data):
        inputs, labels, masks = data
        weighting = self.weighting
        with tf.GradientTape(persistent=weighting.uses_task_gradients) as tape:
            predictions = self(inputs, training=True)
            task_losses = self.task_losses(labels, masks, predictions)
            observed = self.observed(labels, masks, predictions)
            total = weighting.combine(task_losses, observed, training=True)
            regularization = self._regularization()
            objective = total + regularization
        variables = self.trainable_variables
        gradients = weighting.compute_gradients(
            tape, objective, regularization, task_losses, observed, variables,
            last_shared=last_shared_variables(self.network, self.architecture)
            if weighting.uses_task_gradients else [],
        )
        del tape
        # Replicas' gradients are summed: each replica contributes 1/N of the global batch.
        gradients = distribute.scale_gradients(gradients)
        pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
        if self.embedding_optimizer is None:
            self.optimizer.apply_gradients(pairs)
        else:
            tables = {id(v) for v in embedding_variables(self.network)}
            self.embedding_optimizer.apply_gradients([p for p in pairs if id(p[1]) in tables])
            self.optimizer.apply_gradients([p for p in pairs if id(p[1]) not in tables])
        return self._update_metrics(total, task_losses, labels, masks, predictions)

    def test_step(self, data):
        inputs, labels, masks = data
        predictions = self(inputs, training=False)
        task_losses = self.task_losses(labels, masks, predictions)
        observed = self.observed(labels, masks, predictions)
        total = self.weighting.combine(task_losses, observed, training=False)
        return self._update_metrics(total, task_losses, labels, masks, predictions)


def table_keys(spec: ProblemSpec) -> tuple[str, ...]:
    """The features with an embedding table, whose id-space size `build_model` needs: the ids
    (categorical, bucketized numeric), the sequences and the texts with a vocabulary of their
    own."""
    return tuple(f.name for f in spec.id_features) + tuple(
        f.name for f in (*spec.sequences, *spec.text_features) if not f.vocabulary)


def build_network(hp: ModelHParams, vocab_sizes: dict[str, int],
                  tasks: tuple[Task, ...] | None = None,
                  spec: ProblemSpec | None = None) -> keras.Model:
    """The functional network: transformed features in, {task: prediction} out."""
    spec = spec or default_spec()
    tasks = spec.default_tasks if tasks is None else tuple(tasks)
    if hp.model not in ARCHITECTURES:
        raise ValueError(f"unknown model {hp.model!r}; choose one of {sorted(ARCHITECTURES)}")
    missing = sorted(set(table_keys(spec)) - set(vocab_sizes))
    if missing:
        raise ValueError(f"vocabulary sizes missing for features {missing}")
    text_model = hp.model == "text_transformer"
    if spec.text_features and not text_model:
        raise ValueError(f"problem {spec.name!r} has text features "
                         f"{[f.name for f in spec.text_features]}: model {hp.model!r} does not "
                         f"read text; use --model text_transformer")
    text_tasks = [t.name for t in tasks if t.kind in ("sequence_labeling", "span")]
    if text_tasks and not text_model:
        raise ValueError(f"tasks {text_tasks} need --model text_transformer")
    inputs = make_inputs(spec)
    outputs = ARCHITECTURES[hp.model](inputs, vocab_sizes, hp, tasks, spec)
    return keras.Model(inputs=inputs, outputs=outputs, name=hp.model)


def build_model(hp: ModelHParams, vocab_sizes: dict[str, int],
                tasks: tuple[Task, ...] | None = None,
                spec: ProblemSpec | None = None) -> MultiTaskModel:
    """The trainable multi-task model for architecture `hp.model` and weighting `hp.weighting`
    on problem `spec` (the default problem when None) and its `tasks` (its default tasks when
    None)."""
    spec = spec or default_spec()
    tasks = spec.default_tasks if tasks is None else tuple(tasks)
    network = build_network(hp, vocab_sizes, tasks, spec)
    model = MultiTaskModel(
        network, tasks, weighting_lib.make_weighting(hp.weighting, tasks, hp),
        architecture=hp.model,
        entire_space=dict(spec.entire_space) if hp.model == "esmm" else None,
        embedding_optimizer=keras.optimizers.Adam(hp.embedding_learning_rate)
        if hp.embedding_learning_rate is not None else None,
    )
    if model.embedding_optimizer is not None:
        # Built now, under the caller's distribution strategy scope: an optimizer first built
        # inside a replicated train step has no per-replica slots to update.
        model.embedding_optimizer.build(embedding_variables(network))
    model.compile(
        optimizer=keras.optimizers.Adam(hp.learning_rate),
        jit_compile=hp.jit_compile,
    )
    return model
