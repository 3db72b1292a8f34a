"""Wall time of `mtl run --tune` (a whole run: data to pushed model, search included) on the
embedded data, cold (a fresh home, the spans pre-generated), and what the search found.

  python -m benchmarks.tuning                      # 100,000 examples, `--tune` defaults
  python -m benchmarks.tuning --examples 20000 --tune 4 --tune-minutes 3

Prints one JSON line: the run's wall seconds and peak memory, each component's seconds, the
trials run, the best validation score and the score of the run's own hyperparameters (the first
trial), and the search's line as `mtl run` prints it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks import common


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tuning")
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--tune", type=int, default=None, metavar="TRIALS",
                        help="trials (default: `mtl run --tune`'s)")
    parser.add_argument("--tune-minutes", type=float, default=None)
    parser.add_argument("--work", default=None, help="folder for the data and the home")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="mtl_tuning_bench_"))
    data = work / f"data_{args.examples}"
    common.generate_data(data, args.examples)
    home = work / "home"
    common.fresh_home(home, data)
    extra = ["--tune"] + ([str(args.tune)] if args.tune else [])
    if args.tune_minutes:
        extra += ["--tune-minutes", str(args.tune_minutes)]
    figures = common.run_tree(common.mtl_run_cmd(home, args.examples, extra),
                              work / "run.log")
    from pipeline.core import metadata
    from pipeline.core.config import PipelineConfig
    from pipeline.monitoring import tuning as tuning_lib

    config = PipelineConfig(root=str(home))
    store = metadata.readonly_store(config.metadata_path)
    searches = tuning_lib.searches(store, config.pipeline_name)
    search = searches[0] if searches else None
    common.emit({
        "benchmark": "tuning",
        "examples": args.examples,
        "command": "mtl run " + " ".join(extra),
        **figures,
        "components": common.component_seconds(home),
        "trials": len(search.trials) if search else 0,
        "requested_trials": search.requested_trials if search else None,
        "max_minutes": search.max_minutes if search else None,
        "tuner_seconds": round(search.seconds, 1) if search else None,
        "best_val_score": search.best_score if search else None,
        "own_hyperparameters_val_score": search.defaults_score if search else None,
        "chosen": json.loads(json.dumps(search.values)) if search else None,
    })


if __name__ == "__main__":
    main()
