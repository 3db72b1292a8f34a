"""Monitoring end to end: three runs on three spans in ONE home, then `mtl metrics`, `--check`,
the Prometheus export, `mtl report` in headless Chromium and the Trainer's TensorBoard logs.

The module fixture builds the home the way a team retraining daily would: `mtl generate-data`
writes span 1, `mtl run`; `mtl generate-data --append-span`, `mtl run` (the pipeline reads the
latest span); and a third time with a seeded regression: the third model is trained for one
batch only (`--steps-per-epoch 1`), so its quality falls against the second run.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from pipeline.cli.main import main as mtl
from tests.support import chromium
from tests.support import default_problem as features

pytestmark = pytest.mark.e2e

EXAMPLES = 2000
# Bounds low enough for one epoch on 1,600 training rows (the mechanics are under test here),
# and a gate tolerance wide enough that span-to-span noise on ~420 eval rows never refuses a
# model: the runs are blessed and pushed, and catching the regression is left to `--check`
# (whose allowed drop defaults to each task's production `max_change`).
THRESHOLDS = {"click": 0.52, "conversion": 0.45, "watch_time": 90.0, "like": 0.4}
WIDE_CHANGES = {"click": 0.5, "conversion": 0.5, "watch_time": 100.0, "like": 0.5}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """(home folder, [RunSummary] x 3): runs on spans 1, 2, 3; the third one regressed."""
    from models.hparams import ModelHParams
    from pipeline.runs import local as local_runner
    from tests.support.pipelines import small_config

    root = tmp_path_factory.mktemp("monitoring_home")
    data = str(root / "data")
    hparams = ModelHParams(epochs=1, batch_size=128, seed=7)
    summaries = []
    # The seeded regression: the third model is trained on one batch only.
    for span, hp in enumerate((hparams, hparams, dataclasses.replace(hparams, steps_per_epoch=1))):
        flags = ["generate-data", "--out", data, "--examples", str(EXAMPLES), "--seed", "7"]
        assert mtl(flags + (["--append-span"] if span else [])) == 0
        config = small_config(root, examples=EXAMPLES, hparams=hp, thresholds=dict(THRESHOLDS),
                              max_changes=dict(WIDE_CHANGES))
        summaries.append(local_runner.run(config))
    return root, summaries


def _metrics(capsys, root, *flags):
    capsys.readouterr()
    code = mtl(["metrics", "--root", str(root), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_metrics_has_three_runs_per_task_on_three_spans(home, capsys):
    root, summaries = home
    code, out, err = _metrics(capsys, root, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 3 * len(features.TASKS)
    runs = list(dict.fromkeys(r["run_id"] for r in rows))
    assert len(runs) == 3
    for task in features.TASKS:
        mine = [r for r in rows if r["task"] == task.name]
        assert [r["spans"] for r in mine] == [[1], [2], [3]]
        assert [r["run_id"] for r in mine] == runs
        for r in mine:
            assert r["candidate"] is not None and r["examples"] > 300
            assert 0 < r["observed"] <= r["examples"]
            assert r["coverage"] == pytest.approx(r["observed"] / r["examples"])
            assert r["threshold"] == THRESHOLDS[task.name]  # the bound each run gated with
            assert {"device=android", "device=ios", "device=web"} <= set(r["by_slice"])
        # Run 1 had no baseline; runs 2 and 3 were compared with run 1's and run 2's models
        # (evaluated on the new span's eval split, hence not the earlier rows' values).
        expected = [next(tm for tm in s.tasks if tm.task.name == task.name) for s in summaries]
        assert [r["baseline"] for r in mine] == [None] + [tm.baseline[task.metric]
                                                          for tm in expected[1:]]
        assert [r["candidate"] for r in mine] == [tm.candidate[task.metric] for tm in expected]
        assert [r["blessed"] for r in mine] == [s.blessed for s in summaries]
        # Pushed versions are the TF Serving folders, one per pushed run.
        versions = [s.pushed_path.rsplit("/", 1)[-1] if s.pushed_path else None
                    for s in summaries]
        assert [r["pushed_version"] for r in mine] == versions
    assert summaries[0].blessed and summaries[1].blessed
    served = sorted(p.name for p in (root / "serving" / "mtl_model").iterdir())
    assert served == sorted(v for v in versions if v)
    click = [r for r in rows if r["task"] == "click"]
    assert all(r["coverage"] == 1.0 for r in click)
    # The text table and CSV carry the same rows.
    code, table, _ = _metrics(capsys, root)
    assert code == 0 and len(table.strip().splitlines()) == 1 + len(rows)
    code, text, _ = _metrics(capsys, root, "--format", "csv")
    assert code == 0 and len(text.strip().splitlines()) == 1 + len(rows)


def test_check_catches_the_seeded_regression(home, capsys):
    root, _ = home
    code, out, err = _metrics(capsys, root, "--check")
    # The one-batch model is worse than the second run's by more than click's allowed 0.02.
    assert code == 1
    assert "ALERT task 'click'" in err and "dropped from" in err
    # With generous allowed drops and bounds, the same home passes.
    generous = []
    for task in features.TASKS:
        generous += ["--max-drop", f"{task.name}=100", "--threshold",
                     f"{task.name}={0.0 if task.higher_is_better else 1e9}"]
    code, _, err = _metrics(capsys, root, "--check", *generous)
    assert code == 0, err
    assert "ok: every task" in err
    # A bound raised on the command line is caught by the threshold rule.
    code, _, err = _metrics(capsys, root, "--check", *generous, "--threshold", "like=0.99")
    assert code == 1 and "ALERT task 'like'" in err and "below its threshold 0.99" in err
    assert "'click'" not in err


def test_prometheus_export_parses(home, capsys):
    from prometheus_client.parser import text_string_to_metric_families

    root, _ = home
    code, out, _ = _metrics(capsys, root, "--format", "prometheus")
    assert code == 0
    families = {f.name: f for f in text_string_to_metric_families(out)}
    latest = {(s.labels["task"], s.labels["metric"]): s.value
              for s in families["mtl_latest_task_metric"].samples}
    rows = json.loads(_metrics(capsys, root, "--format", "json")[1])
    last = {r["task"]: r for r in rows[-len(features.TASKS):]}
    for task in features.TASKS:
        gate = "auc" if task.higher_is_better else "rmse"
        assert latest[(task.name, gate)] == pytest.approx(last[task.name]["candidate"])
    runs = {s.labels["run"] for s in families["mtl_run_blessed"].samples}
    assert len(runs) == 3
    blessed = {s.labels["run"]: s.value for s in families["mtl_run_blessed"].samples}
    assert blessed == {r["run_id"]: float(r["blessed"]) for r in rows}


@chromium.requires_chromedriver
def test_report_renders_a_trend_chart_per_task_in_chromium(home, capsys, tmp_path):
    root, _ = home
    out = tmp_path / "report.html"
    capsys.readouterr()
    assert mtl(["report", "--root", str(root), "--out", str(out)]) == 0
    assert "(3 runs," in capsys.readouterr().out
    page = chromium.load_page(str(out))
    assert page.errors == []
    image = page.image()
    for task in features.TASKS:
        for kind in ("trend", "slices", "curves"):
            box = page.boxes[f"{kind}-{task.name}"]
            assert box["loaded"] and box["width"] > 300, (kind, task.name, box)
            assert chromium.painted_fraction(image, box) > 0.03, (kind, task.name)
        # The threshold line is drawn in the trend chart.
        assert chromium.colour_pixels(image, page.boxes[f"trend-{task.name}"],
                                      (0xD3, 0x54, 0x00)) > 20, task.name
    assert page.boxes["coverage-chart"]["loaded"]
    assert "ALERT task" in out.read_text()
    image.save(tmp_path / "report.png")


def test_trainer_tensorboard_logs_per_task_scalars(home):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorflow.python.framework import tensor_util

    root, _ = home
    model_runs = sorted((root / "pipeline_root" / "Trainer" / "model_run").iterdir(),
                        key=lambda p: int(p.name))
    assert len(model_runs) == 3
    run_dir = model_runs[-1]
    history = json.loads((run_dir / "history.json").read_text())
    for split, prefix in (("train", ""), ("validation", "val_")):
        acc = EventAccumulator(str(run_dir / split), size_guidance={"tensors": 0})
        acc.Reload()
        tags = set(acc.Tags()["tensors"])
        for task in features.TASKS:
            metric = "auc" if task.kind == "binary" else "rmse"
            for name in (f"{task.name}_loss", f"{task.name}_loss_weight", f"{task.name}_{metric}"):
                tag = f"epoch_{name}"
                assert tag in tags, (split, tag)
                values = [float(tensor_util.MakeNdarray(e.tensor_proto)) for e in acc.Tensors(tag)]
                assert values == pytest.approx(history[prefix + name], rel=1e-6), (split, tag)
            # The static loss weights are logged as configured in the default spec.
            weights = acc.Tensors(f"epoch_{task.name}_loss_weight")
            assert float(tensor_util.MakeNdarray(weights[-1].tensor_proto)) == task.loss_weight
