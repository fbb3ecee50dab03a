"""A local OpenAI-compatible stand-in server for tests.

The real ``openai`` SDK talks HTTP to this server on 127.0.0.1, so tests exercise the
SDK's own URL building, auth header, timeouts and retries. Replies are scripted::

    with FakeOpenAI() as fake:
        fake.script("first answer", FakeOpenAI.Error(status=500), FakeOpenAI.Delay(2.0, "late"))
        client = OpenAI(api_key="sk-test", base_url=fake.base_url)
        ...
        assert fake.requests[0].headers["authorization"] == "Bearer sk-test"

Scripted replies apply to ``POST /v1/chat/completions`` only, one per request. When the
script is used up, ``responder(request_json)`` is asked if set, else ``default_reply``
is sent. ``POST /v1/embeddings`` always answers with deterministic hash-based vectors.
``FakeOpenAI(refuse_key=True)`` refuses every request with 401, echoing the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self

from tests.fakes.http_server import ClosingHTTPServer

logger = logging.getLogger(__name__)

EMBEDDING_DIMENSIONS = 8


@dataclass(frozen=True, slots=True)
class FakeError:
    """Answer with an HTTP error in the OpenAI error shape.

    ``headers`` are sent as is, e.g. ``{"retry-after-ms": "1"}`` to make the SDK
    retry without its default back-off.
    """

    status: int = 500
    message: str = "The fake server was told to fail."
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FakeDelay:
    """Wait ``seconds`` before sending ``reply`` (to trigger client timeouts).

    The wait ends early when the server stops, so a test never waits for it.
    """

    seconds: float
    reply: str | FakeError = "(delayed reply)"


Reply = str | FakeError | FakeDelay
Responder = Callable[[dict[str, Any]], Reply]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server saw it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


def fake_embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A deterministic unit vector derived from a hash of ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    raw = [(digest[i % len(digest)] / 127.5) - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    # Round-trip through float32 so float and base64 encodings give identical values.
    return [struct.unpack("<f", struct.pack("<f", x / norm))[0] for x in raw]


def _count_tokens(text: str) -> int:
    """A rough token count (whitespace words); enough for usage accounting in tests."""
    return len(text.split())


class FakeOpenAI:
    """An OpenAI-compatible HTTP server on 127.0.0.1 with scripted chat replies."""

    Error = FakeError
    Delay = FakeDelay

    def __init__(
        self,
        *,
        default_reply: str = "This is the fake model's default reply.",
        responder: Responder | None = None,
        model: str = "fake-model",
        refuse_key: bool = False,
    ) -> None:
        self.default_reply = default_reply
        self.responder = responder
        self.model = model
        # Every request refused with 401, the error echoing the Authorization header (the
        # key), as some providers and proxies do.
        self.refuse_key = refuse_key
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: ClosingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ClosingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed replies still waiting are cut short."""
        self._stopping.set()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The value to pass as the SDK's ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection ----------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat completion requests, one per request."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many scripted replies are not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat completion requests."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reset(self) -> None:
        """Forget scripted replies and recorded requests."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # -- used by the handler ---------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_chat_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        return self.default_reply

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the server is stopping."""
        return not self._stopping.wait(seconds)


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = fake

    return Handler


class _Handler(BaseHTTPRequestHandler):
    """Routes the few OpenAI endpoints the bot uses."""

    owner: FakeOpenAI
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API
    timeout = 10  # idle keep-alive connections end eventually

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake openai: " + format, *args)

    # -- routing ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": self.owner.model,
                            "object": "model",
                            "created": 0,
                            "owned_by": "fake",
                        }
                    ],
                },
            )
        else:
            self._send_error_json(404, f"Unknown path {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._record(raw.decode("utf-8", "replace"))
            self._send_error_json(400, "Request body is not JSON.")
            return
        self._record(body)
        path = self.path.split("?", 1)[0].rstrip("/")
        if self.owner.refuse_key:
            echoed = self.headers.get("Authorization", "")
            self._send_error_json(401, f"Incorrect API key provided: {echoed}")
        elif path == "/v1/chat/completions":
            self._chat_completions(body)
        elif path == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._send_error_json(404, f"Unknown path {self.path}")

    # -- endpoints -------------------------------------------------------------------

    def _chat_completions(self, body: dict[str, Any]) -> None:
        if body.get("stream"):
            self._send_error_json(400, "FakeOpenAI does not support streaming.")
            return
        reply = self.owner._next_chat_reply(body)
        if isinstance(reply, FakeDelay):
            if not self.owner._wait(reply.seconds):
                self.close_connection = True
                return
            reply = reply.reply
        if isinstance(reply, FakeError):
            self._send_error_json(reply.status, reply.message, reply.headers)
            return
        prompt_tokens = sum(
            _count_tokens(str(m.get("content") or ""))
            for m in body.get("messages") or []
            if isinstance(m, dict)
        )
        completion_tokens = _count_tokens(reply)
        self._send_json(
            200,
            {
                "id": f"chatcmpl-fake-{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.owner.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        if not texts:
            self._send_error_json(400, "'input' must be a string or a non-empty list.")
            return
        as_base64 = body.get("encoding_format") == "base64"
        dimensions = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(
                json.dumps(text) if not isinstance(text, str) else text, dimensions
            )
            encoded: list[float] | str = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_count_tokens(t) if isinstance(t, str) else len(t) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or self.owner.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # -- helpers ---------------------------------------------------------------------

    def _record(self, body: Any) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.owner._record(
            RecordedRequest(method=self.command, path=self.path, headers=headers, json=body)
        )

    def _send_error_json(
        self, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        error_type = "server_error" if status >= 500 else "invalid_request_error"
        payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
        self._send_json(status, payload, headers)

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req-fake-{time.monotonic_ns()}")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired) before we answered.
            self.close_connection = True
