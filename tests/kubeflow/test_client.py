"""`mtl kfp submit | schedule` authenticate as real deployments require (kubeflow/client.py):
a bearer token from a file or from $KF_PIPELINES_SA_TOKEN_PATH, Dex's session cookie, TLS with
a CA bundle; checked on the requests a local fake KFP API server records, and the secret is
never printed, logged or compiled into the package."""

from __future__ import annotations

import logging

import pytest

from kubeflow import client as kfp_client
from tests.support.fake_kfp import fake_kfp_server, self_signed_cert, tiny_package

TOKEN = "sa-token-3f9c1e7a"
SESSION = "MTY5ZGV4LXNlc3Npb24tdmFsdWU"
RUN_FLAGS = ["--", "--root", "/mnt/test_home"]


@pytest.fixture()
def fake_kfp():
    with fake_kfp_server() as server:
        yield server


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return tiny_package(tmp_path_factory.mktemp("pkg") / "auth.yaml")


@pytest.fixture()
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture()
def no_ambient_token(monkeypatch):
    monkeypatch.delenv(kfp_client.TOKEN_PATH_ENV, raising=False)


def _shown(capsys, caplog) -> str:
    out = capsys.readouterr()
    return out.out + out.err + caplog.text


def test_token_file_is_sent_as_bearer_on_every_request_and_never_shown(
        fake_kfp, package, token_file, no_ambient_token, capsys, caplog):
    from pipeline.cli import main as cli

    caplog.set_level(logging.DEBUG)
    host, requests = fake_kfp
    assert cli.main(["kfp", "submit", "--host", host, "--package", str(package),
                     "--token-file", str(token_file), *RUN_FLAGS]) == 0
    assert requests and {r["headers"].get("authorization") for r in requests} == {
        f"Bearer {TOKEN}"}
    shown = _shown(capsys, caplog)
    assert f"submitted run run-42 to {host} (token from {token_file})" in shown
    assert TOKEN not in shown


def test_the_in_cluster_token_path_variable_is_read_and_the_package_holds_no_token(
        fake_kfp, token_file, tmp_path, monkeypatch, capsys, caplog):
    """As the kfp SDK in a pod: no flag, $KF_PIPELINES_SA_TOKEN_PATH names the file; and the
    package compiled on the way (no --package) does not contain the token."""
    from pipeline.cli import main as cli

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(kfp_client.TOKEN_PATH_ENV, str(token_file))
    host, requests = fake_kfp
    output = tmp_path / "mtl.yaml"
    assert cli.main(["kfp", "schedule", "--host", host, "--output", str(output),
                     "--cron", "0 3 * * *", *RUN_FLAGS]) == 0
    assert {r["headers"].get("authorization") for r in requests} == {f"Bearer {TOKEN}"}
    assert [r["path"] for r in requests if r["method"] == "POST"][-1] == (
        "/apis/v2beta1/recurringruns")
    assert TOKEN not in output.read_text()
    assert TOKEN not in _shown(capsys, caplog)


def test_dex_session_cookie_is_sent_with_the_namespace(
        fake_kfp, package, tmp_path, no_ambient_token, capsys, caplog):
    from pipeline.cli import main as cli

    cookie_file = tmp_path / "cookie"
    cookie_file.write_text(SESSION)  # a bare value: Dex's authservice_session
    host, requests = fake_kfp
    assert cli.main(["kfp", "submit", "--host", host, "--package", str(package),
                     "--cookie-file", str(cookie_file), "--namespace", "team-a",
                     *RUN_FLAGS]) == 0
    assert {r["headers"].get("cookie") for r in requests} == {
        f"{kfp_client.DEX_COOKIE}={SESSION}"}
    assert all("authorization" not in r["headers"] for r in requests)
    [experiment] = [r["body"] for r in requests
                    if r["method"] == "POST" and r["path"] == "/apis/v2beta1/experiments"]
    assert experiment["namespace"] == "team-a"
    assert SESSION not in _shown(capsys, caplog)


def test_tls_is_verified_against_the_ca_bundle(package, token_file, tmp_path, no_ambient_token,
                                               capsys, caplog):
    from pipeline.cli import main as cli

    cert, key = self_signed_cert(tmp_path)
    with fake_kfp_server(tls=(cert, key)) as (host, requests):
        assert host.startswith("https://")
        # Without the bundle the server's certificate is not trusted: refused, nothing sent,
        # and the error shown carries no secret.
        assert cli.main(["kfp", "submit", "--host", host, "--package", str(package),
                         "--token-file", str(token_file), *RUN_FLAGS]) == 1
        shown = _shown(capsys, caplog)
        assert f"mtl kfp submit: {host}:" in shown and "CERTIFICATE_VERIFY_FAILED" in shown
        assert TOKEN not in shown and requests == []
        assert cli.main(["kfp", "submit", "--host", host, "--package", str(package),
                         "--token-file", str(token_file), "--ca-bundle", str(cert),
                         *RUN_FLAGS]) == 0
        assert requests and {r["headers"].get("authorization") for r in requests} == {
            f"Bearer {TOKEN}"}
        assert f"TLS verified with {cert}" in capsys.readouterr().out


def test_a_missing_or_empty_secret_file_is_named_before_anything_is_sent(
        fake_kfp, package, tmp_path, no_ambient_token, capsys):
    from pipeline.cli import main as cli

    host, requests = fake_kfp
    empty = tmp_path / "empty"
    empty.write_text("")
    for flag, path, message in (("--token-file", tmp_path / "nope", "no such file"),
                                ("--cookie-file", empty, "the file is empty"),
                                ("--ca-bundle", tmp_path / "ca.pem", "no such file")):
        assert cli.main(["kfp", "submit", "--host", host, "--package", str(package),
                         flag, str(path), *RUN_FLAGS]) == 2
        assert f"{flag} {path}: {message}" in capsys.readouterr().err
    assert requests == []


def test_redact_hides_token_and_cookie(token_file, tmp_path):
    cookie_file = tmp_path / "cookie"
    cookie_file.write_text(f"oauth2_proxy={SESSION}")
    auth = kfp_client.Auth(token_file=str(token_file), cookie_file=str(cookie_file))
    text = f"401: Bearer {TOKEN}; cookie oauth2_proxy={SESSION}; value {SESSION}"
    assert kfp_client.redact(text, auth) == "401: Bearer <redacted>; cookie <redacted>; value <redacted>"
    assert kfp_client.session_cookie(auth) == f"oauth2_proxy={SESSION}"
    assert auth.describe() == f"token from {token_file}, session cookie from {cookie_file}"
