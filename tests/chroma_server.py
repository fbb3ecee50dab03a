"""A real Chroma server for the tests (`chroma run` from the installed chromadb), and a
guard in front of it that demands a token and can speak TLS.

The server is started once per test session on a free port of 127.0.0.1 with its data
in a temporary folder, and stopped and removed at the end. If it cannot start,
`start()` raises: the tests that need it fail, never skip. Each test keeps to its own
collections (their names carry the id of the test's own catalog).

`GuardedChroma` is a small forwarding proxy: a request without the expected token (as
`Authorization: Bearer …` or `X-Chroma-Token`) gets 401; with `tls` it serves HTTPS
with a self-signed certificate made by `openssl`. It records the headers it saw.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fakes.http_server import ClosingHTTPServer

STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_command() -> Path:
    """The `chroma` command installed with chromadb, beside this Python."""
    found = Path(sys.executable).parent / "chroma"
    if found.exists():
        return found
    on_path = shutil.which("chroma")
    if on_path is None:
        raise RuntimeError("the chroma command (from the chromadb package) is not installed")
    return Path(on_path)


class ChromaProcess:
    """`chroma run --path TMP --host 127.0.0.1 --port FREE`, until stop()."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="partnerbot-chroma-"))
        self.log = self.root / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChromaProcess:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"}
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(chroma_command()),
                    "run",
                    "--path",
                    str(self.root / "data"),
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        output = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"chroma run did not start on port {self.port}:\n{output}")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made by openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class GuardedChroma:
    """A proxy to a Chroma server that wants a token, optionally over TLS."""

    def __init__(
        self, upstream: ChromaProcess, *, token: str, tls_folder: Path | None = None
    ) -> None:
        self.upstream = upstream
        self.token = token
        self.seen: list[dict[str, str]] = []
        self.refused = 0
        self.certificate: Path | None = None
        guard = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _forward(self) -> None:
                headers = {k: v for k, v in self.headers.items()}
                guard.seen.append(headers)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                given = headers.get("X-Chroma-Token") or headers.get("Authorization", "")
                if given not in (guard.token, f"Bearer {guard.token}"):
                    guard.refused += 1
                    self.send_response(401)
                    payload = b'{"error":"Unauthorized"}'
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=60)
                forwarded = {
                    k: v
                    for k, v in headers.items()
                    if k.lower() not in ("host", "authorization", "x-chroma-token", "connection")
                }
                conn.request(self.command, self.path, body=body, headers=forwarded)
                response = conn.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self._server = ClosingHTTPServer(("127.0.0.1", 0), Handler)
        if tls_folder is not None:
            cert, key = self_signed_certificate(tls_folder)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.certificate = cert
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GuardedChroma:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
