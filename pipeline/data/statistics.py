"""Statistics of a span computed straight from its files (TFDV), before any pipeline ran.

`mtl spec init` drafts a spec from them and `mtl schema freeze --spec FILE --data DIR` (or the
first local run on a new problem's data) curates a schema from them. The pipeline's own
StatisticsGen computes the same statistics per split inside a run.
"""

from __future__ import annotations

import os

from pipeline.data import layout

# The in-process Beam runner (see pipeline.core.config.DEFAULT_BEAM_ARGS): Beam's default
# DirectRunner would first try to download another runner.
LOCAL_BEAM_ARGS = ("--runner=FnApiRunner", "--direct_running_mode=in_memory",
                   "--direct_num_workers=1")


def newest_span_files(data_dir: str | os.PathLike, input_format: str) -> tuple[int, str]:
    """(span, file pattern) of the newest span under `data_dir`."""
    spans = layout.existing_spans(data_dir)
    if not spans:
        raise FileNotFoundError(f"{data_dir} holds no span-<N> folder (expected "
                                f"span-<N>/{layout.FILE_GLOBS[input_format]})")
    folder = layout.span_dir(data_dir, spans[-1])
    glob = layout.FILE_GLOBS[input_format]
    if not list(folder.glob(glob)):
        raise FileNotFoundError(f"{folder} holds no {glob} file")
    return spans[-1], str(folder / glob)


def span_statistics(data_dir: str | os.PathLike, input_format: str = "tfrecord",
                    beam_args=None, stats_options=None):
    """The DatasetFeatureStatisticsList of the newest span (every example of it).

    `stats_options`: TFDV's `StatsOptions` (default: TFDV's defaults).
    """
    import tensorflow_data_validation as tfdv
    from apache_beam.options.pipeline_options import PipelineOptions

    _, pattern = newest_span_files(data_dir, input_format)
    options = PipelineOptions(list(beam_args or LOCAL_BEAM_ARGS))
    stats_options = stats_options or tfdv.StatsOptions()
    if input_format == "csv":
        return tfdv.generate_statistics_from_csv(pattern, stats_options=stats_options,
                                                 pipeline_options=options)
    return tfdv.generate_statistics_from_tfrecord(pattern, stats_options=stats_options,
                                                  pipeline_options=options)


def detect_format(data_dir: str | os.PathLike) -> str:
    """The input format of the newest span's files: tfrecord, or csv when it holds only CSV."""
    spans = layout.existing_spans(data_dir)
    if not spans:
        raise FileNotFoundError(f"{data_dir} holds no span-<N> folder (expected "
                                f"span-<N>/{layout.FILE_GLOBS['tfrecord']} or "
                                f"span-<N>/{layout.FILE_GLOBS['csv']})")
    folder = layout.span_dir(data_dir, spans[-1])
    for input_format, glob in layout.FILE_GLOBS.items():
        if list(folder.glob(glob)):
            return input_format
    raise FileNotFoundError(f"{folder} holds no data file (expected "
                            f"{' or '.join(layout.FILE_GLOBS.values())})")
