"""A local fake of the KFP API server (the v2beta1 REST calls `kfp.Client` makes), recording
each request with its headers; over plain HTTP or TLS with a throw-away CA."""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


class FakeKfp(BaseHTTPRequestHandler):
    """Answers the KFP v2beta1 REST calls the kfp client makes, recording each request."""

    requests: list[dict] = []

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        url = urlparse(self.path)
        entry = {"method": self.command, "path": url.path, "query": parse_qs(url.query),
                 "body": body, "headers": {k.lower(): v for k, v in self.headers.items()}}
        self.requests.append(entry)
        return entry

    def do_GET(self):  # noqa: N802 - http.server's naming
        entry = self._record()
        if entry["path"].endswith("/healthz"):
            self._reply({"multi_user": False})
        else:  # list experiments: none yet
            self._reply({})

    def do_POST(self):  # noqa: N802
        entry = self._record()
        body = entry["body"] or {}
        if entry["path"] == "/apis/v2beta1/experiments":
            self._reply({"experiment_id": "exp-7", "display_name": body.get("display_name")})
        elif entry["path"] == "/apis/v2beta1/runs":
            self._reply({"run_id": "run-42", "display_name": body.get("display_name"),
                         "experiment_id": body.get("experiment_id")})
        elif entry["path"] == "/apis/v2beta1/recurringruns":
            self._reply({"recurring_run_id": "rr-9", "display_name": body.get("display_name")})
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with the openssl command; the certificate is
    also the CA bundle that verifies it."""
    cert, key = folder / "server.pem", folder / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@contextlib.contextmanager
def fake_kfp_server(tls: tuple[Path, Path] | None = None):
    """Yields (base URL, the list of recorded requests) of a running fake; TLS when given
    (certificate, key)."""
    FakeKfp.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKfp)
    scheme = "http"
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", FakeKfp.requests
    finally:
        server.shutdown()
        server.server_close()


def tiny_package(path: Path) -> Path:
    """A one-step KFP package (compiled by the kfp SDK in a second, no TFX) to submit."""
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.10-slim")
    def hello():
        print("hello")

    @dsl.pipeline(name="auth-check")
    def pipeline():
        hello()

    compiler.Compiler().compile(pipeline, str(path))
    return path
