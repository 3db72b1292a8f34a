"""Whatever stops `mtl run` ends as one message naming what went wrong and an exit code; no
Python traceback reaches the terminal, the run's log file keeps it."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

from pipeline.cli.main import main
from pipeline.runs import local as local_runner
from pipeline.runs import progress
from tests.support.real_tables import write_mixed_price_span

REPO = Path(__file__).resolve().parents[3]


def test_an_unexpected_error_is_one_line_and_its_traceback_stays_in_the_log(
        tmp_path, monkeypatch, capfd):
    def fails(config, reporter=None, skip_unchanged=False):
        logging.info("reading the span")
        raise RuntimeError("INVALID_ARGUMENT: the decoder gave up\n  [while running 'Decode']")

    monkeypatch.setattr(local_runner, "run_pipeline", fails)
    home = tmp_path / "home"
    for flags in ([], ["-q"]):
        assert main(["run", "--root", str(home), *flags]) == 1
        out, err = capfd.readouterr()
        (log,) = [p for p in (home / "logs").glob("*.log") if str(p) in err]
        assert err == (f"mtl run: the run stopped: RuntimeError: INVALID_ARGUMENT: the decoder "
                       f"gave up (the traceback is in {log})\n")
        assert "Traceback" not in out + err
        text = log.read_text()
        assert "Traceback (most recent call last):" in text and "in fails" in text
        assert "[while running 'Decode']" in text
        log.unlink()


def test_a_failed_components_tail_leaves_the_traceback_frames_in_the_log(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("before the component\n")
    out = io.StringIO()
    reporter = progress.RunReporter(out, total=4, log_path=log)
    reporter.start("StatisticsGen")
    with open(log, "a") as f:
        f.write("INFO absl: Generating statistics for split train.\n"
                "ERROR apache_beam: INVALID_ARGUMENT: Feature had wrong type\n"
                "Traceback (most recent call last):\n"
                '  File "apache_beam/runners/common.py", line 1499, in process\n'
                '  File "/x/tfx_bsl/coders/example_coder.py", line 104, in DecodeBatch\n'
                "    return self._coder.DecodeBatch(examples)\n"
                "RuntimeError: INVALID_ARGUMENT: Feature had wrong type\n"
                "\n"
                "During handling of the above exception, another exception occurred:\n"
                "\n"
                "Traceback (most recent call last):\n"
                '  File "/x/launcher.py", line 3, in launch\n'
                "    raise\n"
                "RuntimeError: the component failed\n")
    reporter.failed(RuntimeError("the component failed"))
    assert out.getvalue().splitlines()[2:] == [
        f"log: {log} (last 4 lines of this component:)",
        "  | INFO absl: Generating statistics for split train.",
        "  | ERROR apache_beam: INVALID_ARGUMENT: Feature had wrong type",
        "  | RuntimeError: INVALID_ARGUMENT: Feature had wrong type",
        "  | RuntimeError: the component failed"]


def test_mtl_run_names_a_file_holding_price_as_bytes_on_the_terminal(tmp_path):
    """The span where one file holds `price` as bytes, the schema and the other file floats,
    run as a user runs it (a process of its own, its real terminal output)."""
    home = tmp_path / "home"
    bad = write_mixed_price_span(home)
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--root", str(home)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.startswith(
        f"mtl run: {bad}: feature 'price' holds string values (bytes_list) in 100 of its 100 "
        f"records (the first: record 0); expected float values (float_list), as the curated "
        f"schema "), done.stderr
    assert not (home / "pipeline_root" / "StatisticsGen").exists()


def test_schema_freeze_and_spec_init_name_the_file_instead_of_failing_in_beam(tmp_path, capsys):
    bad = write_mixed_price_span(tmp_path / "home", examples=40)
    data = tmp_path / "home" / "data"
    out = tmp_path / "schema" / "schema.pbtxt"
    message = (f"{bad}: feature 'price' holds string values (bytes_list) in 20 of its 20 records "
               f"(the first: record 0); expected float values (float_list), as spec ")
    assert main(["schema", "freeze", "--data", str(data), "--out", str(out)]) == 4
    assert capsys.readouterr().err.startswith(f"mtl schema freeze: {message}")
    assert not out.parent.exists()
    assert main(["spec", "init", "--data", str(data), "--label", "click:binary"]) == 4
    assert capsys.readouterr().err.startswith(
        f"mtl spec init: {bad}: feature 'price' holds string values (bytes_list) in 20 of its "
        f"20 records (the first: record 0); expected float values (float_list), as the span's "
        f"other 20 records hold it")
