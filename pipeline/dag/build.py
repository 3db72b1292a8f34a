"""`create_pipeline`: the one place where the TFX components are wired.

  ImportExampleGen (CsvExampleGen for CSV spans) -> StatisticsGen
                   -> ImportSchemaGen (curated) or SchemaGen -> ExampleValidator
                   -> AnomaliesGate -> Transform -> Trainer
                   -> Evaluator (vs. latest blessed) -> Pusher (GatedPusher: atomic, deduplicated,
                                                               latency-gated)

User code is referenced by dotted path, so building or compiling the pipeline imports no model
code; `pipeline.dag.fingerprint` makes caching follow that code all the same. The problem spec
travels to Transform and Trainer in their `custom_config` (so caching follows its content and
the Kubeflow image needs no user file); the Evaluator's config is derived from it here.
"""

from __future__ import annotations

import json

# The TFX modules themselves, not `tfx.v1`: `tfx.v1` also imports `v1.extensions`, which loads
# the Google Cloud AI Platform SDK (seconds of every `mtl run`, unchanged ones included) that
# no component here uses.
from tfx.components import (
    CsvExampleGen,
    Evaluator,
    ExampleValidator,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy,
)
from tfx.orchestration import metadata as tfx_metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.anomalies_gate.component import AnomaliesGate
from components.curated_schema import CuratedImportSchemaGen
from components.gated_pusher.component import GatedPusher
from components.record_import import RecordImportExampleGen
from pipeline.core.config import PipelineConfig
from pipeline.dag import fingerprint
from pipeline.dag.tuning import tuning_nodes
from pipeline.data import layout, spans
from pipeline.data import schema as schema_lib
from pipeline.evaluation import eval_config as eval_config_lib

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer.run_fn"


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config=None,
) -> Pipeline:
    """The whole pipeline for `config`; `metadata_connection_config` defaults to SQLite."""
    spec = config.spec
    # For TFRecord spans, TFX's ImportExampleGen serializing each record once, as the bytes it
    # hashes for the split (components/record_import.py); its node keeps ImportExampleGen's id.
    example_gen_class = CsvExampleGen if spec.input_format == "csv" else RecordImportExampleGen
    example_gen = example_gen_class(
        input_base=str(config.data_dir),
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(
                name="single_split", pattern=layout.span_pattern(spec.input_format))]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.eval_buckets),
                ],
                # Set only with a split key: the field is a oneof, "" counts as set.
                **({"partition_feature_name": spec.split_key} if spec.split_key else {}),
            )
        ),
    ).with_id("CsvExampleGen" if spec.input_format == "csv" else "ImportExampleGen")
    # Rolling window (config.train_spans > 1): the latest K span artifacts that ImportExampleGen
    # produced, this run's and earlier runs', resolved from ML Metadata by span property.
    span_window = None
    if config.train_spans > 1:
        span_window = Resolver(
            strategy_class=spans.LatestVersionSpanRangeStrategy,
            config={"range_config": spans.rolling_range(config.train_spans)},
            examples=Channel(type=standard_artifacts.Examples,
                                     producer_component_id=example_gen.id, output_key="examples"),
        ).with_id(spans.WINDOW_RESOLVER_ID)
        span_window.add_upstream_node(example_gen)
    train_examples = span_window.outputs["examples"] if span_window else example_gen.outputs["examples"]
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    # The curated schema (pipeline.data.schema.resolve_schema_path): every span is validated
    # against it instead of a schema re-inferred from the span itself (only on request).
    curated = schema_lib.resolve_schema_path(config.schema_path, config.home,
                                             infer=config.infer_schema, spec=spec)
    if curated is not None:
        schema_gen = CuratedImportSchemaGen(
            schema_file=config.schema_runtime_path or str(curated),
            fingerprint=schema_lib.file_fingerprint(curated),
        ).with_id("ImportSchemaGen")
    else:
        schema_gen = SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
        )
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    # Anomalies, a span too small or a label with one value stop the run here: Transform and
    # Trainer read the gate's validated schema.
    reference = schema_lib.reference_stats_path(curated) if curated is not None else None
    anomalies_gate = AnomaliesGate(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        anomalies=example_validator.outputs["anomalies"],
        allow_anomalies=config.allow_anomalies,
        reference_statistics=reference.read_text() if reference and reference.exists() else "",
        label_keys=tuple(t.label_key for t in config.tasks()),
        min_examples=config.min_span_examples,
    )
    validated_schema = anomalies_gate.outputs["validated_schema"]
    # The features the curated schema lets an example lack: Transform imputes them and the
    # model reads their missing-value indicators (models.preprocessing).
    model_spec = spec.with_optional(schema_lib.optional_features(curated, spec))
    transform = Transform(
        examples=train_examples,
        schema=validated_schema,
        preprocessing_fn=PREPROCESSING_FN,
        # A text problem's post-transform statistics count its truncated texts (each text
        # feature's `<feature>_truncated`, printed by the run summary): on for it.
        disable_statistics=not (config.transform_statistics or bool(spec.text_features)),
        custom_config={"code_fingerprint": fingerprint.transform_fingerprint(),
                       "spec": model_spec.to_dict(),
                       "extra_tasks": list(config.extra_tasks)},
    )
    hparams = config.hparams.to_dict()
    model_resolver = Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    # Warm start (opt-in: a new blessed model is a new Trainer input, so it defeats the cache).
    warm_start = {"base_model": model_resolver.outputs["model"]} if config.hparams.warm_start else {}
    trainer_config = {
        "hparams": json.loads(json.dumps(hparams)),
        "code_fingerprint": fingerprint.trainer_fingerprint(),
        "fusion_weights": config.active_fusion_weights(),
        "spec": model_spec.to_dict(),
        "extra_tasks": list(config.extra_tasks),
        "distribution_strategy": config.distribution_strategy,
        "local_workers": config.local_workers,
    }
    # `--tune`: the Tuner's best hyperparameters, or a stored search's, go to the Trainer
    # (pipeline/dag/tuning.py).
    tuning = tuning_nodes(config, transform, validated_schema, trainer_config)
    trainer = Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=validated_schema,
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"], num_steps=config.eval_steps or None),
        custom_config=trainer_config,
        **warm_start,
        **tuning.trainer_inputs,
    )
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=eval_config_lib.make_eval_config(config.tasks(), spec.slices,
                                                     gate_overrides=config.gates),
    )
    # Not tfx.components.Pusher: GatedPusher pushes atomically, skips a model that is already
    # the served one, and refuses a model over the latency budget (components/gated_pusher).
    pusher = GatedPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        examples=example_gen.outputs["examples"],
        serving_dir=str(config.serving_dir),
        latency_budget_ms=config.latency_budget_ms,
        latency_samples=config.latency_samples,
        code_fingerprint=fingerprint.files_fingerprint(
            sorted(fingerprint.package_dir("components").rglob("*.py")),
            fingerprint.package_dir("components"),
        ),
    ).with_id("Pusher")
    if metadata_connection_config is None:
        metadata_connection_config = tfx_metadata.sqlite_metadata_connection_config(
            str(config.metadata_path)
        )
    for component in (example_gen, statistics_gen, transform, evaluator):
        component.with_beam_pipeline_args(list(config.data_beam_args()))
    return Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=str(config.pipeline_root),
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            anomalies_gate,
            transform,
            trainer,
            model_resolver,
            evaluator,
            pusher,
            *([span_window] if span_window else []),
            *tuning.nodes,
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )
