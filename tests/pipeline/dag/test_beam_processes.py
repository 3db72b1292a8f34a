"""Beam worker processes for the data stages: chosen from the newest span's size, or given."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf

from pipeline.cli.run_flags import run_config
from pipeline.core.config import (
    AUTO_BEAM_PROCESSES_MIN_EXAMPLES,
    DEFAULT_BEAM_ARGS,
    PipelineConfig,
)
from pipeline.dag.build import create_pipeline
from pipeline.data.preflight import newest_span_examples

MULTI = "--direct_running_mode=multi_processing"


def _beam_args(config) -> dict[str, list[str]]:
    return {node.id: list(node.executor_spec.beam_pipeline_args)
            for node in create_pipeline(config).components
            if hasattr(node.executor_spec, "beam_pipeline_args")}


def test_auto_uses_one_process_per_core_from_the_threshold_only(tmp_path):
    config = PipelineConfig(root=str(tmp_path), beam_processes="auto")
    small = config.resolve_beam_processes(AUTO_BEAM_PROCESSES_MIN_EXAMPLES - 1)
    large = config.resolve_beam_processes(AUTO_BEAM_PROCESSES_MIN_EXAMPLES)
    assert small.beam_processes == 1 and small.data_beam_args() == ()
    assert large.beam_processes == os.cpu_count()
    # A number given is kept whatever the size.
    assert config.replace(beam_processes=3).resolve_beam_processes(10).beam_processes == 3


def test_the_data_stages_get_the_multi_process_flags_after_the_pipeline_defaults(tmp_path):
    args = _beam_args(PipelineConfig(root=str(tmp_path), beam_processes=2))
    for node in ("ImportExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        # Beam reads the last value of a repeated flag: the component's come last.
        assert args[node] == [*DEFAULT_BEAM_ARGS, MULTI, "--direct_num_workers=2"], node
    one = _beam_args(PipelineConfig(root=str(tmp_path)))
    assert all(MULTI not in flags for flags in one.values())


def test_own_beam_flags_or_auto_before_resolution_add_nothing(tmp_path):
    remote = PipelineConfig(root=str(tmp_path), beam_processes=2,
                            beam_pipeline_args=("--runner=PortableRunner",))
    assert remote.data_beam_args() == ()
    # A compiled package is built before any data exists: "auto" adds nothing there.
    assert PipelineConfig(root=str(tmp_path), beam_processes="auto").data_beam_args() == ()


def test_the_flag_takes_auto_or_a_positive_number(tmp_path):
    assert run_config(["--root", str(tmp_path)]).beam_processes == "auto"
    assert run_config(["--root", str(tmp_path), "--beam-processes", "2"]).beam_processes == 2
    with pytest.raises(SystemExit):
        run_config(["--root", str(tmp_path), "--beam-processes", "0"])
    with pytest.raises(ValueError, match="beam_processes"):
        PipelineConfig(beam_processes=0)


def test_the_newest_span_is_counted_record_by_record(tmp_path):
    assert newest_span_examples(tmp_path) == 0  # no span yet
    for span, count in ((1, 5), (2, 7)):
        folder = tmp_path / f"span-{span}"
        folder.mkdir()
        for part in range(2):
            with tf.io.TFRecordWriter(str(folder / f"part-{part}.tfrecord.gz"),
                                      options="GZIP") as writer:
                for i in range(count):
                    writer.write(tf.train.Example(features=tf.train.Features(feature={
                        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=[i]))}))
                        .SerializeToString())
    assert newest_span_examples(tmp_path) == 14
    csv_dir = tmp_path / "csv" / "span-3"
    csv_dir.mkdir(parents=True)
    (csv_dir / "a.csv").write_text('id,text\n1,"two\nlines"\n2,x\n')
    assert newest_span_examples(tmp_path / "csv", "csv") == 2
