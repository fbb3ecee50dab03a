"""A thin wrapper around the OpenAI SDK for chat completions.

Used by the answer composer and the query rewriter. It works with OpenAI itself (API
key) or any OpenAI-compatible server such as Ollama or vLLM (base URL). Calls are
bounded (timeout, retries), every SDK failure becomes an ``LLMError`` so callers can
fall back to the extractive answer, and neither the key nor auth headers are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Self, cast
from urllib.parse import urlsplit

import openai

from bot.errors import ConfigError, LLMError

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

logger = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
# The SDK refuses to start without a key; OpenAI-compatible local servers ignore it.
PLACEHOLDER_API_KEY = "not-needed"

# Loggers of the HTTP stack under the SDK. Their DEBUG output traces requests in
# detail, so it is never enabled through us; INFO (one line per request, without
# headers) is fine.
_HTTP_LOGGERS = ("openai", "httpx", "httpx2", "httpcore", "httpcore2")


_quiet_lock = threading.Lock()
_quieted: dict[str, int] = {}  # HTTP logger → its level before a client raised it to INFO
_open_clients = 0


def _quiet_http_loggers() -> None:
    """While a client is open, keep the SDK's HTTP loggers at INFO or above, so request
    details never reach logs."""
    global _open_clients
    with _quiet_lock:
        _open_clients += 1
        for name in _HTTP_LOGGERS:
            http_logger = logging.getLogger(name)
            if http_logger.getEffectiveLevel() < logging.INFO and name not in _quieted:
                _quieted[name] = http_logger.level
                http_logger.setLevel(logging.INFO)


def _unquiet_http_loggers() -> None:
    """The last client closed: the HTTP loggers' levels as they were (unless changed since)."""
    global _open_clients
    with _quiet_lock:
        _open_clients -= 1
        if _open_clients > 0:
            return
        for name, level in _quieted.items():
            http_logger = logging.getLogger(name)
            if http_logger.level == logging.INFO:
                http_logger.setLevel(level)
        _quieted.clear()


def _endpoint_for_messages(base_url: str) -> str:
    """``scheme://host[:port]`` of a URL: enough to say where, never credentials or query."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class LLMClient:
    """Chat completions against OpenAI or an OpenAI-compatible server.

    ``timeout`` bounds each attempt in seconds; ``max_retries`` is how many times the
    SDK retries after a timeout, a connection error, 408, 409, 429 or 5xx (with its
    short back-off), so the worst case is about ``(max_retries + 1) * timeout``.
    """

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 1,
    ) -> None:
        if not model or not model.strip():
            raise ConfigError("OPENAI_MODEL is empty: set it to the model name to use.")
        if not api_key and not base_url:
            raise ConfigError(
                "No LLM configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL "
                "(an OpenAI-compatible server such as Ollama or vLLM)."
            )
        if timeout <= 0:
            raise ConfigError("PARTNERBOT_LLM_TIMEOUT must be a positive number of seconds.")
        if max_retries < 0:
            raise ConfigError("PARTNERBOT_LLM_MAX_RETRIES must be 0 or more.")
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        resolved_base_url = base_url or OPENAI_BASE_URL
        self._endpoint = _endpoint_for_messages(resolved_base_url)
        self._closed = False
        _quiet_http_loggers()
        # base_url is always passed explicitly so the SDK does not pick up OPENAI_BASE_URL
        # from the environment behind the Settings object's back.
        self._client = openai.OpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=resolved_base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"LLMClient(model={self.model!r}, endpoint={self._endpoint!r})"

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        max_tokens: int = 600,
        temperature: float = 0.0,
    ) -> str:
        """Send ``messages`` and return the assistant's text.

        ``purpose`` (e.g. "answer", "rewrite") labels the call in logs. Raises
        ``LLMError`` on timeout, connection failure, an error status or an empty reply.
        """
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except openai.APITimeoutError as e:
            raise self._failure(
                purpose, started, f"timed out after {self.timeout:g}s at {self._endpoint}"
            ) from e
        except openai.APIConnectionError as e:
            raise self._failure(purpose, started, f"could not connect to {self._endpoint}") from e
        except openai.APIStatusError as e:
            # The SDK's message echoes the server's error body; keep only the status.
            reason = f"{self._endpoint} answered HTTP {e.status_code}"
            if e.status_code in (401, 403):
                reason = (
                    f"{self._endpoint} refused the API key (HTTP {e.status_code}); "
                    "check OPENAI_API_KEY"
                )
            raise self._failure(purpose, started, reason) from e
        except openai.OpenAIError as e:
            raise self._failure(purpose, started, f"unusable response ({type(e).__name__})") from e
        latency_ms = (time.perf_counter() - started) * 1000

        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "").strip() if choice is not None else ""
        usage = response.usage
        logger.info(
            "llm call purpose=%s model=%s prompt_tokens=%s completion_tokens=%s latency_ms=%.0f",
            purpose,
            self.model,
            usage.prompt_tokens if usage else "?",
            usage.completion_tokens if usage else "?",
            latency_ms,
        )
        if not text:
            finish = choice.finish_reason if choice is not None else "no choices"
            raise self._failure(purpose, started, f"empty reply (finish_reason={finish})")
        if choice is not None and choice.finish_reason == "length":
            logger.warning(
                "llm reply cut at max_tokens=%d purpose=%s model=%s",
                max_tokens,
                purpose,
                self.model,
            )
        return text

    def _failure(self, purpose: str, started: float, reason: str) -> LLMError:
        """Log a failed call and build the error to raise (the reason holds no secrets)."""
        latency_ms = (time.perf_counter() - started) * 1000
        logger.warning(
            "llm call failed purpose=%s model=%s latency_ms=%.0f: %s",
            purpose,
            self.model,
            latency_ms,
            reason,
        )
        return LLMError(f"LLM call failed ({purpose}): {reason}")

    def close(self) -> None:
        """Close the underlying HTTP connections (once; closing again does nothing)."""
        if self._closed:
            return
        self._closed = True
        self._client.close()
        _unquiet_http_loggers()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
