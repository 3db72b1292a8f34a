"""`mtl kfp compile | submit | schedule`: the pipeline on Kubeflow Pipelines.

  mtl kfp compile  --output mtl.yaml [--image IMG]                       [-- RUN FLAGS]
  mtl kfp submit   --host URL [--package mtl.yaml] [--experiment NAME]    [-- RUN FLAGS]
  mtl kfp schedule --host URL --cron "0 3 * * *" [--package mtl.yaml]     [-- RUN FLAGS]

RUN FLAGS are those of `mtl run` (same configuration); `--root` is the home inside the pods
(default /mnt/mtl). submit and schedule compile first (unless given `--package`), then talk to
the KFP API server (kubeflow/client.py).
"""

from __future__ import annotations

import argparse
import os
import sys

from kubeflow import client as kfp_client
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
    kfp.set_defaults(handler=kfp_command)


def cluster_config(run_args: list[str]) -> PipelineConfig:
    """The `mtl run` config for the cluster: `--root` defaults to kubeflow.compile.DEFAULT_HOME."""
    run_args = strip_dashes(run_args)
    if "--root" not in run_args:
        run_args = ["--root", DEFAULT_HOME, *run_args]
    return run_config(run_args)


def kfp_command(args: argparse.Namespace) -> int:
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
