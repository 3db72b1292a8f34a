"""`mtl kfp compile | submit | schedule`: the pipeline on Kubeflow Pipelines.

  mtl kfp compile  --output mtl.yaml [--image IMG]                       [-- RUN FLAGS]
  mtl kfp submit   --host URL [--package mtl.yaml] [--experiment NAME]    [-- RUN FLAGS]
  mtl kfp schedule --host URL --cron "0 3 * * *" [--package mtl.yaml]     [-- RUN FLAGS]
  mtl kfp run-local --package mtl.yaml [--pipeline-root DIR] [--run-id ID]

RUN FLAGS are those of `mtl run` (same configuration); `--root` is the home inside the pods
(default /mnt/mtl). submit and schedule compile first (unless given `--package`), then talk to
the KFP API server (kubeflow/client.py). run-local runs a package compiled with a local `--root`
task by task on this machine, as the pods would (kubeflow/local_runner.py).
"""

from __future__ import annotations

import argparse
import os
import sys

from kubeflow import client as kfp_client
from kubeflow import local_runner
from kubeflow.compile import DEFAULT_HOME, DEFAULT_IMAGE, DEFAULT_PVC, compile_pipeline
from pipeline.cli.common import strip_dashes
from pipeline.cli.run_flags import run_config
from pipeline.core.config import PipelineConfig


def register(sub) -> None:
    kfp = sub.add_parser("kfp", help="Kubeflow Pipelines: compile, submit, schedule")
    kfp_sub = kfp.add_subparsers(dest="kfp_command", required=True)
    for name, text in (("compile", "compile to a KFP v2 pipeline spec"),
                       ("submit", "compile, upload and run once"),
                       ("schedule", "compile and create a recurring run")):
        p = kfp_sub.add_parser(name, help=text, allow_abbrev=False,
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
            p.add_argument("--token-file", default=None, metavar="PATH",
                           help="file holding a bearer token (service-account, OIDC); default "
                                f"${kfp_client.TOKEN_PATH_ENV}, as the kfp SDK reads it in a "
                                "cluster. Tokens are never taken on the command line")
            p.add_argument("--cookie-file", default=None, metavar="PATH",
                           help="file holding the session cookie of a Dex multi-user install "
                                f"(name=value, or the bare {kfp_client.DEX_COOKIE} value)")
            p.add_argument("--ca-bundle", default=None, metavar="PATH",
                           help="CA bundle (PEM) to verify the API server's TLS certificate")
        if name == "schedule":
            p.add_argument("--cron", required=True,
                           help='cron expression, e.g. "0 3 * * *" (5 fields; KFP also takes 6)')
            p.add_argument("--job-name", default=None, help="recurring run name (default <pipeline>-retrain)")
        p.add_argument("run_args", nargs=argparse.REMAINDER,
                       help="after --: the flags of `mtl run` (--root, --epochs, ...)")
    local = kfp_sub.add_parser(
        "run-local", allow_abbrev=False,
        help="run a compiled package's tasks here, one process each, as its pods would",
        description="Runs every task of a package compiled with a local --root (the home must "
                    "exist at that path) in dependency order, each with its container command "
                    "and arguments; the resolver steps are stubbed (no metadata store of past "
                    "runs: no baseline model).")
    local.add_argument("--package", required=True, help="a .yaml package from `mtl kfp compile`")
    local.add_argument("--pipeline-root", default=None,
                       help="where the artifacts go (default <root>/pipeline_root, as submit "
                            "sends it)")
    local.add_argument("--run-id", default=None, help="run folder name (default local-<time>)")
    local.add_argument("--verbose", action="store_true", help="show every task's log as it runs")
    kfp.set_defaults(handler=kfp_command)


def cluster_config(run_args: list[str]) -> PipelineConfig:
    """The `mtl run` config for the cluster: `--root` defaults to kubeflow.compile.DEFAULT_HOME."""
    run_args = strip_dashes(run_args)
    if "--root" not in run_args:
        run_args = ["--root", DEFAULT_HOME, *run_args]
    return run_config(run_args)


def run_local_command(args: argparse.Namespace) -> int:
    def report(task: local_runner.TaskRun) -> None:
        status = "stub" if task.exit_code is None else f"exit {task.exit_code}"
        print(f"task {task.name}: {status} ({task.seconds:.1f} s)"
              + (f" [{task.note}]" if task.note else ""), flush=True)

    try:
        run = local_runner.run_package(args.package, args.pipeline_root, args.run_id,
                                       echo=args.verbose, on_task=report)
    except (local_runner.PackageError, FileNotFoundError) as e:
        print(f"mtl kfp run-local: {e}", file=sys.stderr)
        return 2
    summary = os.path.join(run.run_dir, local_runner.SUMMARY_FILE)
    if not run.ok:
        failed = next(t for t in run.tasks if t.name == run.failed)
        print(f"mtl kfp run-local: task {run.failed} failed (exit {failed.exit_code}); its log: "
              f"{failed.log}", file=sys.stderr)
        return 1
    print(f"ran {len(run.tasks)} tasks; summary {summary}")
    return 0


def kfp_command(args: argparse.Namespace) -> int:
    if args.kfp_command == "run-local":
        return run_local_command(args)
    package = getattr(args, "package", None)
    auth = kfp_client.Auth()
    try:
        config = cluster_config(args.run_args)
        if args.kfp_command != "compile":
            auth = kfp_client.resolve_auth(args.token_file, args.cookie_file, args.ca_bundle)
        if args.kfp_command == "schedule":
            kfp_client.to_kfp_cron(args.cron)
        if package is None:
            compile_pipeline(config, args.output, args.image, args.pvc or None)
            package = os.path.abspath(args.output)
            print(f"compiled {package} (image {args.image}, home {config.root})")
        elif not os.path.isfile(package) or not package.endswith((".yaml", ".yml")):
            raise ValueError(f"--package {package}: expected an existing .yaml file from "
                             "`mtl kfp compile`")
    except (ValueError, FileNotFoundError) as e:
        print(f"mtl kfp {args.kfp_command}: {e}", file=sys.stderr)
        return 2
    if args.kfp_command == "compile":
        return 0
    pipeline_root = args.pipeline_root or str(config.pipeline_root)
    try:
        if args.kfp_command == "submit":
            run_id = kfp_client.submit(args.host, package, args.experiment,
                                       f"{config.pipeline_name}-run", pipeline_root,
                                       args.namespace, auth)
            print(f"submitted run {run_id} to {args.host} ({auth.describe()})")
        else:
            job = args.job_name or f"{config.pipeline_name}-retrain"
            rid = kfp_client.schedule(args.host, package, args.experiment, job, args.cron,
                                      pipeline_root, args.namespace, auth)
            print(f"scheduled recurring run {rid} ({args.cron}) on {args.host} "
                  f"({auth.describe()})")
    except Exception as e:  # the KFP API's and TLS errors: shown without any secret
        print(f"mtl kfp {args.kfp_command}: {args.host}: "
              f"{kfp_client.redact(f'{type(e).__name__}: {e}', auth)}", file=sys.stderr)
        return 1
    return 0
