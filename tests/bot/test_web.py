"""Junk at the web edge of a running `partnerbot serve`: over 300 requests — bad header
bytes, garbage, header floods, lines too long, oversized bodies, signed Slack bodies that
are not requests — against every endpoint its web servers' routers answer (as each logs
them at start, so endpoints added later are covered too): the right status codes, no
traceback, no ERROR line, a few warning lines in all, and the process answers after."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.slack_harness import SIGNING_SECRET, slack_settings
from tests.fakes.slack_server import FakeSlack, sign_request
from tests.serve_process import ServeProcess

BAD = {400}  # what a request that is not HTTP gets (aiohttp answers before any handler)
NOWHERE = "/no-such-endpoint"
ROUNDS = 5


@pytest.fixture
def served(indexed_samples: Path, tmp_path: Path) -> Iterator[tuple[ServeProcess, FakeSlack]]:
    import os
    import shutil

    data = tmp_path / "serve-data"
    shutil.copytree(indexed_samples, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    with FakeSlack() as fake:
        env |= {"PARTNERBOT_DATA_DIR": str(data), **slack_settings(fake, "http")}
        with ServeProcess(env) as serve:
            yield serve, fake


def exchange(port: int, raw: bytes) -> int:
    """Send raw bytes as one request; the status code of the answer (0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        # (a refusal may come before all of the body is sent, and close the connection)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(raw)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n" not in answer and (chunk := s.recv(4096)):
                answer += chunk
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: partnerbot", "Connection: close"]
    head += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def junk(method: str, path: str) -> list[tuple[str, bytes, set[int]]]:
    """What anyone may send to one endpoint, and the codes it must get."""
    known = path != NOWHERE
    flood = "".join(f"X-Flood-{i}: {'v' * 60}\r\n" for i in range(400))
    start = f"{method} {path} HTTP/1.1\r\nHost: partnerbot\r\n"
    cases = [
        ("a control byte in a header", (start + "X-Junk: a\x01b\r\n\r\n").encode(), BAD),
        ("a header flood", (start + flood + "\r\n").encode(), BAD | {431}),
        ("a header line too long", (start + f"X-Long: {'a' * 20000}\r\n\r\n").encode(), BAD),
        ("a content length that is no number", (start + "Content-Length: x\r\n\r\n").encode(), BAD),
        ("a control byte in the method", f"G\x01T {path} HTTP/1.1\r\n\r\n".encode(), BAD),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)), BAD),
        ("no such method here", request("PUT", path, b"{}"), {405} if known else {404}),
    ]
    if not known:
        cases.append(("no such endpoint", request("GET", path), {404}))
    if method == "POST":
        big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
        cases += [
            ("an oversized body", request("POST", path, big), {413, 400, 401, 403}),
            ("a body that is not UTF-8", request("POST", path, b"\xff\xfe\xfd"), {400, 401, 403}),
            ("a body that is not JSON", request("POST", path, b'{"a":'), {400, 401, 403}),
        ]
    return cases


def signed(body: bytes, content_type: str = "application/json") -> bytes:
    headers = sign_request(body, SIGNING_SECRET)
    return request(
        "POST",
        "/slack/events",
        body,
        Content_Type=content_type,
        X_Slack_Request_Timestamp=headers["X-Slack-Request-Timestamp"],
        X_Slack_Signature=headers["X-Slack-Signature"],
    )


def slack_junk() -> list[tuple[str, bytes, set[int]]]:
    """Slack's endpoint: unsigned requests (401), signed bodies that are no request (400)."""
    form = "application/x-www-form-urlencoded"
    bodies = [
        b"[1,2,3]",
        b'"x"',
        b"null",
        b"42",
        b"{}",
        b'{"type":"block_actions","actions":"x"}',
        b'{"type":"block_actions","actions":[{"action_id":5}]}',
        b'{"type":"block_actions","actions":[{"action_id":"feedback_up"}],"user":"U1"}',
        b'{"type":"block_actions","actions":[{"action_id":"feedback_up"}],"message":{"ts":"x"}}',
        b'{"type":"event_callback","event":"x"}',
        b'{"type":"event_callback","event":{"type":"message","ts":"abc","user":"U1"}}',
        b'{"type":"event_callback","event":{"type":"message","subtype":["x"]}}',
        b'{"type":"event_callback","event_id":[1],"event":{"type":"app_mention"}}',
        b'{"type":"view_submission"}',
        b'{"type":5}',
        b'{"command":["/partner"]}',
        b'{"a":',
        b"\xff\xfe",
    ]
    cases = [(f"signed {b[:40]!r}", signed(b), {400}) for b in bodies]
    cases += [
        ("signed payload=[1]", signed(b"payload=[1]", form), {400}),
        ("signed payload=null", signed(b"payload=null", form), {400}),
        ("signed command to ftp", signed(b"command=/partner&response_url=ftp://x", form), {400}),
        ("unsigned", request("POST", "/slack/events", b"{}"), {401}),
        (
            "badly signed",
            request(
                "POST",
                "/slack/events",
                b"{}",
                X_Slack_Request_Timestamp=str(int(time.time())),
                X_Slack_Signature="v0=00",
            ),
            {401},
        ),
        (
            "signed long ago",
            request(
                "POST",
                "/slack/events",
                b"{}",
                X_Slack_Request_Timestamp="1000000000",
                X_Slack_Signature="v0=00",
            ),
            {401},
        ),
    ]
    return cases


def test_junk_at_every_endpoint_gets_its_status_and_no_traceback(
    served: tuple[ServeProcess, FakeSlack],
) -> None:
    serve, _ = served
    serve.wait_for_line("listening on")
    health = next(p for p, routes in serve.listening().items() if ("GET", "/healthz") in routes)
    serve.wait_ready(health)  # every platform connected: every server is listening
    servers = serve.listening()
    endpoints = {
        (port, m, p.replace("{", "").replace("}", "")) for port, r in servers.items() for m, p in r
    }
    assert {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")} <= {
        (m, p) for _, m, p in endpoints
    }
    slack = next(port for port, m, p in endpoints if p == "/slack/events")
    for port in servers:
        endpoints.add((port, "GET", NOWHERE))
    started = len(serve.lines)

    wrong: list[str] = []
    sent = 0
    for _ in range(ROUNDS):
        for port, method, path in sorted(endpoints):
            for why, raw, codes in junk(method, path):
                got = exchange(port, raw)
                sent += 1
                if got not in codes:
                    wrong.append(f"{method} {path} ({why}): {got}, not {sorted(codes)}")
        for why, raw, codes in slack_junk():
            got = exchange(slack, raw)
            sent += 1
            if got not in codes:
                wrong.append(f"POST /slack/events ({why}): {got}, not {sorted(codes)}")
    assert wrong == [], wrong[:10]
    assert sent >= 300
    # Still serving: a good request gets its answer.
    assert exchange(health, request("GET", "/healthz")) == 200
    during = serve.lines[started:]

    assert serve.stop() == 0
    text = "\n".join(serve.lines)
    assert "Traceback" not in text and not [line for line in serve.lines if " ERROR " in line]
    # One rate-limited warning per kind of junk and server: a few lines for all of it.
    assert len(during) <= 6, during
    print(f"{sent} junk requests to {len(endpoints)} endpoints: {len(during)} log lines")
    print("\n".join(during))
