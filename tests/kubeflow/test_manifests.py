"""The pipeline image and the TF Serving manifests agree with the pipeline's configuration."""

from __future__ import annotations

import re
from pathlib import Path

import setuptools
import tomli as tomllib  # pytest's own dependency on Python 3.10
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_tf_serving_serves_the_pushers_folder_from_the_pipelines_volume():
    from kubeflow.compile import DEFAULT_HOME, DEFAULT_PVC
    from pipeline.core.config import PipelineConfig

    deployment, service = yaml.safe_load_all((ROOT / "kubeflow/serving/tf-serving.yaml").read_text())
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
    config = PipelineConfig(root=DEFAULT_HOME)
    # TF Serving polls the folder the Pusher writes versions into.
    assert args["model_base_path"] == str(config.serving_dir)
    assert args["model_name"] == config.model_name
    [mount] = container["volumeMounts"]
    assert mount["mountPath"] == DEFAULT_HOME
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"]["claimName"] == DEFAULT_PVC
    # The Service selects the Deployment's pods and exposes gRPC and REST.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels == service["spec"]["selector"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": int(args["port"]), "http": int(args["rest_api_port"])}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    assert container["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{config.model_name}"


def test_dockerfile_installs_every_package_with_the_locked_versions():
    text = (ROOT / "kubeflow/Dockerfile").read_text()
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = setuptools.find_packages(str(ROOT), include=find["find"]["include"])
    copied = set(re.findall(r"^COPY (\w+) \1$", text, flags=re.M))
    assert copied == {p.split(".")[0] for p in packages}  # subpackages come with their parent
    # Every sub-package with code is found (the wheel test installs and imports them all).
    assert {"components.anomalies_gate", "pipeline.data", "pipeline.datasets",
            "pipeline.cli"} <= set(packages)
    assert re.search(r"^COPY constraints\.txt pyproject\.toml", text, flags=re.M)
    assert "pip install --no-cache-dir -c constraints.txt ." in text
    # The image's Python matches the project's (TFX 1.16 needs 3.10).
    assert re.search(r"^FROM python:3\.10", text, flags=re.M)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires.startswith(">=3.10")


def test_tfjob_runs_the_local_clusters_worker_command_in_the_pipeline_image():
    from kubeflow.compile import DEFAULT_HOME, DEFAULT_IMAGE, DEFAULT_PVC
    from models import cluster

    [job] = yaml.safe_load_all((ROOT / "kubeflow/training/tfjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    replicas = job["spec"]["tfReplicaSpecs"]
    # A chief (MultiWorkerMirroredStrategy's writer, models.distribute.is_chief) and workers:
    # the same two jobs models.cluster.tf_configs names locally; 2 processes in all.
    assert set(replicas) == {"Chief", "Worker"}
    assert replicas["Chief"]["replicas"] == 1
    assert replicas["Chief"]["replicas"] + replicas["Worker"]["replicas"] == 2
    for spec in replicas.values():
        assert spec["restartPolicy"] == "Never"
        pod = spec["template"]["spec"]
        [container] = pod["containers"]
        assert container["name"] == "tensorflow"  # the operator's required container name
        assert container["image"] == DEFAULT_IMAGE  # what `mtl kfp compile` defaults to
        command = container["command"]
        assert tuple(command[:-1]) == cluster.WORKER_COMMAND
        assert command[-1] == f"{DEFAULT_HOME}/trainer/{cluster.ARGS_FILE}"
        [mount] = container["volumeMounts"]
        assert mount["mountPath"] == DEFAULT_HOME
        [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["persistentVolumeClaim"]["claimName"] == DEFAULT_PVC
    # Chief and Worker pods are the same but for their count.
    assert replicas["Chief"]["template"] == replicas["Worker"]["template"]
