"""What the Kubeflow compile tests share: the image they compile for, the default pipeline's
tasks and a task's constant parameter."""

from __future__ import annotations

IMAGE = "registry.example.com/mtl-pipeline:test"
TASKS = {
    "ImportExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate",
    "Transform", "Trainer",
    "latest_blessed_model_resolver-model-resolver",
    "latest_blessed_model_resolver-model-blessing-resolver", "Evaluator", "Pusher",
}


def param(task: dict, name: str) -> str:
    """A task's constant input parameter, as the compiled package holds it."""
    return task["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]["stringValue"]
