"""The HTML report on hand-built rows: content, atomic write, and what headless Chromium shows."""

from __future__ import annotations

import json
import os

import pytest

from pipeline.monitoring import alerts as alerts_lib
from pipeline.monitoring import formats, report
from tests.support import chromium
from tests.support import default_problem as features
from tests.support.monitoring_rows import make_row

THRESHOLD_RGB = (0xD3, 0x54, 0x00)  # report._BOUND, the dashed threshold line


def _rows(tmp_path):
    model_run = tmp_path / "model_run"
    model_run.mkdir()
    history = {}
    for t in features.TASKS:
        history[f"{t.name}_loss"] = [0.9, 0.7, 0.6]
        history[f"val_{t.name}_loss"] = [0.95, 0.8, 0.75]
        history[f"{t.name}_loss_weight"] = [t.loss_weight] * 3
        metric = "auc" if t.kind == "binary" else "rmse"
        history[f"{t.name}_{metric}"] = [0.6, 0.65, 0.7]
    (model_run / "history.json").write_text(json.dumps(history))
    rows = []
    for run, values in enumerate(([0.70, 0.62, 40.0, 0.58], [0.71, 0.63, 41.0, 0.57],
                                  [0.60, 0.55, 55.0, 0.52]), start=1):
        for t, value in zip(features.TASKS, values):
            row = make_row(run, t.name, value, blessed=run < 3,
                       slices={f"device={d}": {t.metric: value + i / 100}
                               for i, d in enumerate(("android", "ios", "web"))})
            row.model_run_uri = str(model_run)
            rows.append(row)
    return rows


def test_report_html_is_self_contained_and_written_atomically(tmp_path):
    rows = _rows(tmp_path)
    alerts = alerts_lib.check(rows)
    out = tmp_path / "sub" / "report.html"
    path = report.write_report(rows, alerts, "/home/x", str(out))
    assert path == str(out) and os.listdir(out.parent) == ["report.html"]  # no temp file left
    text = out.read_text()
    for t in features.TASKS:
        for kind in ("trend", "slices", "curves"):
            assert f'id="{kind}-{t.name}"' in text
    assert 'id="coverage-chart"' in text
    # Offline: no URL other than inline data.
    assert "http://" not in text and "https://" not in text and "src=\"data:image/png;base64," in text
    assert "ALERT task &#x27;click&#x27;" in text
    with pytest.raises(ValueError, match="no rows"):
        report.render_html([], [], "/home/x")


@chromium.requires_chromedriver
def test_report_renders_in_headless_chromium(tmp_path):
    rows = _rows(tmp_path)
    out = report.write_report(rows, alerts_lib.check(rows), "/home/x", str(tmp_path / "r.html"))
    page = chromium.load_page(out)
    assert page.errors == []
    assert page.title == "Multi-task model monitoring"
    image = page.image()
    for t in features.TASKS:
        box = page.boxes[f"trend-{t.name}"]
        assert box["loaded"] and box["width"] > 300 and box["height"] > 150, (t.name, box)
        assert chromium.painted_fraction(image, box) > 0.03, t.name
        assert chromium.colour_pixels(image, box, THRESHOLD_RGB) > 20, t.name
    # The method can fail: the page's blank margin is not painted.
    assert chromium.painted_fraction(image, {"x": 0, "y": 0, "width": 10, "height": 10}) == 0.0


def test_report_for_a_home_with_many_runs(tmp_path):
    # 30 daily runs: the latest click run lost 0.03 AUC against the one before.
    rows = [make_row(1 + i % 28, "click", 0.70 + (0.0 if i < 29 else -0.03)) for i in range(30)]
    for i, row in enumerate(rows):
        row.run_id = f"run-{i:02d}"
    alerts = alerts_lib.check(rows)
    assert [(a.task, a.run_id) for a in alerts] == [("click", "run-29")]
    text = report.render_html(rows, alerts, "/home/x")
    assert text.count("run-") >= 30 and 'id="trend-click"' in text
    assert len(formats.format_table(rows).splitlines()) == 31


@chromium.requires_chromedriver
def test_chromium_helper_reports_console_errors_and_broken_images(tmp_path):
    # The browser check can fail: a script error, console.error and a missing image are caught.
    page_path = tmp_path / "broken.html"
    page_path.write_text('<!DOCTYPE html><html><head><title>t</title></head><body>'
                         '<img id="gone" src="missing.png" width="50" height="50">'
                         '<script>console.error("boom"); undefinedFunction();</script>'
                         "</body></html>")
    page = chromium.load_page(str(page_path))
    text = "\n".join(page.errors)
    assert "console: boom" in text
    assert "undefinedFunction is not defined" in text
    assert "missing.png" in text or "network: net::ERR_FILE_NOT_FOUND" in text
    assert page.boxes["gone"]["loaded"] is False
