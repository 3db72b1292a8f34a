"""A second, structurally different problem runs end to end from its spec alone.

The shop problem (`tests.support.shop_problem`) has other feature names and kinds and three
tasks (binary, a regression whose missing label is -99, a five-class multiclass task): it is
validated (a curated schema frozen from its first span), transformed, trained with two
architectures, gated, pushed, served and reported, with no code of the package naming any of
it. The same problem as CSV spans goes through CsvExampleGen.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli.main import main
from tests.support import shop_problem

pytestmark = pytest.mark.e2e

TASKS = ["add_to_cart", "dwell", "rating"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shop")
    spec = shop_problem.write_spec(tmp / "problem" / "shop.yaml")
    rows = shop_problem.generate(5000, seed=3)
    shop_problem.write_tfrecord_span(tmp / "data", 1, rows)
    return tmp, spec, rows


@pytest.fixture(scope="module")
def runs(shop):
    """The first run (mmoe) and a second one with the transformer architecture."""
    tmp, spec, _ = shop
    home = tmp / "home"
    args = ["run", "--spec", str(spec), "--data", str(tmp / "data"), "--root", str(home), "-q"]
    first = main([*args, "--model", "mmoe"])
    second = main([*args, "--model", "transformer"])
    return home, first, second


def _summary(home: Path, spec: Path):
    from models.spec import load_spec
    from pipeline.core.config import PipelineConfig
    from pipeline.monitoring import summary as summary_lib

    return summary_lib.summarize_latest_run(PipelineConfig(root=str(home), spec=load_spec(spec)))


def _pushed(home: Path) -> list[Path]:
    return sorted((home / "serving" / "mtl_model").glob("[0-9]*"), key=lambda p: int(p.name))


def test_both_architectures_are_validated_trained_gated_and_pushed(shop, runs):
    _, spec, _ = shop
    home, first, second = runs
    assert (first, second) == (0, 0)
    # The first run froze the problem's curated schema from its first span.
    schema = (home / "schema" / "schema.pbtxt").read_text()
    assert "problem 'shop'" in schema and 'name: "viewed"' in schema
    assert 'name: "dwell_seconds"' in schema
    summary = _summary(home, spec)
    assert summary.blessed and summary.pushed
    assert [tm.task.name for tm in summary.tasks] == TASKS
    by_task = {tm.task.name: tm for tm in summary.tasks}
    rows = by_task["add_to_cart"].candidate["example_count"]
    # Every row has an add-to-cart label; dwell misses its label (-99) on about 30% of rows;
    # a rating exists only after an add-to-cart.
    assert by_task["add_to_cart"].candidate["weighted_example_count"] == rows
    assert 0.6 * rows < by_task["dwell"].candidate["weighted_example_count"] < 0.8 * rows
    assert 0 < by_task["rating"].candidate["weighted_example_count"] < 0.7 * rows
    assert by_task["add_to_cart"].candidate["auc"] > 0.6
    assert {"store=north", "store=online"} <= set(by_task["add_to_cart"].by_slice)
    assert [p.name for p in _pushed(home)] and len(_pushed(home)) == 2


def test_the_pushed_model_serves_the_problems_features(shop, runs, tmp_path, capsys):
    _, _, rows = shop
    home, _, _ = runs
    model = _pushed(home)[-1]
    contract = json.loads((model / "assets.extra" / "serving_contract.json").read_text())
    assert contract["problem"] == "shop"
    assert set(contract["tasks"]) == set(TASKS)
    requests = tmp_path / "rows.jsonl"
    requests.write_text("".join(json.dumps({k: v for k, v in row.items()
                                            if k not in ("add_to_cart", "dwell_seconds",
                                                         "rating")}) + "\n"
                                for row in rows[:20]))
    assert main(["predict", str(requests), "--model-dir", str(model)]) == 0
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(predictions) == 20
    for p in predictions:
        assert set(p) == {*TASKS, "score"}
        assert 0 <= p["add_to_cart"] <= 1 and p["dwell"] >= 0
        assert len(p["rating"]) == 5 and abs(sum(p["rating"]) - 1) < 1e-3

    # TF Serving's REST row format through the local stand-in: the same predictions.
    from models.spec import load_model_spec
    from pipeline.serving import clients
    from pipeline.serving.local_server import LocalModelServer

    server = LocalModelServer(home / "serving" / "mtl_model", "mtl_model")
    port = server.start_rest(0)
    try:
        spec, trained = load_model_spec(str(model))
        assert list(trained) == TASKS
        rest = clients.RestClient(f"http://127.0.0.1:{port}", "mtl_model", spec=spec)
        completed = [clients.complete_row(json.loads(line), spec=spec)
                     for line in requests.read_text().splitlines()]
        remote = rest.predict(completed)
    finally:
        server.stop()
    np.testing.assert_allclose([r["add_to_cart"] for r in remote],
                               [p["add_to_cart"] for p in predictions], atol=1e-5)


def test_metrics_and_report_follow_the_spec_each_run_recorded(runs, tmp_path, capsys):
    home, _, _ = runs
    assert main(["metrics", "--root", str(home), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in rows] == TASKS * 2
    assert {r["gate_metric"] for r in rows} == {"auc", "rmse", "accuracy"}
    out = tmp_path / "report.html"
    assert main(["report", "--root", str(home), "--out", str(out)]) == 0
    html = out.read_text()
    for task in TASKS:
        assert f'id="task-{task}"' in html


def test_csv_spans_run_through_the_same_pipeline(tmp_path):
    spec = shop_problem.write_spec(tmp_path / "shop.yaml", input_format="csv")
    shop_problem.write_csv_span(tmp_path / "data", 1, shop_problem.generate(5000, seed=3))
    home = tmp_path / "home"
    code = main(["run", "--spec", str(spec), "--data", str(tmp_path / "data"),
                 "--root", str(home), "-q", "--model", "mmoe"])
    assert code == 0
    summary = _summary(home, spec)
    states = {c.node_id: c.state for c in summary.components}
    assert states["CsvExampleGen"] == "COMPLETE"
    assert summary.blessed and summary.pushed
    rating = {tm.task.name: tm for tm in summary.tasks}["rating"]
    # An empty CSV cell is a missing label, as the sentinel is.
    assert 0 < rating.candidate["weighted_example_count"] < rating.candidate["example_count"]
