"""Loss-weighting strategies behind one interface (`--weighting NAME`).

A strategy turns the per-task masked losses of a batch into the one scalar the model reports
(`combine`), turns the tape into the gradients the optimizer applies (`compute_gradients`:
plain backprop of that scalar, or per-task gradient surgery), and reports its current per-task
weights (`current_weights`, logged as `<task>_loss_weight`, hence TensorBoard scalars).

Every strategy receives `observed` ({task: bool scalar}): a task without an observed label in
the batch has a loss of exactly 0 (see `models.tasks.masked_loss`), and each strategy makes sure
it then contributes nothing (no uncertainty regularizer, no DWA average, no GradNorm update)
and never produces a NaN.

  static       fixed weights from the task list.
  uncertainty  Kendall, Gal & Cipolla, CVPR 2018: learned log-variances.
  gradnorm     Chen et al., ICML 2018: weights balancing gradient norms on the last shared layer.
  dwa          Liu, Johns & Davison, CVPR 2019: weights from the rate of change of each loss.
  pcgrad       Yu et al., NeurIPS 2020: conflicting task gradients projected on each other's
               normal plane on the shared parameters.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.spec import Task


def _dense(gradient) -> tf.Tensor | None:
    """Dense tensor of a gradient (embedding gradients come as IndexedSlices)."""
    if gradient is None:
        return None
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


class LossWeighting(keras.layers.Layer):
    """Base class. Subclasses override `combine` and `current_weights` and, when they need the
    per-task gradients (`uses_task_gradients = True`), `compute_gradients`."""

    uses_task_gradients: bool = False

    def __init__(self, tasks: tuple[Task, ...], hparams=None, **kwargs):
        super().__init__(**kwargs)
        self.tasks = tuple(tasks)
        self.hparams = hparams
        # Strategies create their variables (if any) in __init__, so the layer is built at once.
        self.built = True

    def _stack(self, values: dict[str, tf.Tensor], dtype=tf.float32) -> tf.Tensor:
        return tf.stack([tf.cast(values[t.name], dtype) for t in self.tasks])

    def combine(self, task_losses: dict[str, tf.Tensor], observed: dict[str, tf.Tensor],
                training: bool = False) -> tf.Tensor:
        """The weighted total loss; `training` lets stateful strategies update their state."""
        raise NotImplementedError

    def current_weights(self) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def compute_gradients(self, tape: tf.GradientTape, objective: tf.Tensor,
                          regularization: tf.Tensor, task_losses: dict[str, tf.Tensor],
                          observed: dict[str, tf.Tensor], variables: list,
                          last_shared: list) -> list:
        """Gradients for `variables` (same order); by default those of `objective` (the combined
        loss plus `regularization`). Every tensor passed in was computed under `tape`."""
        return tape.gradient(objective, variables)


class StaticWeighting(LossWeighting):
    """Fixed per-task weights from the task list: L = sum_t w_t * L_t."""

    def combine(self, task_losses, observed, training=False):
        return tf.add_n([t.loss_weight * task_losses[t.name] for t in self.tasks])

    def current_weights(self):
        return {t.name: tf.constant(t.loss_weight, tf.float32) for t in self.tasks}


class UncertaintyWeighting(LossWeighting):
    """Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla, "Multi-Task Learning Using
    Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR 2018).

    With a learned s_t = log sigma_t^2 per task:
      regression:     0.5 * exp(-s_t) * L_t + 0.5 * s_t   (Gaussian likelihood, eq. 5)
      classification:       exp(-s_t) * L_t + 0.5 * s_t   (softmax/sigmoid likelihood, eq. 10)
    A task with no observed label adds nothing (neither term), so s_t is not pushed down by
    the regularizer alone. The logged weight is the factor on L_t.
    """

    def __init__(self, tasks, hparams=None, **kwargs):
        super().__init__(tasks, hparams, **kwargs)
        init = float(getattr(hparams, "uncertainty_init", 0.0))
        self.log_variances = self.add_weight(
            shape=(len(self.tasks),), initializer=keras.initializers.Constant(init),
            name="log_variances", trainable=True)
        self.factors = tf.constant([0.5 if t.kind == "regression" else 1.0 for t in self.tasks])

    def combine(self, task_losses, observed, training=False):
        losses = self._stack(task_losses)
        s = tf.convert_to_tensor(self.log_variances)
        terms = self.factors * tf.exp(-s) * losses + 0.5 * s
        return tf.reduce_sum(tf.where(self._stack(observed, tf.bool), terms, 0.0))

    def current_weights(self):
        weights = self.factors * tf.exp(-tf.convert_to_tensor(self.log_variances))
        return {t.name: weights[i] for i, t in enumerate(self.tasks)}


def dwa_weights(previous: tf.Tensor, before_previous: tf.Tensor,
                temperature: float) -> tf.Tensor:
    """Dynamic Weight Average (Liu, Johns & Davison, "End-to-End Multi-Task Learning with
    Attention", CVPR 2019, eq. 7): r_t = L_t(k-1) / L_t(k-2), w = T * softmax(r / temperature).

    A task whose average is 0 in either period (no observed label) gets r_t = 1.
    """
    previous = tf.cast(previous, tf.float32)
    before_previous = tf.cast(before_previous, tf.float32)
    valid = (previous > 0) & (before_previous > 0)
    ratio = tf.where(valid, tf.math.divide_no_nan(previous, before_previous), 1.0)
    n = tf.cast(tf.size(ratio), tf.float32)
    return n * tf.nn.softmax(ratio / temperature)


class DWAWeighting(LossWeighting):
    """Dynamic Weight Average (Liu et al., CVPR 2019): the weights of period k follow how fast
    each task's average loss fell over the two previous periods (see `dwa_weights`); weights are
    1 for the first two periods. The paper's period is an epoch; here it is `dwa_period_steps`
    training steps (set it to the steps per epoch to match), kept in graph so it works under
    `tf.function` and XLA. Averages are over the batches where the task had a label.
    """

    def __init__(self, tasks, hparams=None, **kwargs):
        super().__init__(tasks, hparams, **kwargs)
        self.temperature = float(getattr(hparams, "dwa_temperature", 2.0))
        self.period = int(getattr(hparams, "dwa_period_steps", 50))
        if self.period < 1:
            raise ValueError(f"dwa_period_steps must be >= 1, got {self.period}")
        n = len(self.tasks)

        def state(name, value=0.0, shape=(n,)):
            return self.add_weight(shape=shape, initializer=keras.initializers.Constant(value),
                                   name=name, trainable=False)

        self.weights_var = state("weights", 1.0)
        self.loss_sum = state("loss_sum")
        self.loss_count = state("loss_count")
        self.previous = state("previous_average")
        self.before_previous = state("before_previous_average")
        self.steps = state("steps", shape=())
        self.periods = state("periods", shape=())

    def update(self, losses: tf.Tensor, observed: tf.Tensor) -> None:
        """Accumulates one batch; at a period's end shifts the averages and updates weights."""
        self.loss_sum.assign_add(tf.where(observed, losses, 0.0))
        self.loss_count.assign_add(tf.cast(observed, tf.float32))
        self.steps.assign_add(1.0)
        boundary = tf.equal(tf.math.floormod(self.steps, float(self.period)), 0.0)
        average = tf.math.divide_no_nan(self.loss_sum, self.loss_count)
        before = tf.where(boundary, tf.convert_to_tensor(self.previous), self.before_previous)
        previous = tf.where(boundary, average, tf.convert_to_tensor(self.previous))
        periods = self.periods + tf.cast(boundary, tf.float32)
        self.before_previous.assign(before)
        self.previous.assign(previous)
        self.periods.assign(periods)
        self.weights_var.assign(tf.where(
            boundary & (periods >= 2.0), dwa_weights(previous, before, self.temperature),
            tf.convert_to_tensor(self.weights_var)))
        self.loss_sum.assign(tf.where(boundary, 0.0, tf.convert_to_tensor(self.loss_sum)))
        self.loss_count.assign(tf.where(boundary, 0.0, tf.convert_to_tensor(self.loss_count)))

    def combine(self, task_losses, observed, training=False):
        losses = self._stack(task_losses)
        total = tf.reduce_sum(tf.stop_gradient(tf.convert_to_tensor(self.weights_var)) * losses)
        if training:
            self.update(tf.stop_gradient(losses), self._stack(observed, tf.bool))
        return total

    def current_weights(self):
        weights = tf.convert_to_tensor(self.weights_var)
        return {t.name: weights[i] for i, t in enumerate(self.tasks)}


def gradnorm_update(weights: tf.Tensor, grad_norms: tf.Tensor, loss_ratios: tf.Tensor,
                    valid: tf.Tensor, alpha: float, learning_rate: float) -> tf.Tensor:
    """One GradNorm step on the task weights (Chen et al., "GradNorm: Gradient Normalization for
    Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018, eq. 1-2).

    G_t = w_t * ||grad_W L_t||, target_t = mean(G) * r_t^alpha with r_t the task's relative
    inverse training rate (loss ratio L_t / L_t(0) divided by its mean), held constant;
    L_grad = sum_t |G_t - target_t|, so dL_grad/dw_t = sign(G_t - target_t) * ||grad_W L_t||.
    After the step the weights are clipped positive and renormalized to sum to T. Tasks that are
    not `valid` (no observed label, no gradient) are left out of the means and not updated.
    """
    weights = tf.cast(weights, tf.float32)
    valid_f = tf.cast(valid, tf.float32)
    count = tf.reduce_sum(valid_f)
    ratios = tf.where(valid, loss_ratios, 0.0)
    mean_ratio = tf.math.divide_no_nan(tf.reduce_sum(ratios), count)
    relative = tf.where(valid, tf.math.divide_no_nan(ratios, mean_ratio), 1.0)
    g = weights * grad_norms
    mean_g = tf.math.divide_no_nan(tf.reduce_sum(tf.where(valid, g, 0.0)), count)
    target = mean_g * tf.pow(relative, alpha)
    grad = tf.where(valid, tf.sign(g - target) * grad_norms, 0.0)
    new = tf.maximum(weights - learning_rate * grad, 1e-3)
    n = tf.cast(tf.size(new), tf.float32)
    return new * n / tf.reduce_sum(new)


class GradNormWeighting(LossWeighting):
    """GradNorm (Chen et al., ICML 2018): task weights w_t (starting at 1, summing to T) are
    moved so that each task's weighted gradient norm on the last shared layer (see
    `models.model.last_shared_variables`) approaches the mean norm times its relative inverse
    training rate to the power alpha (`gradnorm_alpha`). The network is trained on
    sum_t w_t * L_t; the weights have their own plain gradient step (`gradnorm_lr`).
    L_t(0) is the task's first observed batch loss.
    """

    uses_task_gradients = True

    def __init__(self, tasks, hparams=None, **kwargs):
        super().__init__(tasks, hparams, **kwargs)
        self.alpha = float(getattr(hparams, "gradnorm_alpha", 1.5))
        self.learning_rate = float(getattr(hparams, "gradnorm_lr", 0.025))
        n = len(self.tasks)
        self.weights_var = self.add_weight(shape=(n,), initializer="ones", name="weights",
                                           trainable=False)
        self.initial_losses = self.add_weight(shape=(n,), initializer="zeros",
                                              name="initial_losses", trainable=False)

    def combine(self, task_losses, observed, training=False):
        weights = tf.stop_gradient(tf.convert_to_tensor(self.weights_var))
        return tf.reduce_sum(weights * self._stack(task_losses))

    def current_weights(self):
        weights = tf.convert_to_tensor(self.weights_var)
        return {t.name: weights[i] for i, t in enumerate(self.tasks)}

    def compute_gradients(self, tape, objective, regularization, task_losses, observed,
                          variables, last_shared):
        if not last_shared:
            raise ValueError("gradnorm needs the last shared layer's variables")
        gradients = tape.gradient(objective, variables)
        norms = []
        for t in self.tasks:
            grads = [_dense(g) for g in tape.gradient(task_losses[t.name], last_shared)]
            squares = [tf.reduce_sum(tf.square(g)) for g in grads if g is not None]
            norms.append(tf.sqrt(tf.add_n(squares)) if squares else tf.constant(0.0))
        norms = tf.stack(norms)
        losses = tf.stop_gradient(self._stack(task_losses))
        obs = self._stack(observed, tf.bool)
        initial = tf.where(obs & (self.initial_losses <= 0.0), losses,
                           tf.convert_to_tensor(self.initial_losses))
        self.initial_losses.assign(initial)
        valid = obs & (initial > 0.0) & (norms > 0.0)
        ratios = tf.math.divide_no_nan(losses, initial)
        self.weights_var.assign(gradnorm_update(self.weights_var, norms, ratios, valid,
                                                self.alpha, self.learning_rate))
        return gradients


def pcgrad_project(gradients: tf.Tensor) -> tf.Tensor:
    """PCGrad's projection (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020,
    Algorithm 1) on [T, D] per-task gradients: for each task i and each other task j (in task
    order; the paper samples a random order), if g_i . g_j < 0, g_i -= (g_i . g_j / |g_j|^2) g_j,
    using the original g_j. Returns the [T, D] projected gradients (their sum is the update).
    A zero gradient (a task without labels in the batch) never conflicts and is never projected.
    """
    n = gradients.shape[0]
    out = []
    for i in range(n):
        g = gradients[i]
        for j in range(n):
            if j == i:
                continue
            other = gradients[j]
            dot = tf.reduce_sum(g * other)
            scale = tf.math.divide_no_nan(dot, tf.reduce_sum(other * other))
            g = g - tf.where(dot < 0.0, scale, 0.0) * other
        out.append(g)
    return tf.stack(out)


class PCGradWeighting(StaticWeighting):
    """PCGrad (Yu et al., NeurIPS 2020) over the static weights: the per-task gradients of
    w_t * L_t are computed separately; on the shared parameters (those that receive a gradient
    from two tasks or more, found from the graph) they are projected with `pcgrad_project` and
    summed; task-specific parameters get the plain sum. The regularization gradient is added
    unchanged."""

    uses_task_gradients = True

    def compute_gradients(self, tape, objective, regularization, task_losses, observed,
                          variables, last_shared):
        per_task = [
            [None if g is None else _dense(g) * t.loss_weight
             for g in tape.gradient(task_losses[t.name], variables)]
            for t in self.tasks
        ]
        regularization_grads = tape.gradient(regularization, variables)
        shared = [i for i in range(len(variables))
                  if sum(grads[i] is not None for grads in per_task) >= 2]
        out: list = []
        for i in range(len(variables)):
            present = [_dense(grads[i]) for grads in per_task if grads[i] is not None]
            out.append(tf.add_n(present) if present and i not in shared else None)
        if shared:
            shapes = [variables[i].shape for i in shared]
            sizes = [int(s.num_elements()) for s in shapes]
            flat = tf.stack([
                tf.concat([
                    tf.reshape(_dense(grads[i]), [-1]) if grads[i] is not None
                    else tf.zeros([size]) for i, size in zip(shared, sizes)
                ], axis=0)
                for grads in per_task
            ])
            summed = tf.reduce_sum(pcgrad_project(flat), axis=0)
            for i, part, shape in zip(shared, tf.split(summed, sizes), shapes):
                out[i] = tf.reshape(part, shape)
        for i, g in enumerate(regularization_grads):
            if g is not None:
                out[i] = _dense(g) if out[i] is None else out[i] + _dense(g)
        return out


STRATEGIES = {
    "static": StaticWeighting,
    "uncertainty": UncertaintyWeighting,
    "gradnorm": GradNormWeighting,
    "dwa": DWAWeighting,
    "pcgrad": PCGradWeighting,
}


def make_weighting(name: str, tasks: tuple[Task, ...], hparams=None) -> LossWeighting:
    """The strategy `name` for `tasks`, configured from `hparams` (a `ModelHParams`)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown loss weighting {name!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[name](tasks, hparams, name=f"{name}_weighting")
