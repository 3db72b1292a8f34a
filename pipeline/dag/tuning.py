"""Where the Trainer's hyperparameters come from when they are tuned (docs/guides/tuning.md).

- `mtl run --tune [TRIALS]` (`config.tune_trials`): TFX's Tuner runs `models.tuning.tuner_fn`
  on the transformed train split and its `best_hyperparameters` go to the Trainer.
- A stored search reused (`config.tuned_hyperparameters`, the artifact folder the local runner
  found in ML Metadata for this run's tuning key): an Importer hands that same artifact to the
  Trainer (`reimport=False`: ML Metadata keeps one artifact, produced by the Tuner of the run
  that searched, so the lineage shows where the values came from).
- Neither: no node is added and the Trainer trains the run's own hyperparameters.
"""

from __future__ import annotations

import dataclasses
import json

from tfx.components import Tuner
from tfx.dsl.components.common.importer import Importer
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts

from pipeline.core.config import PipelineConfig

TUNER_FN = "models.tuning.tuner_fn"
TUNER_ID = "Tuner"
IMPORTER_ID = "stored_hyperparameters"


@dataclasses.dataclass
class TuningNodes:
    """The nodes to add to the pipeline and the Trainer's extra inputs."""

    nodes: list
    trainer_inputs: dict


def tuning_nodes(config: PipelineConfig, transform, schema, custom_config: dict) -> TuningNodes:
    """The Tuner (a search) or the Importer (a stored search reused), or nothing.

    `custom_config` is the Trainer's (hyperparameters, spec, tasks, code fingerprint): the
    Tuner gets the same, plus its budget and the tuning key that later runs look it up by."""
    if config.tune_trials is not None:
        tuner = Tuner(
            tuner_fn=TUNER_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema,
            # Both on the train split: trials are scored on a validation slice carved out of
            # it (models.tuning); the eval split belongs to the Evaluator's gate alone.
            train_args=trainer_pb2.TrainArgs(splits=["train"]),
            eval_args=trainer_pb2.EvalArgs(splits=["train"]),
            custom_config=json.loads(json.dumps(
                custom_config | {"tuning": config.tuning_settings(),
                                 "tuning_key": config.tuning_key()})),
        ).with_id(TUNER_ID)
        return TuningNodes([tuner], {"hyperparameters": tuner.outputs["best_hyperparameters"]})
    if config.tuned_hyperparameters:
        importer = Importer(
            source_uri=config.tuned_hyperparameters,
            artifact_type=standard_artifacts.HyperParameters,
            reimport=False,
        ).with_id(IMPORTER_ID)
        return TuningNodes([importer], {"hyperparameters": importer.outputs["result"]})
    return TuningNodes([], {})
