"""Reaching a Chroma server that wants a token, over TLS; the token never shows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from knowledge.errors import IndexUnavailableError
from knowledge.index import KnowledgeIndex
from knowledge.vectors import ChromaServer
from tests.chroma_server import ChromaProcess, GuardedChroma
from tests.knowledge.test_index_crashes import HashEmbedder

TOKEN = "chroma-token-5ec2e7-do-not-log"
DOCS = {"deals.md": "# Deals\n## Protection\nAn approved deal is protected for 120 days.\n"}


def index_through(server: ChromaServer, data: Path) -> KnowledgeIndex:
    return KnowledgeIndex(data_dir=data, embedder=HashEmbedder(), chroma=server)


@pytest.mark.parametrize("header", ["Authorization", "X-Chroma-Token"])
def test_the_token_reaches_a_server_that_requires_one(
    chroma_server: ChromaProcess,
    make_docs: Callable[[dict[str, str]], Path],
    tmp_path: Path,
    header: str,
) -> None:
    folder = make_docs(DOCS)
    with GuardedChroma(chroma_server, token=TOKEN) as guard:
        server = ChromaServer("127.0.0.1", guard.port, auth_token=TOKEN, auth_header=header)
        index = index_through(server, tmp_path / "data")
        report = index.sync(folder)
        assert report.added == ["deals.md"]
        hits = index.dense_search(HashEmbedder().embed(["anything"])[0], 1)
        assert hits and index.chunks([hits[0][0]])[hits[0][0]].doc_path == "deals.md"
        index.close()
    sent = {h.get(header) for h in guard.seen}
    assert sent == {f"Bearer {TOKEN}" if header == "Authorization" else TOKEN}
    assert guard.refused == 0


def test_a_wrong_token_is_a_clear_error_that_does_not_show_it(
    chroma_server: ChromaProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-token-77f1-do-not-log"
    with GuardedChroma(chroma_server, token=TOKEN) as guard, caplog.at_level(logging.DEBUG):
        server = ChromaServer("127.0.0.1", guard.port, auth_token=wrong)
        with pytest.raises(IndexUnavailableError) as error:
            index_through(server, tmp_path / "data")
    message = str(error.value)
    assert f"cannot reach the Chroma server at http://127.0.0.1:{guard.port}" in message
    assert "Unauthorized" in message and "CHROMA_AUTH_TOKEN" in message
    assert guard.refused >= 1
    assert wrong not in message and wrong not in caplog.text and wrong not in repr(server)


def test_tls_is_verified_against_the_given_ca_bundle(
    chroma_server: ChromaProcess,
    make_docs: Callable[[dict[str, str]], Path],
    tmp_path: Path,
) -> None:
    folder = make_docs(DOCS)
    with GuardedChroma(chroma_server, token=TOKEN, tls_folder=tmp_path) as guard:
        assert guard.certificate is not None
        trusted = ChromaServer(
            "127.0.0.1", guard.port, ssl=True, auth_token=TOKEN, ca_bundle=str(guard.certificate)
        )
        index = index_through(trusted, tmp_path / "data")
        assert index.sync(folder).added == ["deals.md"]
        index.close()
        untrusted = ChromaServer("127.0.0.1", guard.port, ssl=True, auth_token=TOKEN)
        with pytest.raises(IndexUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            index_through(untrusted, tmp_path / "other")
        plain = ChromaServer("127.0.0.1", guard.port, ssl=False, auth_token=TOKEN)
        with pytest.raises(IndexUnavailableError, match="CHROMA_SSL"):
            index_through(plain, tmp_path / "plain")


def test_chroma_settings_build_the_server_and_hide_the_token(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked here")
    settings = load_settings(
        CHROMA_HOST=" chroma.internal ",
        CHROMA_PORT=8443,
        CHROMA_SSL=True,
        CHROMA_CA_BUNDLE=str(bundle),
        CHROMA_AUTH_TOKEN=TOKEN,
        CHROMA_AUTH_HEADER="x-chroma-token",
    )
    assert settings.chroma_server == ChromaServer(
        "chroma.internal", 8443, True, TOKEN, "X-Chroma-Token", str(bundle)
    )
    assert TOKEN not in repr(settings) and TOKEN not in repr(settings.chroma_server)
    assert not settings.shared_index  # the state is not in PostgreSQL
    assert Settings().chroma_server is None  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="CHROMA_AUTH_HEADER='Cookie'"):
        load_settings(CHROMA_AUTH_HEADER="Cookie")
    with pytest.raises(ConfigError, match=r"CHROMA_CA_BUNDLE=.*does not exist"):
        load_settings(CHROMA_CA_BUNDLE=str(tmp_path / "missing.pem"))
