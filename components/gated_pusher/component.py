"""GatedPusher: TFX's Pusher with an atomic push, no duplicate pushes and a latency gate.

Replaces `tfx.components.Pusher` in `pipeline.dag.build.create_pipeline`. Its output is the same
`PushedModel` artifact with the stock custom properties (`pushed`, `pushed_destination`,
`pushed_version`), plus `push_decision` (why it did or did not push), `latency_p50_ms`,
`latency_p99_ms`, `latency_budget_ms` and `served_version`; the same record is written as
`push_record.json` in the artifact's folder, so monitoring can read the figure per run.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.gated_pusher import executor, spec
from components.gated_pusher.latency import DEFAULT_LATENCY_BUDGET_MS, DEFAULT_LATENCY_SAMPLES


class GatedPusher(base_component.BaseComponent):
    """Pushes a blessed model fast enough to serve, unless it is already the served one.

    Args:
      model: the Trainer's model.
      model_blessing: the Evaluator's blessing.
      examples: ImportExampleGen's examples; `latency_split` (default "eval") is timed.
      serving_dir: the TF Serving model folder (`<base>/<model name>`).
      latency_budget_ms: the largest allowed p99 of `serving_default` at batch 1.
      latency_samples: how many examples are timed, one call each.
      code_fingerprint: a hash of this component's code, so caching follows code changes.
    """

    SPEC_CLASS = spec.GatedPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel,
        examples: types.BaseChannel,
        serving_dir: str,
        latency_budget_ms: float = DEFAULT_LATENCY_BUDGET_MS,
        latency_samples: int = DEFAULT_LATENCY_SAMPLES,
        latency_split: str = "eval",
        code_fingerprint: str | None = None,
    ):
        if latency_budget_ms <= 0:
            raise ValueError(f"latency_budget_ms must be > 0, got {latency_budget_ms}")
        if latency_samples < 1:
            raise ValueError(f"latency_samples must be >= 1, got {latency_samples}")
        super().__init__(spec=spec.GatedPusherSpec(**{
            spec.MODEL_KEY: model,
            spec.MODEL_BLESSING_KEY: model_blessing,
            spec.EXAMPLES_KEY: examples,
            spec.SERVING_DIR_KEY: str(serving_dir),
            spec.LATENCY_BUDGET_MS_KEY: float(latency_budget_ms),
            spec.LATENCY_SAMPLES_KEY: int(latency_samples),
            spec.LATENCY_SPLIT_KEY: latency_split,
            spec.CODE_FINGERPRINT_KEY: code_fingerprint,
            spec.PUSHED_MODEL_KEY: types.Channel(type=standard_artifacts.PushedModel),
        }))
