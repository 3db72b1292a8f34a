"""Serving benchmark: `serving_default` latency p50/p99 in-process on serialized tf.Examples.

Loads the newest pushed SavedModel of a home (what TF Serving would load), takes real raw
examples from the home's data spans (labels are left in the protos; the signature's parse
spec ignores them), and calls the signature repeatedly at batch sizes 1, 32 and 256 after a
warm-up. Latency is wall time per call, measured in this process (no RPC, no batching layer);
the process CPU time per call is reported beside it, since on a shared machine the wall time's
tail mostly measures waiting for a core.

    python -m benchmarks.serving --home /tmp/mtl_home
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common


def raw_examples(home: Path, count: int) -> list[bytes]:
    """Up to `count` serialized tf.Examples from the home's first data span."""
    import tensorflow as tf

    files = sorted(str(p) for p in (home / "data").glob("span-*/*.tfrecord.gz"))
    if not files:
        raise FileNotFoundError(f"no data spans under {home / 'data'}")
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)
    return [bytes(x.numpy()) for x in dataset]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="home of a finished, blessed `mtl run`")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="time budget per batch size (calls stop at the first of this "
                             "and --max-calls)")
    parser.add_argument("--max-calls", type=int, default=2000)
    parser.add_argument("--intra-op-threads", type=int, default=0,
                        help="TensorFlow intra-op threads (0: TensorFlow's default, all cores)")
    parser.add_argument("--inter-op-threads", type=int, default=0,
                        help="TensorFlow inter-op threads (0: TensorFlow's default)")
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)

    home = Path(args.home)
    model_dir = common.latest_pushed(home)
    import tensorflow_text  # noqa: F401 - a text problem's model uses TF-Text ops

    loaded = tf.saved_model.load(str(model_dir))
    serve = loaded.signatures["serving_default"]
    pool = raw_examples(home, max(args.batch_sizes) * 8)
    rng = np.random.default_rng(0)
    results = {}
    for batch in args.batch_sizes:
        requests = [tf.constant([pool[j] for j in rng.integers(0, len(pool), batch)])
                    for _ in range(16)]
        for r in requests[:5]:           # warm-up (first call per shape pays for tracing)
            serve(examples=r)
        latencies, cpu = [], []
        deadline = time.perf_counter() + args.seconds
        i = 0
        while len(latencies) < args.max_calls and time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            start, start_cpu = time.perf_counter(), time.process_time()
            out = serve(examples=request)
            next(iter(out.values())).numpy()
            latencies.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            i += 1
        ms = np.array(latencies) * 1e3
        cpu_ms = np.array(cpu) * 1e3
        results[str(batch)] = {
            "calls": len(latencies),
            "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p90_ms": round(float(np.percentile(ms, 90)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "examples_per_s": round(batch * len(ms) / (ms.sum() / 1e3), 1),
            # CPU time of this process per call (all TF threads): what a call costs when it
            # is not waiting for a core, i.e. the latency floor on an idle machine.
            "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 3),
            "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 3),
        }
    common.emit({
        "benchmark": "serving",
        "model": str(model_dir),
        "threads": {"intra_op": args.intra_op_threads, "inter_op": args.inter_op_threads},
        "batch_sizes": results,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
