"""The Kubeflow Pipelines API client: run a compiled package once, or on a cron schedule
(`mtl kfp submit | schedule`, pipeline/cli/kfp_commands.py).

A recurring run has max_concurrency 1 and no catch-up, so two retrainings never overlap.
"""

from __future__ import annotations


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
