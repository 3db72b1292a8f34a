"""Evaluator benchmark: TFX's Evaluator executor alone, on a finished run's artifacts.

Runs the same executor `mtl run` launches (TFMA over the eval split of the newest ExampleGen
output, the newest Trainer model as the candidate, the pipeline's EvalConfig and Beam flags),
`--repeats` times in this process, and reports its wall and CPU seconds, the evaluation
examples per second, and the overall slice's gated metrics (so two versions of the metric
code can be checked for equal values as well as timed). `--baseline` also passes the same
model as the baseline (what a run with a blessed model evaluates: two models per example).
`--profile` adds the functions with the most own time (cProfile of one more repeat).

    python -m benchmarks.evaluator --home /tmp/mtl_home [--spec FILE]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _artifact(kind, uri: Path, **properties):
    artifact = kind()
    artifact.uri = str(uri)
    for name, value in properties.items():
        setattr(artifact, name, value)
    return artifact


def evaluate_once(home: Path, spec, out_dir: Path, baseline: bool) -> dict:
    """One Evaluator execution; its seconds, CPU seconds and overall gated metrics."""
    import tensorflow_model_analysis as tfma
    from tfx.components.evaluator import executor as evaluator_executor
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from pipeline.core.config import DEFAULT_BEAM_ARGS
    from pipeline.evaluation import eval_config as eval_config_lib

    examples_dir = common.latest_artifact_dir(home, "ImportExampleGen", "examples")
    model_dir = common.latest_artifact_dir(home, "Trainer", "model")
    examples = _artifact(standard_artifacts.Examples, examples_dir,
                         split_names=json.dumps(["train", "eval"]))
    model = _artifact(standard_artifacts.Model, model_dir)
    inputs = {"examples": [examples], "model": [model]}
    if baseline:
        inputs["baseline_model"] = [_artifact(standard_artifacts.Model, model_dir)]
    out_dir.mkdir(parents=True)
    outputs = {"evaluation": [_artifact(standard_artifacts.ModelEvaluation, out_dir / "eval")],
               "blessing": [_artifact(standard_artifacts.ModelBlessing, out_dir / "blessing")]}
    eval_config = eval_config_lib.make_eval_config(spec.default_tasks, spec.slices)
    properties = {"eval_config": proto_utils.proto_to_json(eval_config),
                  "example_splits": json.dumps(None), "fairness_indicator_thresholds": None}
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(DEFAULT_BEAM_ARGS),
                                                         tmp_dir=str(out_dir / "tmp"))
    started, cpu = time.time(), _cpu_seconds()
    evaluator_executor.Executor(context).Do(inputs, outputs, properties)
    seconds, cpu_seconds = time.time() - started, _cpu_seconds() - cpu
    result = tfma.load_eval_result(str(out_dir / "eval"))
    overall = next(metrics for key, metrics in result.slicing_metrics if key == ())
    gated = {}
    for output_name, per_output in overall.items():
        for name, value in per_output.get("", {}).items():
            if "doubleValue" in value:
                gated[f"{output_name}/{name}" if output_name else name] = value["doubleValue"]
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
            "metrics": dict(sorted(gated.items()))}


def count_eval_examples(home: Path) -> int:
    import tensorflow as tf

    files = sorted(str(p) for p in
                   (common.latest_artifact_dir(home, "ImportExampleGen", "examples") / "Split-eval")
                   .glob("*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="home of a finished `mtl run`")
    parser.add_argument("--spec", default=None, help="the run's problem spec (file or name)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", action="store_true",
                        help="evaluate against the same model as the baseline")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    from models.spec import default_spec, resolve_spec

    spec = resolve_spec(args.spec) if args.spec else default_spec()
    home = Path(args.home)
    eval_examples = count_eval_examples(home)
    work = Path(tempfile.mkdtemp(prefix="mtl_bench_eval_"))
    repeats = [evaluate_once(home, spec, work / f"run_{i}", args.baseline)
               for i in range(args.repeats)]
    seconds = common.median([r["seconds"] for r in repeats])
    cpu_seconds = common.median([r["cpu_seconds"] for r in repeats])
    figures = {
        "eval_examples": eval_examples,
        "baseline": args.baseline,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "examples_per_second": round(eval_examples / seconds, 1),
        "examples_per_cpu_second": round(eval_examples / cpu_seconds, 1),
        "repeats": [{k: r[k] for k in ("seconds", "cpu_seconds")} for r in repeats],
        "metrics": repeats[-1]["metrics"],
    }
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        evaluate_once(home, spec, work / "profiled", args.baseline)
        profiler.disable()
        profiler.dump_stats(str(work / "evaluator.prof"))
        figures["profile"] = common.top_functions(work / "evaluator.prof", 20)
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
