"""The run key and the "unchanged" record (pipeline.runs.unchanged), without ML Metadata."""

from __future__ import annotations

import os

from pipeline.runs import unchanged
from tests.support.pipelines import small_config


def test_data_files_lists_every_file_with_size_and_mtime_and_every_folder(tmp_path):
    (tmp_path / "span-1").mkdir()
    (tmp_path / "span-1" / "a.tfrecord.gz").write_bytes(b"abc")
    os.utime(tmp_path / "span-1" / "a.tfrecord.gz", ns=(1, 2))
    assert unchanged.data_files(tmp_path) == [("span-1/", 0, 0), ("span-1/a.tfrecord.gz", 3, 2)]
    # An empty new span folder is new data: the pre-flight check must see it.
    (tmp_path / "span-2").mkdir()
    assert unchanged.data_files(tmp_path)[-1] == ("span-2/", 0, 0)


def test_run_key_follows_config_and_data(tmp_path):
    from pipeline.dag.build import create_pipeline

    config = small_config(tmp_path)
    (config.data_dir / "span-1").mkdir(parents=True)
    (config.data_dir / "span-1" / "a.tfrecord.gz").write_bytes(b"abc")
    key = unchanged.run_key(config, create_pipeline(config))
    assert key == unchanged.run_key(config, create_pipeline(config))  # deterministic
    other = config.replace(thresholds={**config.thresholds, "click": 0.56})
    assert unchanged.run_key(other, create_pipeline(other)) != key
    (config.data_dir / "span-2").mkdir()
    (config.data_dir / "span-2" / "a.tfrecord.gz").write_bytes(b"abc")
    assert unchanged.run_key(config, create_pipeline(config)) != key


def test_no_reason_without_a_matching_record(tmp_path):
    config = small_config(tmp_path)
    assert unchanged.latest_run_id(config) is None  # no ML Metadata yet: nothing to record
    assert unchanged.unchanged_reason(config, "k") is None
    config.pipeline_root.mkdir(parents=True)
    unchanged.record_path(config).write_text('{"key": "other", "run_id": "r"}')
    assert unchanged.unchanged_reason(config, "k") is None
    assert unchanged.unchanged_reason(config.replace(enable_cache=False), "other") is None
    unchanged.forget(config)
    assert not unchanged.record_path(config).exists()
