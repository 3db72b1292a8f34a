"""Every `--model` x `--weighting` pair through the whole pipeline, printed as one JSON line.

What `mtl run --model X --weighting Y` does, for all 30 pairs, on one home: the first pair runs
every component, the others reuse data, statistics, schema and Transform from the ML Metadata
cache and run Trainer, Evaluator and Pusher. The budget is the model-zoo e2e test's (3,000
examples, 3 epochs, batch 32, the small-data bounds of `tests/support/pipelines.py`), with the change
threshold against the previous blessed model loosened so each pair is judged on the absolute
bounds alone. Per pair: seconds, whether Transform was cached, blessed, the push decision and
each task's gate metric.

    python -m benchmarks.zoo_sweep [--root /tmp/zoo_sweep] [--examples 3000]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time

from benchmarks import common
from models.hparams import TABULAR_MODEL_NAMES as MODEL_NAMES
from models.hparams import WEIGHTING_NAMES, ModelHParams
from models.spec import default_spec as _spec
from pipeline.core.config import PipelineConfig

# The small-data bounds of the e2e tests (tests/support/pipelines.py SMALL_DATA_THRESHOLDS),
# and their naive-baseline gate, loosened for small data exactly as there (small_data_gates):
# watch_time's RMSE at most 1.5 x the mean predictor's (production 0.95); a binary task's AUC
# above 0.5 by no more than its loosened bound allows (like: 0.4 -> margin -0.1).
SMALL_DATA_THRESHOLDS = {"click": 0.55, "conversion": 0.55, "watch_time": 80.0, "like": 0.4}
SMALL_DATA_GATES = {"watch_time": {"naive_ratio": 1.5}, "click": {"naive_margin": 0.01},
                    "conversion": {"naive_margin": 0.01}, "like": {"naive_margin": -0.1}}


def sweep(root: str, examples: int, epochs: int, batch_size: int) -> dict:
    from pipeline.runs import local as local_runner

    if os.path.exists(root) and os.listdir(root):
        raise SystemExit(f"zoo_sweep: {root} is not empty; give a new --root (the first pair "
                         f"must run every component)")
    config = PipelineConfig(root=root, examples=examples, seed=7,
                            hparams=ModelHParams(epochs=epochs, batch_size=batch_size),
                            thresholds=dict(SMALL_DATA_THRESHOLDS),
                            gates={k: dict(v) for k, v in SMALL_DATA_GATES.items()},
                            max_changes={t.name: 1e6 for t in _spec().default_tasks})
    started = time.time()
    pairs = []
    for model in MODEL_NAMES:
        for weighting in WEIGHTING_NAMES:
            hp = dataclasses.replace(config.hparams, model=model, weighting=weighting)
            start = time.time()
            # Keras prints the Trainer's progress on stdout: keep stdout for the JSON line.
            with contextlib.redirect_stdout(sys.stderr):
                summary = local_runner.run(config.replace(hparams=hp))
            states = {c.node_id: c.state for c in summary.components}
            pairs.append({
                "model": model, "weighting": weighting,
                "seconds": round(time.time() - start, 1),
                "transform": states.get("Transform"),
                "blessed": summary.blessed, "push_decision": summary.push_decision,
                "gate": {tm.task.name: round(tm.gate_value, 4) for tm in summary.tasks
                         if tm.gate_value is not None},
            })
    return {
        "benchmark": "zoo_sweep", "examples": examples, "epochs": epochs,
        "batch_size": batch_size, "thresholds": SMALL_DATA_THRESHOLDS,
        "pairs": pairs,
        "pairs_run": len(pairs),
        "pairs_pushed": sum(p["push_decision"] == "pushed" for p in pairs),
        "not_blessed": [f"{p['model']}/{p['weighting']}" for p in pairs if not p["blessed"]],
        "seconds": round(time.time() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="/tmp/zoo_sweep")
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    common.quiet_tensorflow()
    print(json.dumps(sweep(args.root, args.examples, args.epochs, args.batch_size)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
