"""LLMClient with the real openai SDK against the local FakeOpenAI server."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator

import openai
import pytest

from bot.answering.llm import PLACEHOLDER_API_KEY, LLMClient
from bot.errors import ConfigError, LLMError, UserError
from tests.fakes.openai_server import FakeOpenAI, fake_embedding

SECRET_KEY = "sk-test-SECRET-123"
MODEL = "gpt-test-mini"
MESSAGES = [
    {"role": "system", "content": "Answer from the passages only."},
    {"role": "user", "content": "When does the Gold Certified tier end?"},
]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads OPENAI_* and the HTTP stack reads proxy variables; tests must not."""
    for name in list(os.environ):
        if name.startswith("OPENAI_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm(fake: FakeOpenAI) -> Iterator[LLMClient]:
    with LLMClient(
        model=MODEL, api_key=SECRET_KEY, base_url=fake.base_url, timeout=5, max_retries=1
    ) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_good_reply_is_returned_and_request_carries_model_messages_and_key(
    fake: FakeOpenAI, llm: LLMClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake.script("  It becomes Advanced Competency on 1 July [1].  ")

    text = llm.complete(MESSAGES, purpose="answer", max_tokens=200)

    assert text == "It becomes Advanced Competency on 1 July [1]."
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.json["model"] == MODEL
    assert request.json["messages"] == MESSAGES
    assert request.json["max_tokens"] == 200
    assert request.json["temperature"] == 0.0
    assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"

    usage = [
        r for r in caplog.records if r.name == "bot.answering.llm" and r.levelno == logging.INFO
    ]
    assert len(usage) == 1
    message = usage[0].getMessage()
    assert "purpose=answer" in message
    assert f"model={MODEL}" in message
    assert "prompt_tokens=12" in message  # the fake counts whitespace-separated words
    assert "completion_tokens=8" in message
    assert "latency_ms=" in message
    assert SECRET_KEY not in caplog.text


def test_server_errors_after_retries_raise_llm_error(
    fake: FakeOpenAI, llm: LLMClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script(FakeOpenAI.Error(status=500), FakeOpenAI.Error(status=500))

    with pytest.raises(LLMError, match="HTTP 500") as excinfo:
        llm.complete(MESSAGES, purpose="answer")

    assert len(fake.chat_requests) == 2  # first try + max_retries=1
    assert fake.pending == 0
    assert isinstance(excinfo.value.__cause__, openai.InternalServerError)
    assert SECRET_KEY not in str(excinfo.value)
    assert SECRET_KEY not in caplog.text


def test_one_server_error_is_retried_then_succeeds(fake: FakeOpenAI, llm: LLMClient) -> None:
    fake.script(FakeOpenAI.Error(status=503, headers={"retry-after-ms": "1"}), "Recovered.")

    assert llm.complete(MESSAGES, purpose="rewrite") == "Recovered."
    assert len(fake.chat_requests) == 2


def test_client_error_is_not_retried(fake: FakeOpenAI, llm: LLMClient) -> None:
    fake.script(FakeOpenAI.Error(status=400, message="bad request"))

    with pytest.raises(LLMError, match="HTTP 400"):
        llm.complete(MESSAGES, purpose="answer")
    assert len(fake.chat_requests) == 1


def test_timeout_raises_llm_error_quickly(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script(FakeOpenAI.Delay(5.0, "too late"), FakeOpenAI.Delay(5.0, "too late"))
    started = time.monotonic()

    with (
        LLMClient(
            model=MODEL, api_key=SECRET_KEY, base_url=fake.base_url, timeout=0.5, max_retries=1
        ) as llm,
        pytest.raises(LLMError, match="timed out") as excinfo,
    ):
        llm.complete(MESSAGES, purpose="answer")

    assert time.monotonic() - started < 3.0
    assert len(fake.chat_requests) == 2
    assert isinstance(excinfo.value.__cause__, openai.APITimeoutError)
    assert SECRET_KEY not in str(excinfo.value)
    assert SECRET_KEY not in caplog.text


def test_connection_refused_raises_llm_error() -> None:
    base_url = f"http://127.0.0.1:{_free_port()}/v1"
    with (
        LLMClient(model=MODEL, api_key=SECRET_KEY, base_url=base_url, max_retries=0) as llm,
        pytest.raises(LLMError, match="could not connect") as excinfo,
    ):
        llm.complete(MESSAGES, purpose="answer")
    assert SECRET_KEY not in str(excinfo.value)


def test_empty_content_raises_llm_error(fake: FakeOpenAI, llm: LLMClient) -> None:
    fake.script("   ")

    with pytest.raises(LLMError, match="empty reply"):
        llm.complete(MESSAGES, purpose="answer")


def test_base_url_only_works_without_a_key(fake: FakeOpenAI) -> None:
    fake.script("Local model answer.")

    with LLMClient(model="llama3.2", base_url=fake.base_url) as llm:
        assert llm.complete(MESSAGES, purpose="answer") == "Local model answer."

    [request] = fake.requests
    assert request.json["model"] == "llama3.2"
    assert request.headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_key_echoed_by_server_stays_out_of_error_and_logs(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a server that repeats the key in its error body must not leak it through us."""
    caplog.set_level(logging.DEBUG)  # the most verbose setting a deployment could have
    fake.script(FakeOpenAI.Error(status=401, message=f"Incorrect API key provided: {SECRET_KEY}"))

    with (
        LLMClient(model=MODEL, api_key=SECRET_KEY, base_url=fake.base_url) as llm,
        pytest.raises(LLMError, match="HTTP 401") as excinfo,
    ):
        llm.complete(MESSAGES, purpose="answer")

    assert SECRET_KEY not in str(excinfo.value)
    assert SECRET_KEY not in repr(llm)
    assert SECRET_KEY not in caplog.text
    assert "llm call failed purpose=answer" in caplog.text


def test_missing_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY") as excinfo:
        LLMClient(model=MODEL)
    assert isinstance(excinfo.value, UserError)
    with pytest.raises(ConfigError, match="OPENAI_MODEL"):
        LLMClient(model=" ", api_key=SECRET_KEY)
    with pytest.raises(ConfigError, match="TIMEOUT"):
        LLMClient(model=MODEL, api_key=SECRET_KEY, timeout=0)


# -- the fake itself, as other tests rely on it -------------------------------------


def test_fake_responder_computes_reply_from_prompt(fake: FakeOpenAI, llm: LLMClient) -> None:
    fake.responder = lambda body: "echo: " + body["messages"][-1]["content"]

    assert llm.complete(MESSAGES, purpose="rewrite") == f"echo: {MESSAGES[-1]['content']}"
    fake.responder = None
    fake.default_reply = "default"
    assert llm.complete(MESSAGES, purpose="rewrite") == "default"


def test_fake_embeddings_are_deterministic_through_the_sdk(fake: FakeOpenAI) -> None:
    client = openai.OpenAI(api_key=SECRET_KEY, base_url=fake.base_url, max_retries=0)
    try:
        # The SDK asks for base64 by default and decodes it; float must agree.
        default = client.embeddings.create(model="emb", input=["tier", "competency"])
        floats = client.embeddings.create(model="emb", input="tier", encoding_format="float")
    finally:
        client.close()

    assert [d.embedding for d in default.data] == [
        fake_embedding("tier"),
        fake_embedding("competency"),
    ]
    assert floats.data[0].embedding == fake_embedding("tier")
    assert len(fake_embedding("tier")) == 8
    assert fake.requests[0].path == "/v1/embeddings"
