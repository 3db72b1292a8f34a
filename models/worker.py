"""One multi-worker training worker:

  python -m models.worker ARGS.json

creates `MultiWorkerMirroredStrategy` first (its cluster and role come from TF_CONFIG), before
any other TensorFlow work in the process (collective ops are configured at start-up), then runs
`models.trainer.train_and_export` on the Trainer arguments in ARGS.json (see
`models.cluster.FN_ARGS_FIELDS`). `models.cluster.run_local_workers` starts it on this machine;
a Kubeflow `TFJob` (kubeflow/training/tfjob.yaml) runs the same command on each replica, the
training operator setting TF_CONFIG.
"""

from __future__ import annotations

import json
import sys

from models.cluster import fn_args_from_dict


def main(argv: list[str] | None = None) -> int:
    """One worker: strategy first, then the Trainer (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m models.worker ARGS.json", file=sys.stderr)
        return 2
    # Lazy: the strategy must be created before any other TensorFlow work in this process,
    # so TensorFlow and the Trainer (which imports tf.Transform) load here, in that order.
    from models.distribute import make_strategy

    strategy = make_strategy("multi_worker_mirrored")
    from models import distribute, trainer

    resolver = strategy.cluster_resolver
    print(f"models.worker: {resolver.task_type} {resolver.task_id} of a "
          f"{distribute.num_workers(strategy)}-worker cluster, "
          f"{strategy.num_replicas_in_sync} replicas in sync", flush=True)

    with open(argv[0]) as f:
        fn_args = fn_args_from_dict(json.load(f))
    trainer.train_and_export(fn_args, strategy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
