"""Caching follows the code: model edits change the Trainer's key only, preprocessing edits both."""

import shutil

from tfx.dsl.compiler import compiler

from pipeline.core.config import PipelineConfig
from pipeline.dag import fingerprint
from pipeline.dag.build import create_pipeline


def _copy_models(tmp_path):
    root = tmp_path / "models"
    shutil.copytree(fingerprint.package_dir(), root,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _append(path, text="\n# edited\n"):
    path.write_text(path.read_text() + text)


def test_editing_the_model_changes_the_trainer_fingerprint_only(tmp_path):
    root = _copy_models(tmp_path)
    before = fingerprint.transform_fingerprint(root), fingerprint.trainer_fingerprint(root)
    _append(root / "model.py")
    after = fingerprint.transform_fingerprint(root), fingerprint.trainer_fingerprint(root)
    assert after[0] == before[0]
    assert after[1] != before[1]


def test_editing_preprocessing_or_features_changes_the_transform_fingerprint(tmp_path):
    root = _copy_models(tmp_path)
    for name in ("preprocessing.py", "spec/parsing.py", "spec/problem.py"):
        before = fingerprint.transform_fingerprint(root), fingerprint.trainer_fingerprint(root)
        _append(root / name)
        after = fingerprint.transform_fingerprint(root), fingerprint.trainer_fingerprint(root)
        assert after[0] != before[0], name
        assert after[1] != before[1], name


def test_transform_fingerprint_covers_every_models_module_preprocessing_imports():
    import ast

    source = (fingerprint.package_dir() / "preprocessing.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "models":
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("models."):
            imported.add(node.module.split(".")[1])
    imported = {name if (fingerprint.package_dir() / name).is_dir() else f"{name}.py"
                for name in imported}
    assert imported <= set(fingerprint.TRANSFORM_MODULES)


def test_compiled_pipeline_carries_the_fingerprints_in_the_cache_keys(tmp_path):
    config = PipelineConfig(root=str(tmp_path / "home"))
    ir = compiler.Compiler().compile(create_pipeline(config))
    nodes = {n.pipeline_node.node_info.id: n.pipeline_node for n in ir.nodes}
    transform_config = nodes["Transform"].parameters.parameters["custom_config"]
    trainer_config = nodes["Trainer"].parameters.parameters["custom_config"]
    assert fingerprint.transform_fingerprint() in transform_config.field_value.string_value
    assert fingerprint.trainer_fingerprint() in trainer_config.field_value.string_value
    assert '"model": "shared_bottom"' in trainer_config.field_value.string_value
