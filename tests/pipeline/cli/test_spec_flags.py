"""`--spec FILE --data DIR` reach every way of running the pipeline: `mtl run`, `mtl schedule`
(both through `run_config`), `MTL_RUN_ARGS` (the TFX CLI) and `mtl kfp compile`, whose package
carries the spec in the Transform's and Trainer's custom_config."""

from __future__ import annotations

import json

import yaml

from models.spec import load_spec
from pipeline.cli import main as cli
from pipeline.cli.run_flags import config_from_environment, run_config
from tests.support import shop_problem


def test_run_flags_and_the_tfx_cli_environment_read_the_spec_and_the_data(tmp_path):
    spec = shop_problem.write_spec(tmp_path / "shop.yaml")
    config = run_config(["--spec", str(spec), "--data", str(tmp_path / "d"), "--root",
                         str(tmp_path / "h"), "--model", "mmoe"])
    assert config.spec == load_spec(spec)
    assert config.data_dir == tmp_path / "d" and not config.generates_data
    assert [t.name for t in config.tasks()] == ["add_to_cart", "dwell", "rating"]
    # The spec's hyperparameters are the defaults; flags override them.
    assert (config.hparams.model, config.hparams.epochs, config.hparams.bottom_units) == (
        "mmoe", 3, (64, 32))
    assert run_config(["--spec", str(spec), "--epochs", "5"]).hparams.epochs == 5
    assert config.active_fusion_weights() == {"add_to_cart": 1.0, "dwell": 0.01, "rating": 0.1}
    env = config_from_environment({"MTL_RUN_ARGS": f"--spec {spec} --data {tmp_path / 'd'}",
                                   "MTL_HOME": str(tmp_path / "h")})
    assert env.spec == config.spec and env.data_dir == config.data_dir


def test_the_kubeflow_package_carries_the_spec(tmp_path):
    spec = shop_problem.write_spec(tmp_path / "problem" / "shop.yaml")
    (spec.parent / "schema.pbtxt").write_text(
        'feature { name: "shopper" type: BYTES presence { min_fraction: 1.0 } '
        'shape { dim { size: 1 } } }\n')
    out = tmp_path / "shop.yaml.kfp.yaml"
    assert cli.main(["kfp", "compile", "--output", str(out), "--", "--spec", str(spec),
                     "--root", str(tmp_path / "home")]) == 0
    package = next(yaml.safe_load_all(out.read_text()))
    tasks = package["root"]["dag"]["tasks"]
    for name in ("Transform", "Trainer"):
        value = tasks[name]["inputs"]["parameters"]["custom_config"]["runtimeValue"][
            "constantValue"]["stringValue"]
        assert json.loads(value)["spec"] == load_spec(spec).to_dict()
    assert "CsvExampleGen" not in tasks and "ImportExampleGen" in tasks
