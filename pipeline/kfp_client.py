"""`mtl kfp compile | submit | schedule`: the pipeline on Kubeflow Pipelines.

  mtl kfp compile  --output mtl.json [--image IMG]                       [-- RUN FLAGS]
  mtl kfp submit   --host URL [--package mtl.yaml] [--experiment NAME]    [-- RUN FLAGS]
  mtl kfp schedule --host URL --cron "0 3 * * *" [--package mtl.yaml]     [-- RUN FLAGS]

RUN FLAGS are those of `mtl run` (same configuration); `--root` is the home inside the pods
(default /mnt/mtl). submit and schedule compile first (unless given `--package`), then talk to
the KFP API server with the `kfp` client (a run; or a recurring run with a cron schedule,
max_concurrency 1 and no catch-up, so two retrainings never overlap).
"""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(sub) -> None:
    """Registers `mtl kfp ...` on the top-level subparsers of `pipeline.cli`."""
    from kubeflow.runner import DEFAULT_IMAGE, DEFAULT_PVC

    kfp = sub.add_parser("kfp", help="Kubeflow Pipelines: compile, submit, schedule")
    kfp_sub = kfp.add_subparsers(dest="kfp_command", required=True)
    for name, text in (("compile", "compile to a KFP v2 pipeline spec"),
                       ("submit", "compile, upload and run once"),
                       ("schedule", "compile and create a recurring run")):
        p = kfp_sub.add_parser(name, help=text,
                               usage=f"mtl kfp {name} [options] [-- RUN FLAGS (as for mtl run)]")
        p.add_argument("--output", default="mtl_pipeline.yaml",
                       help="package file to write, .yaml (default mtl_pipeline.yaml)")
        p.add_argument("--pvc", default=DEFAULT_PVC,
                       help=f"PersistentVolumeClaim mounted at the home (--root) in every step "
                            f"(default {DEFAULT_PVC}; '' for none, e.g. with a FUSE-mounted bucket)")
        p.add_argument("--image", default=DEFAULT_IMAGE,
                       help=f"pipeline image built from kubeflow/Dockerfile (default {DEFAULT_IMAGE})")
        if name != "compile":
            p.add_argument("--host", required=True, help="KFP API server, e.g. http://localhost:8080")
            p.add_argument("--experiment", default="mtl", help="KFP experiment (default mtl)")
            p.add_argument("--pipeline-root", default=None,
                           help="KFP pipeline root for the run's outputs "
                                "(default: <root>/pipeline_root, as in the compiled pipeline)")
            p.add_argument("--namespace", default=None, help="Kubernetes namespace (multi-user)")
            p.add_argument("--package", default=None,
                           help="an already compiled .yaml spec to send instead of compiling")
        if name == "schedule":
            p.add_argument("--cron", required=True,
                           help='cron expression, e.g. "0 3 * * *" (5 fields; KFP also takes 6)')
            p.add_argument("--job-name", default=None, help="recurring run name (default <pipeline>-retrain)")
        p.add_argument("run_args", nargs=argparse.REMAINDER,
                       help="after --: the flags of `mtl run` (--root, --epochs, ...)")


def cluster_config(run_args: list[str]):
    """The `mtl run` config for the cluster: `--root` defaults to kubeflow.runner.DEFAULT_HOME."""
    from kubeflow.runner import DEFAULT_HOME
    from pipeline.cli import run_config

    run_args = run_args[1:] if run_args[:1] == ["--"] else list(run_args)
    if "--root" not in run_args:
        run_args = ["--root", DEFAULT_HOME, *run_args]
    return run_config(run_args)


def to_kfp_cron(cron: str) -> str:
    """KFP's scheduler (robfig/cron) takes 6 fields with seconds first: "0 3 * * *" ->
    "0 0 3 * * *"; a 6-field expression is passed through."""
    fields = cron.split()
    if len(fields) == 5:
        return " ".join(["0", *fields])
    if len(fields) == 6:
        return " ".join(fields)
    raise ValueError(f"cron {cron!r}: expected 5 fields (min hour day month weekday) or 6")


def submit(host: str, package: str, experiment: str, run_name: str,
           pipeline_root: str | None = None, namespace: str | None = None) -> str:
    """Uploads the compiled `package` and runs it once; returns the KFP run id."""
    import kfp

    client = kfp.Client(host=host, namespace=namespace)
    result = client.create_run_from_pipeline_package(
        package, arguments={}, run_name=run_name, experiment_name=experiment,
        namespace=namespace, pipeline_root=pipeline_root)
    return result.run_id


def schedule(host: str, package: str, experiment: str, job_name: str, cron: str,
             pipeline_root: str | None = None, namespace: str | None = None) -> str:
    """Creates a recurring run of `package` on `cron` (never two at once: max_concurrency 1,
    no catch-up of missed slots); returns the recurring run id."""
    import kfp

    client = kfp.Client(host=host, namespace=namespace)
    experiment_id = client.create_experiment(name=experiment, namespace=namespace).experiment_id
    recurring = client.create_recurring_run(
        experiment_id=experiment_id, job_name=job_name, cron_expression=to_kfp_cron(cron),
        max_concurrency=1, no_catchup=True, pipeline_package_path=package,
        pipeline_root=pipeline_root)
    return recurring.recurring_run_id


def main(args: argparse.Namespace) -> int:
    """Dispatch of `mtl kfp ...` (called by pipeline.cli)."""
    from kubeflow.runner import compile_pipeline

    package = getattr(args, "package", None)
    try:
        config = cluster_config(args.run_args)
        if args.kfp_command == "schedule":
            to_kfp_cron(args.cron)
        if package is None:
            compile_pipeline(config, args.output, args.image, args.pvc or None)
            package = os.path.abspath(args.output)
            print(f"compiled {package} (image {args.image}, home {config.root})")
        elif not os.path.isfile(package) or not package.endswith((".yaml", ".yml")):
            raise ValueError(f"--package {package}: expected an existing .yaml file from "
                             "`mtl kfp compile`")
    except ValueError as e:
        print(f"mtl kfp {args.kfp_command}: {e}", file=sys.stderr)
        return 2
    pipeline_root = (args.pipeline_root or str(config.pipeline_root)
                     if args.kfp_command != "compile" else None)
    print(f"compiled {package} (image {args.image}, home {config.root})")
    if args.kfp_command == "submit":
        run_id = submit(args.host, package, args.experiment, f"{config.pipeline_name}-run",
                        pipeline_root, args.namespace)
        print(f"submitted run {run_id} to {args.host}")
    elif args.kfp_command == "schedule":
        job = args.job_name or f"{config.pipeline_name}-retrain"
        rid = schedule(args.host, package, args.experiment, job, args.cron,
                       pipeline_root, args.namespace)
        print(f"scheduled recurring run {rid} ({args.cron}) on {args.host}")
    return 0
