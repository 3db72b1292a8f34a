"""Span check benchmark: what reading every record's feature types costs.

On the embedded dataset's newest span (`--examples`, generated once under `--data`), in this
process (TensorFlow and tfx_bsl imported before the clock starts), the median of `--repeats`:

  - `count_s`: counting the records (the framing only: every run does it);
  - `span_check_s`: the whole span check against the default problem (checksums, every record
    decoded and its feature types read, the types compared with the curated schema);
  - `types_decoder_s` / `types_python_s`: reading the feature types alone, from the records
    in memory, with tfx_bsl's batch decoder (what the check uses) and record by record in
    Python (protobuf parse, then each feature's kind).

Each figure is wall seconds, with CPU seconds beside it (`*_cpu_s`).

    python -m benchmarks.span_check [--examples 100000] [--data /tmp/mtl_span_check]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks import common


def _median_seconds(fn, repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of `fn`, the medians of `repeats` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return round(statistics.median(wall), 3), round(statistics.median(cpu), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--data", default="/tmp/mtl_span_check")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = Path(args.data) / str(args.examples)
    common.generate_data(data, args.examples)

    import tensorflow as tf  # noqa: F401 - imported before the clock starts
    from tfx_bsl.coders import example_coder  # noqa: F401

    from models.spec import default_spec
    from pipeline.data import layout, preflight
    from pipeline.data import schema as schema_lib

    spec = default_spec()
    schema = schema_lib.spec_schema_path(spec)
    files = sorted(layout.span_dir(data, 1).glob(layout.FILE_GLOB))
    records = [bytes(r.numpy()) for path in files
               for r in tf.data.TFRecordDataset(str(path), compression_type="GZIP")]
    batches = [records[i:i + preflight.TYPE_BATCH]
               for i in range(0, len(records), preflight.TYPE_BATCH)]

    def count():
        preflight.forget_files()
        preflight.newest_span_examples(data)

    def check():
        preflight.forget_files()
        preflight.check_latest_span(data, spec, schema=schema)

    def types_with(read):
        def run():
            types: dict = {}
            for i, batch in enumerate(batches):
                read(types, batch, i * preflight.TYPE_BATCH, "memory")
        return run

    figures = {"benchmark": "span_check", "examples": len(records), "files": len(files),
               "repeats": args.repeats}
    for name, fn in (("count", count), ("span_check", check),
                     ("types_decoder", types_with(preflight.read_types)),
                     ("types_python", types_with(preflight.read_types_by_record))):
        figures[f"{name}_s"], figures[f"{name}_cpu_s"] = _median_seconds(fn, args.repeats)
    common.emit(figures)


if __name__ == "__main__":
    main()
