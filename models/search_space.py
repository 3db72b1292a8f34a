"""What the tuner searches, and how its chosen values are laid over a run's hyperparameters.

Pure Python (no TensorFlow, no KerasTuner), so the pipeline can fingerprint it and the Trainer
can apply a tuning result without importing the tuner.

The space is centred on the run's own hyperparameters (the spec's `model.hparams`, then the
flags): every searched value has the run's value as its default, and the first trial of a
search trains exactly those defaults, so a search never picks something worse on the
validation slice than what the run would have trained anyway.

  name                      kind     range                                    applies to
  learning_rate             log      1e-4 .. 1e-2                             every model
  embedding_learning_rate   log      1e-3 .. 1e-1                             runs that set one
  bottom_units              choice   the run's widths x 0.5, x 1, x 2         every model
  tower_units               choice   the run's widths x 0.5, x 1, x 2         every model
  embedding_scale           choice   the run's scale x 0.5, x 1, x 2          every model
  dropout                   float    0.0 .. 0.5, steps of 0.05                every model
  l2                        log      1e-7 .. 1e-3                             every model
  loss_weight_<task>        log      the spec's weight x 0.25 .. x 4          static weighting,
                                                                            every task but the
                                                                            first

A range is widened to hold the run's own value when that falls outside it. The first task's
loss weight stays fixed: scaling every weight at once only rescales the loss, which the
learning rate already searches.
"""

from __future__ import annotations

import dataclasses
import math

from models.hparams import ModelHParams

# Part of the tuning key (pipeline.core.config): a stored result is reused only by a run whose
# search space is the one that produced it. Bump it whenever the table above changes.
SPACE_VERSION = 1
LOSS_WEIGHT_PREFIX = "loss_weight_"
WIDTH_FACTORS = (0.5, 1.0, 2.0)


@dataclasses.dataclass(frozen=True)
class Searched:
    """One searched hyperparameter: `kind` is "log" (a float sampled log-uniformly in
    [low, high]), "float" (uniform on a grid of `step`) or "choice" (one of `values`)."""

    name: str
    kind: str
    default: float | str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    values: tuple = ()


def units_text(units) -> str:
    """(128, 64) -> "128,64" (KerasTuner's choices are scalars)."""
    return ",".join(str(int(u)) for u in units)


def units_value(text: str) -> tuple[int, ...]:
    return tuple(int(u) for u in str(text).split(",") if u)


def _widths(units: tuple[int, ...]) -> tuple[str, ...]:
    out = []
    for factor in WIDTH_FACTORS:
        text = units_text(max(1, round(u * factor)) for u in units)
        if text not in out:
            out.append(text)
    return tuple(out)


def _log(name: str, default: float, low: float, high: float) -> Searched:
    default = float(default)
    if default > 0:
        low, high = min(low, default), max(high, default)
    else:  # a log range cannot hold 0: the first trial uses the range's low end
        default = low
    return Searched(name, "log", default, low, high)


def _round(value: float) -> float:
    """A scale factor times a float, without binary noise (2.0 * 0.5 -> 1.0, not 0.999..)."""
    return float(f"{value:.6g}")


def search_space(hp: ModelHParams, tasks) -> tuple[Searched, ...]:
    """The hyperparameters a search of a run with `hp` and `tasks` tries (see the module's
    table)."""
    space = [_log("learning_rate", hp.learning_rate, 1e-4, 1e-2)]
    if hp.embedding_learning_rate is not None:
        space.append(_log("embedding_learning_rate", hp.embedding_learning_rate, 1e-3, 1e-1))
    for name in ("bottom_units", "tower_units"):
        units = tuple(getattr(hp, name))
        if units:
            space.append(Searched(name, "choice", units_text(units), values=_widths(units)))
    scales = tuple(dict.fromkeys(_round(hp.embedding_scale * f) for f in WIDTH_FACTORS))
    space.append(Searched("embedding_scale", "choice", float(hp.embedding_scale), values=scales))
    dropout = min(max(float(hp.dropout), 0.0), 0.5)
    space.append(Searched("dropout", "float", _round(round(dropout / 0.05) * 0.05), 0.0, 0.5,
                          0.05))
    space.append(_log("l2", hp.l2, 1e-7, 1e-3))
    if hp.weighting == "static":
        for task in tuple(tasks)[1:]:
            if task.loss_weight > 0:
                space.append(_log(LOSS_WEIGHT_PREFIX + task.name, task.loss_weight,
                                  task.loss_weight * 0.25, task.loss_weight * 4))
    return tuple(space)


def default_values(space: tuple[Searched, ...]) -> dict:
    return {s.name: s.default for s in space}


def values_of(hyperparameters) -> dict:
    """The chosen values of a Tuner's `best_hyperparameters` (KerasTuner's config, a dict with
    "space" and "values", as TFX hands it to the Trainer) or of a plain {name: value} dict."""
    if not hyperparameters:
        return {}
    if isinstance(hyperparameters, dict) and "values" in hyperparameters:
        return dict(hyperparameters["values"])
    return dict(hyperparameters)


def apply_tuned(hp: ModelHParams, tasks, values: dict) -> tuple[ModelHParams, tuple]:
    """`hp` and `tasks` with the tuned `values` laid over them (tuned values win).

    A name that is neither a ModelHParams field nor `loss_weight_<task>` of one of `tasks` is
    an error naming it: the result was tuned for another problem or another version."""
    fields = {f.name for f in dataclasses.fields(ModelHParams)}
    by_name = {t.name: t for t in tasks}
    changes: dict = {}
    weights: dict[str, float] = {}
    for name, value in values.items():
        if name.startswith(LOSS_WEIGHT_PREFIX) and name[len(LOSS_WEIGHT_PREFIX):] in by_name:
            weights[name[len(LOSS_WEIGHT_PREFIX):]] = float(value)
        elif name in ("bottom_units", "tower_units"):
            changes[name] = units_value(value)
        elif name in fields:
            changes[name] = value
        else:
            raise ValueError(
                f"tuned hyperparameter {name!r} is neither a model hyperparameter nor the loss "
                f"weight of a task of this run ({sorted(by_name)}): the result comes from "
                f"another problem or version; run with --tune to search again")
    for key in ("learning_rate", "embedding_learning_rate", "embedding_scale", "dropout", "l2"):
        if key in changes and changes[key] is not None:
            changes[key] = float(changes[key])
            if not math.isfinite(changes[key]):
                raise ValueError(f"tuned hyperparameter {key!r} is {changes[key]}")
    if "dropout" in changes:  # a grid value (0.15, not 0.15000000000000002)
        changes["dropout"] = _round(changes["dropout"])
    tuned_hp = dataclasses.replace(hp, **changes)
    tuned_tasks = tuple(dataclasses.replace(t, loss_weight=weights[t.name])
                        if t.name in weights else t for t in tasks)
    return tuned_hp, tuned_tasks


def describe(values: dict) -> str:
    """`learning_rate=0.0031, bottom_units=256,128, ...` in the space's order."""
    parts = []
    for name, value in values.items():
        if isinstance(value, float):
            parts.append(f"{name}={value:.3g}")
        else:
            parts.append(f"{name}={value}")
    return ", ".join(parts)
