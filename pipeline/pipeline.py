"""`create_pipeline`: the one place where the TFX components are wired.

  ImportExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator
                   -> Transform -> Trainer -> Evaluator (vs. latest blessed) -> Pusher

User code is referenced by dotted path, so building or compiling the pipeline imports no model
code; `pipeline.fingerprint` makes caching follow that code all the same.
"""

from __future__ import annotations

import json

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from pipeline import eval_config as eval_config_lib
from pipeline import fingerprint
from pipeline.config import PipelineConfig

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer.run_fn"
SPAN_PATTERN = "span-{SPAN}/*.tfrecord.gz"


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config=None,
) -> tfx.dsl.Pipeline:
    """The whole pipeline for `config`; `metadata_connection_config` defaults to SQLite."""
    example_gen = tfx.components.ImportExampleGen(
        input_base=str(config.data_dir),
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern=SPAN_PATTERN)]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.eval_buckets),
                ]
            )
        ),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        disable_statistics=not config.transform_statistics,
        custom_config={"code_fingerprint": fingerprint.transform_fingerprint()},
    )
    hparams = config.hparams.to_dict()
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"], num_steps=config.eval_steps or None),
        custom_config={
            "hparams": json.loads(json.dumps(hparams)),
            "code_fingerprint": fingerprint.trainer_fingerprint(),
        },
    )
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=eval_config_lib.make_eval_config(config.tasks()),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=str(config.serving_dir)
            )
        ),
    )
    if metadata_connection_config is None:
        metadata_connection_config = tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(config.metadata_path)
        )
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=str(config.pipeline_root),
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            transform,
            trainer,
            model_resolver,
            evaluator,
            pusher,
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )
