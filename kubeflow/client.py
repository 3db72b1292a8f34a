"""The Kubeflow Pipelines API client: run a compiled package once, or on a cron schedule
(`mtl kfp submit | schedule`, pipeline/cli/kfp_commands.py).

A recurring run has max_concurrency 1 and no catch-up, so two retrainings never overlap.

Authentication (`Auth`), the way deployments ask for it:
  - a bearer token (a Kubernetes service-account token, an OIDC/IAP token) read from a file:
    `--token-file`, else `$KF_PIPELINES_SA_TOKEN_PATH` (where the kfp SDK itself looks inside
    a cluster), else the SDK's in-cluster default path when it exists. The file is re-read
    before each request (projected service-account tokens rotate); sent as
    `Authorization: Bearer ...`.
  - the session cookie of a Dex / oauth2-proxy multi-user install, read from a file
    (`--cookie-file`; "name=value", or a bare value taken as `authservice_session`).
  - TLS: `--ca-bundle` verifies the API server against that CA bundle.
Secrets are only ever read from files: never a flag value, never in the compiled package,
never printed (error messages are passed through `redact`).
"""

from __future__ import annotations

import dataclasses
import os

# Where the kfp SDK reads the service-account token inside a cluster (kfp.client.client).
TOKEN_PATH_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
IN_CLUSTER_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
DEX_COOKIE = "authservice_session"


@dataclasses.dataclass(frozen=True)
class Auth:
    """How to authenticate to the KFP API: file paths only, no secret values."""

    token_file: str | None = None
    cookie_file: str | None = None
    ca_bundle: str | None = None

    def describe(self) -> str:
        """One line for the console: which files, never their contents."""
        parts = [f"token from {self.token_file}" if self.token_file else None,
                 f"session cookie from {self.cookie_file}" if self.cookie_file else None,
                 f"TLS verified with {self.ca_bundle}" if self.ca_bundle else None]
        return ", ".join(p for p in parts if p) or "no credentials"


def resolve_auth(token_file: str | None = None, cookie_file: str | None = None,
                 ca_bundle: str | None = None, environ=None) -> Auth:
    """The `Auth` of the flags, the token file defaulting as the kfp SDK's in a cluster;
    ValueError naming a flag whose file is missing or empty."""
    environ = os.environ if environ is None else environ
    if token_file is None:
        token_file = environ.get(TOKEN_PATH_ENV) or (
            IN_CLUSTER_TOKEN_PATH if os.path.isfile(IN_CLUSTER_TOKEN_PATH) else None)
        source = f"${TOKEN_PATH_ENV}"
    else:
        source = "--token-file"
    for flag, path in ((source, token_file), ("--cookie-file", cookie_file),
                       ("--ca-bundle", ca_bundle)):
        if path is None:
            continue
        if not os.path.isfile(path):
            raise ValueError(f"{flag} {path}: no such file")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{flag} {path}: the file is empty")
    return Auth(token_file=token_file, cookie_file=cookie_file, ca_bundle=ca_bundle)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def session_cookie(auth: Auth) -> str | None:
    """The Cookie header value of the cookie file ("name=value"; a bare value is Dex's
    `authservice_session`)."""
    if not auth.cookie_file:
        return None
    value = _read(auth.cookie_file)
    return value if "=" in value else f"{DEX_COOKIE}={value}"


def secrets(auth: Auth) -> list[str]:
    """The secret values behind `auth` (to redact from any text shown)."""
    out = []
    if auth.token_file and os.path.isfile(auth.token_file):
        out.append(_read(auth.token_file))
    cookie = session_cookie(auth)
    if cookie:
        out.extend([cookie, cookie.split("=", 1)[1]])
    return [s for s in out if s]


def redact(text: str, auth: Auth) -> str:
    """`text` with every secret of `auth` replaced by "<redacted>"."""
    for secret in sorted(secrets(auth), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def make_client(host: str, namespace: str | None = None, auth: Auth = Auth()):
    """A `kfp.Client` for `host` authenticated by `auth`."""
    import kfp
    from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

    credentials = (ServiceAccountTokenVolumeCredentials(path=auth.token_file)
                   if auth.token_file else None)
    return kfp.Client(host=host, namespace=namespace, credentials=credentials,
                      cookies=session_cookie(auth), ssl_ca_cert=auth.ca_bundle)


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
           pipeline_root: str | None = None, namespace: str | None = None,
           auth: Auth = Auth()) -> str:
    """Uploads the compiled `package` and runs it once; returns the KFP run id."""
    client = make_client(host, namespace, auth)
    result = client.create_run_from_pipeline_package(
        package, arguments={}, run_name=run_name, experiment_name=experiment,
        namespace=namespace, pipeline_root=pipeline_root)
    return result.run_id


def schedule(host: str, package: str, experiment: str, job_name: str, cron: str,
             pipeline_root: str | None = None, namespace: str | None = None,
             auth: Auth = Auth()) -> str:
    """Creates a recurring run of `package` on `cron` (never two at once: max_concurrency 1,
    no catch-up of missed slots); returns the recurring run id."""
    client = make_client(host, namespace, auth)
    experiment_id = client.create_experiment(name=experiment, namespace=namespace).experiment_id
    recurring = client.create_recurring_run(
        experiment_id=experiment_id, job_name=job_name, cron_expression=to_kfp_cron(cron),
        max_concurrency=1, no_catchup=True, pipeline_package_path=package,
        pipeline_root=pipeline_root)
    return recurring.recurring_run_id
