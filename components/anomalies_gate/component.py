"""AnomaliesGate: the TFX component wrapping `executor.Executor`."""

from __future__ import annotations

import json

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts

from components.anomalies_gate import executor, spec


class AnomaliesGate(base_component.BaseComponent):
    """Fails the run when the span has fewer than `min_examples` examples, ExampleValidator
    found anomalies, a drift comparator fired, or a task's labels are all missing or all one
    value; otherwise passes the schema on as `validated_schema`.

    Wire Transform and Trainer to `outputs["validated_schema"]`: they then run only after the
    gate passed, and never on a span it refused.
    """

    SPEC_CLASS = spec.AnomaliesGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        anomalies: types.BaseChannel,
        allow_anomalies: bool = False,
        reference_statistics: str = "",
        label_keys: tuple[str, ...] = (),
        min_examples: int = 0,
    ):
        super().__init__(spec=spec.AnomaliesGateSpec(
            statistics=statistics,
            schema=schema,
            anomalies=anomalies,
            allow_anomalies=int(bool(allow_anomalies)),
            reference_statistics=reference_statistics,
            label_keys=json.dumps(list(label_keys)),
            min_examples=int(min_examples),
            validated_schema=types.Channel(type=standard_artifacts.Schema),
        ))
