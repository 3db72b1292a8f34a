"""The problem spec: loading, validation errors that name the file and the field, round trips."""

from __future__ import annotations

import json

import pytest
import yaml

from models.spec import ProblemSpec, SpecError, default_spec, load_spec
from pipeline.cli.main import main
from tests.support import shop_problem

BASE = yaml.safe_load(shop_problem.spec_text())


def _write(tmp_path, values, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(json.dumps(values) if name.endswith(".json") else yaml.safe_dump(values))
    return path


def _changed(change) -> dict:
    values = json.loads(json.dumps(BASE))
    change(values)
    return values


def test_the_default_spec_is_the_recommendation_funnel():
    spec = default_spec()
    assert spec.name == "recommendation_funnel"
    assert [t.name for t in spec.default_tasks] == ["click", "conversion", "watch_time", "like"]
    assert [(t.name, t.kind, t.num_classes) for t in spec.optional_tasks] == [
        ("engagement_level", "multiclass", 3)]
    kinds = {f.name: f.kind for f in spec.features}
    assert kinds["history_item_ids"] == "sequence"
    assert spec.feature("history_item_ids").vocabulary == "item_id"
    assert [f.name for f in spec.numeric] == ["price", "item_ctr_7d", "user_age", "hour"]
    watch = spec.task("watch_time")
    assert (watch.scale, watch.threshold, watch.max_change, watch.missing_label) == (30, 60, 5, -1)
    assert spec.slices == ("device",) and spec.entire_space == {"conversion": "click"}


@pytest.mark.parametrize("suffix", ["yaml", "json"])
def test_a_spec_round_trips_through_yaml_json_and_its_dict(tmp_path, suffix):
    spec = load_spec(_write(tmp_path, BASE, f"shop.{suffix}"))
    assert ProblemSpec.from_dict(spec.to_dict()) == spec
    assert spec.task("dwell").missing_label == -99 and spec.task("dwell").label_key == "dwell_seconds"
    assert spec.task("rating").classes == ("awful", "poor", "fine", "good", "great")
    assert spec.task("dwell").gate == {"change_mode": "relative", "naive_ratio": 0.99}
    assert spec.feature("session_minutes").is_id and spec.feature("basket_value").is_dense_numeric


BAD = [
    ("unknown feature kind", lambda v: v["features"][0].update(kind="text_blob"),
     "features[0].kind", "unknown value 'text_blob'"),
    ("duplicate feature", lambda v: v["features"].append(dict(v["features"][0])),
     "features[8].name", "'shopper' is already the name of features[0]"),
    ("duplicate task", lambda v: v["tasks"].append(dict(v["tasks"][0])),
     "tasks[3].name", "'add_to_cart' is already the name of tasks[0]"),
    ("no gate bound", lambda v: v["tasks"][0]["gate"].pop("bound"),
     "tasks[0].gate.bound", "is required"),
    ("gate metric of another kind", lambda v: v["tasks"][1]["gate"].update(metric="auc"),
     "tasks[1].gate.metric", "a regression task is gated on rmse"),
    ("no gate", lambda v: v["tasks"][2].pop("gate"), "tasks[2].gate", "is required"),
    ("shared vocabulary that does not exist",
     lambda v: v["features"][6].update(vocabulary="sku"),
     "features[6].vocabulary", "'sku' is not a feature"),
    ("vocabulary of a numeric feature",
     lambda v: v["features"][6].update(vocabulary="visits_30d"),
     "features[6].vocabulary", "is a numeric feature"),
    ("a label that is a feature", lambda v: v["tasks"][0].update(label="store"),
     "tasks[0].label", "'store' is a feature"),
    ("a non-negative sentinel", lambda v: v["tasks"][1].update(missing=0),
     "tasks[1].missing", "expected a negative sentinel"),
    ("a field of another kind", lambda v: v["tasks"][0].update(scale=3),
     "tasks[0].scale", "only a regression task has a scale"),
    ("an unknown field", lambda v: v["tasks"][0].update(wieght=3),
     "tasks[0].wieght", "unknown field"),
    ("a multiclass task without classes", lambda v: v["tasks"][2].pop("classes"),
     "tasks[2].classes", "needs its classes"),
    ("a slice that is not categorical", lambda v: v.update(slices=["basket_value"]),
     "slices[0]", "is a numeric feature"),
    ("unknown hyperparameter", lambda v: v["model"]["hparams"].update(depth=3),
     "model.hparams", "unknown model hyperparameters ['depth']"),
    ("a funnel of a regression task", lambda v: v["model"].update(entire_space={"dwell": "add_to_cart"}),
     "model.entire_space.dwell", "is a regression task"),
    ("wrong type", lambda v: v["features"][0].update(vocabulary_size="many"),
     "features[0].vocabulary_size", "expected int"),
]


@pytest.mark.parametrize("name,change,field,message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_spec_names_the_file_the_field_and_what_was_expected(tmp_path, name, change,
                                                                    field, message):
    path = _write(tmp_path, _changed(change))
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert str(error.value).startswith(f"spec {path}: {field}: "), str(error.value)
    assert message in str(error.value)


def test_a_key_given_twice_in_a_yaml_mapping_is_an_error(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(shop_problem.spec_text().replace("name: shop\n", "name: shop\nname: shop2\n"))
    with pytest.raises(SpecError, match=r"name: is given twice in one mapping \(line 3\)"):
        load_spec(path)


def test_mtl_run_refuses_a_bad_spec_with_exit_2_before_anything_runs(tmp_path, capsys):
    path = _write(tmp_path, _changed(lambda v: v["tasks"][0].update(kind="ranking")))
    home = tmp_path / "home"
    assert main(["run", "--spec", str(path), "--root", str(home), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"spec {path}: tasks[0].kind: unknown value 'ranking'" in err
    assert not home.exists()


def test_the_data_is_checked_against_the_spec_before_any_component(tmp_path, capsys):
    rows = shop_problem.generate(200)
    data = tmp_path / "data"
    shop_problem.write_tfrecord_span(data, 1, [
        {k: (float(v) if k == "add_to_cart" else v) for k, v in row.items() if k != "visits_30d"}
        for row in rows])
    spec = shop_problem.write_spec(tmp_path / "shop.yaml")
    home = tmp_path / "home"
    args = ["run", "--spec", str(spec), "--data", str(data), "--root", str(home), "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"spec {spec}: features[5]: 'visits_30d'" in err and "is not in the data" in err
    assert not (home / "pipeline_root").exists() and not (home / "serving").exists()

    values = yaml.safe_load(spec.read_text())
    values["features"] = [f for f in values["features"] if f["name"] != "visits_30d"]
    spec.write_text(yaml.safe_dump(values))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"spec {spec}: tasks[0].label: 'add_to_cart' is a label of binary task" in err
    assert "holds float values" in err
    assert not (home / "pipeline_root").exists() and not (home / "serving").exists()
