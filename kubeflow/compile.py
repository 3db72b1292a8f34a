"""Compiles `pipeline.dag.build.create_pipeline` with `KubeflowV2DagRunner` to a KFP v2 spec.

  mtl kfp compile --output mtl_pipeline.yaml --image REGISTRY/mtl-pipeline:0.1.0 \\
      --pvc mtl-home -- --root /mnt/mtl --epochs 3     # `mtl run` flags after --

Packaging: the module code is installed in the pipeline image (kubeflow/Dockerfile installs the
project) and the components find it by dotted path (`models.preprocessing.preprocessing_fn`,
`models.trainer.run_fn`), so compiling never builds or uploads a user-code wheel and works
offline; the image tag is the code version.

Paths: `--root` is the home as seen INSIDE the pods (a ReadWriteMany volume or a bucket mounted
at the same path in every step and in the TF Serving Deployment, e.g. /mnt/mtl or Vertex AI's
/gcs/<bucket>/mtl). The spans are read from <root>/data/span-<N>/, models are pushed to
<root>/serving/<model_name>/<version>/.
"""

from __future__ import annotations

import os
import tempfile

from pipeline.core.config import PipelineConfig
from pipeline.data import schema as schema_lib

DEFAULT_IMAGE = "mtl-pipeline:0.1.0"
DEFAULT_HOME = "/mnt/mtl"
# The PersistentVolumeClaim holding the home, as in kubeflow/serving/tf-serving.yaml.
DEFAULT_PVC = "mtl-home"


# Where the packaged curated schema sits in the image (kubeflow/Dockerfile installs the wheel
# into python:3.10's site-packages and checks that this file is there).
IMAGE_SITE_PACKAGES = "/usr/local/lib/python3.10/site-packages"
IMAGE_SCHEMA_PATH = f"{IMAGE_SITE_PACKAGES}/models/problems/recommendation/schema.pbtxt"


def platform_spec(spec: dict, pvc: str, mount_path: str) -> dict:
    """The KFP Kubernetes platform document mounting PersistentVolumeClaim `pvc` at
    `mount_path` in every container step (the format kfp-kubernetes writes as the package's
    second YAML document: platforms.kubernetes.deploymentSpec.executors.<executor>.pvcMount)."""
    executors = {
        name: {"pvcMount": [{"constant": pvc, "mountPath": mount_path}]}
        for name, executor in sorted(spec["deploymentSpec"]["executors"].items())
        if "container" in executor
    }
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def compile_pipeline(config: PipelineConfig, output_path: str, image: str = DEFAULT_IMAGE,
                     pvc: str | None = DEFAULT_PVC) -> dict:
    """Compiles `create_pipeline(config)` and writes the KFP package to `output_path` (.yaml),
    atomically; returns TFX's whole PipelineJob dict.

    The package holds the `PipelineSpec` (the format `kfp.Client` and the KFP UI upload) and,
    with `pvc`, a second document that mounts that PersistentVolumeClaim at the home
    (`config.home`) in every step. The job's pipeline root is given when a run is created
    (`mtl kfp submit` sends `config.pipeline_root`).
    """
    import yaml
    from tfx import v1 as tfx

    from pipeline.dag.build import create_pipeline

    if not output_path.endswith((".yaml", ".yml")):
        raise ValueError(f"--output {output_path}: expected a .yaml file (the kfp package format)")
    if config.train_spans > 1:
        # Why, in full: docs/guides/retraining-window.md, "Kubeflow".
        raise ValueError(
            f"train_spans={config.train_spans}: the Kubeflow v2 compiler only supports the "
            "LatestArtifact resolver (one artifact) and the LatestBlessedModel resolver "
            "(tfx/orchestration/kubeflow/v2/step_builder.py), not the span window's "
            "SpanRange resolver, and a Kubeflow step has no ML Metadata connection to list "
            "the window's span artifacts itself; compile with --train-spans 1")
    curated = schema_lib.resolve_schema_path(config.schema_path, config.home,
                                             infer=config.infer_schema, spec=config.spec)
    if config.schema_runtime_path is None and curated == schema_lib.default_schema_path():
        # The packaged schema is read inside the pods, from the image's installed package; a
        # home's own or an explicit schema is read at its path (the home is mounted there).
        config = config.replace(schema_runtime_path=IMAGE_SCHEMA_PATH)
    output_path = os.path.abspath(output_path)
    out_dir = os.path.dirname(output_path)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".kfp-compile.") as tmp:
        runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
            output_dir=tmp,
            output_filename="pipeline_job.json",
        )
        job = runner.run(create_pipeline(config), write_out=True)
        spec = job["pipelineSpec"]
        docs = [spec] + ([platform_spec(spec, pvc, str(config.home))] if pvc else [])
        tmp_out = os.path.join(tmp, "package.yaml")
        with open(tmp_out, "w") as f:
            yaml.safe_dump_all(docs, f, sort_keys=True)
        os.replace(tmp_out, output_path)
    return job
