"""Model versions: describe a model, TF Serving's models.config with A/B labels, promote.

- `describe_model(dir)`: the signatures of a SavedModel (input names, dtypes, shapes; output
  names) read from `saved_model.pb`, plus the contract in `assets.extra/serving_contract.json`.
- `write_models_config` / `promote`: `<home>/serving/models.config`, TF Serving's
  `--model_config_file`, serving two versions with the labels `stable` and `canary`; `mtl
  promote VERSION` moves `stable` (or `--label canary`) to a pushed version.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from components.gated_pusher import push
from models.signatures import CONTRACT_FILE, SERVING_DEFAULT

MODELS_CONFIG = "models.config"
STABLE, CANARY = "stable", "canary"


# --- describe-model -----------------------------------------------------------------------------

def resolve_model_dir(path: str | os.PathLike) -> Path:
    """`path` if it is a SavedModel, else the newest numeric version under it."""
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return path
    latest = push.latest_version(path)
    if latest is None:
        raise FileNotFoundError(f"{path} is neither a SavedModel folder (no saved_model.pb) "
                                f"nor a serving folder with numeric versions")
    return path / str(latest)


def describe_model(path: str | os.PathLike) -> str:
    """Human-readable signatures and contract of a SavedModel (or a serving folder's newest)."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import dtypes

    model_dir = resolve_model_dir(path)
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((model_dir / "saved_model.pb").read_bytes())

    def shape(info) -> str:
        if info.tensor_shape.unknown_rank:
            return "?"
        return "[" + ",".join("batch" if d.size == -1 else str(d.size)
                              for d in info.tensor_shape.dim) + "]"

    lines = [f"SavedModel {model_dir}"]
    for meta in saved.meta_graphs:
        for name, sig in sorted(meta.signature_def.items()):
            if name.startswith("__"):
                continue
            lines += ["", f"signature {name!r} ({sig.method_name})", "  inputs:"]
            for key, info in sorted(sig.inputs.items()):
                lines.append(f"    {key:<20} {dtypes.as_dtype(info.dtype).name:<8} {shape(info)}")
            lines.append("  outputs:")
            for key, info in sorted(sig.outputs.items()):
                lines.append(f"    {key:<20} {dtypes.as_dtype(info.dtype).name:<8} {shape(info)}")
    contract_path = model_dir / CONTRACT_FILE
    if contract_path.exists():
        contract = json.loads(contract_path.read_text())
        lines += ["", "defaults for absent features:"]
        for key, value in sorted(contract.get("defaults", {}).items()):
            lines.append(f"    {key:<20} {json.dumps(value)}")
        if "oov" in contract:
            lines.append(f"    ({contract['oov']})")
        optional = contract.get("optional", {})
        if optional:
            lines += ["", "optional features: a request may omit them (serving_default: leave "
                          "them out of the tf.Example; serving_raw: send the absent value), and "
                          "the model's transform imputes them as in training:"]
            for key, info in sorted(optional.items()):
                lines.append(f"    {key:<20} absent in serving_raw: "
                             f"{json.dumps(info['serving_raw'])}; imputed: {info['imputed']}")
        weights = contract.get("fusion_weights", {})
        lines += ["", "score = " + " + ".join(f"{w:g} * {t}" for t, w in sorted(weights.items()))]
        outputs = contract.get("signatures", {}).get(SERVING_DEFAULT, {}).get("outputs", {})
        lines += ["", "outputs:"] + [f"    {k:<20} {v}" for k, v in sorted(outputs.items())]
    return "\n".join(lines)


# --- models.config and version labels -----------------------------------------------------------

def models_config_text(model_name: str, base_path: str, labels: dict[str, int]) -> str:
    """TF Serving's ModelServerConfig (text proto) serving the labelled versions."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = base_path
    model.model_platform = "tensorflow"
    for version in sorted(set(labels.values())):
        model.model_version_policy.specific.versions.append(int(version))
    for label in (STABLE, CANARY):
        if label in labels:
            model.version_labels[label] = int(labels[label])
    return text_format.MessageToString(config)


def read_models_config(path: str | os.PathLike) -> tuple[str, dict[str, int]]:
    """(base_path, labels) of a models.config written by `write_models_config`."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(Path(path).read_text(), config)
    (model,) = config.model_config_list.config
    return model.base_path, dict(model.version_labels)


def write_models_config(path: str | os.PathLike, model_name: str, base_path: str,
                        labels: dict[str, int]) -> Path:
    """Writes models.config atomically (temp file, then rename): TF Serving polls it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(models_config_text(model_name, base_path, labels))
    os.replace(tmp, path)
    return path


def promote(serving_dir: str | os.PathLike, model_name: str, version: int,
            label: str = STABLE, base_path: str | None = None) -> tuple[Path, dict[str, int]]:
    """Points `label` (stable or canary) at pushed `version` in `<serving_dir>/../models.config`.

    Promoting the canary's version to stable retires the canary label. A config that does not
    exist yet is created (its base path is `base_path`, default the serving folder itself).
    """
    if label not in (STABLE, CANARY):
        raise ValueError(f"label must be {STABLE!r} or {CANARY!r}, got {label!r}")
    serving_dir = Path(serving_dir)
    available = push.versions(serving_dir)
    if int(version) not in available:
        raise ValueError(f"version {version} is not pushed under {serving_dir}; "
                         f"pushed versions: {available}")
    path = serving_dir.parent / MODELS_CONFIG
    labels: dict[str, int] = {}
    if path.exists():
        existing_base, labels = read_models_config(path)
        base_path = base_path or existing_base
    labels[label] = int(version)
    if label == STABLE and labels.get(CANARY) == int(version):
        del labels[CANARY]
    if STABLE not in labels:
        labels[STABLE] = int(version)
    write_models_config(path, model_name, base_path or str(serving_dir.resolve()), labels)
    return path, labels
