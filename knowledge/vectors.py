"""Chroma, embedded or a server: clients, collections, and the settings to reach a server.

Embedded (default): a PersistentClient in DATA_DIR/chroma. A server (`chroma run`):
host, port, TLS (CHROMA_SSL, optionally a CA bundle for a private certificate) and a
token (CHROMA_AUTH_TOKEN, sent as a bearer `Authorization` header or `X-Chroma-Token`),
which never appears in a log, an error or a repr.
"""

from __future__ import annotations

import logging
import os
import resource
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
from chromadb.api.types import EmbeddingFunction
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError

from knowledge.embeddings import Embedder
from knowledge.errors import IndexUnavailableError
from knowledge.index_lock import opening_lock

logger = logging.getLogger(__name__)

CHROMA_BATCH = 4000  # below Chroma's max batch size
NEARLY_FULL = 2 * 1024 * 1024  # bytes free (or 1% of the disk) below which a disk is full
AUTH_HEADERS = ("Authorization", "X-Chroma-Token")


@dataclass(frozen=True)
class ChromaServer:
    """A Chroma server (`chroma run`) instead of the embedded store in the data directory."""

    host: str
    port: int = 8000
    ssl: bool = False
    auth_token: str | None = field(default=None, repr=False)  # never logged
    auth_header: str = "Authorization"  # or X-Chroma-Token
    ca_bundle: str | None = None  # verify the server against this CA file (private CA)

    @property
    def address(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"

    def scrub(self, text: str) -> str:
        """Text with the token, wherever it appears, replaced by ***."""
        return text.replace(self.auth_token, "***") if self.auth_token else text


class VectorStore:
    """The Chroma client(s) of one index, and its collections by name."""

    def __init__(self, *, data_dir: Path, server: ChromaServer | None) -> None:
        self.data_dir = Path(data_dir)
        self.server = server
        self._clients: list[Any] = []
        if server is None:
            with opening_lock(self.data_dir):  # two processes creating Chroma's tables clash
                self._clients.append(self._connect())
        else:
            self._clients.append(self._connect())

    @property
    def embedded(self) -> bool:
        return self.server is None

    @property
    def client(self) -> Any:
        """The newest client: writers and new snapshots use it."""
        return self._clients[-1]

    def _connect(self, *, fresh: bool = False) -> Any:
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        server = self.server
        if server is None:
            # Chroma shares one client per folder in a process, keyed by its path: another
            # spelling of the same folder ("chroma/./.") gives a fresh one.
            path = str(self.data_dir / "chroma") + "/." * (len(self._clients) if fresh else 0)
            return chromadb.PersistentClient(path=path, settings=settings)
        if server.auth_token:
            settings = ChromaSettings(
                anonymized_telemetry=False,
                allow_reset=False,
                chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                chroma_client_auth_credentials=server.auth_token,
                chroma_auth_token_transport_header=server.auth_header,
            )
        if server.ca_bundle:
            settings.chroma_server_ssl_verify = server.ca_bundle
        try:
            return chromadb.HttpClient(
                host=server.host, port=server.port, ssl=server.ssl, settings=settings
            )
        except Exception as e:
            raise IndexUnavailableError(
                f"cannot reach the Chroma server at {server.address}: "
                f"{server.scrub(_reasons(e))} (check CHROMA_HOST, CHROMA_PORT, CHROMA_SSL, "
                "CHROMA_CA_BUNDLE and CHROMA_AUTH_TOKEN)"
            ) from None

    def refreshed(self) -> Any:
        """A client that sees what other processes wrote since this one opened the store.

        An embedded client keeps the vectors it loaded in memory and never sees another
        process's later writes; a server's clients always do (the same client is given).
        The client before the previous one is closed: no snapshot uses it any more.
        """
        if self.server is not None:
            return self.client
        self._clients.append(self._connect(fresh=True))
        for old in self._clients[:-2]:
            _close(old)
        del self._clients[:-2]
        return self.client

    def collection(self, name: str, client: Any | None = None) -> Any:
        """An existing collection (NotFoundError when it is gone)."""
        return (client or self.client).get_collection(name, embedding_function=None)

    def create(self, *, prefix: str, embedder: Embedder) -> tuple[str, Any]:
        """A new, empty collection for this embedder (its name and handle)."""
        name = f"pb-{prefix[:8]}-{uuid.uuid4().hex[:12]}"
        function = embedder if isinstance(embedder, EmbeddingFunction) else None
        collection = self.client.get_or_create_collection(
            name,
            embedding_function=function,
            metadata={
                "embedder": embedder.model_name,
                "dimension": embedder.dimension,
                "hnsw:space": "cosine",
            },
        )
        return name, collection

    def drop(self, name: str) -> None:
        with suppress(NotFoundError, ValueError):
            self.client.delete_collection(name)

    def delete(self, name: str, ids: Sequence[str]) -> None:
        """Delete these ids from a collection (nothing when it is gone)."""
        if not ids:
            return
        try:
            collection = self.collection(name)
        except NotFoundError:
            return
        for start in range(0, len(ids), CHROMA_BATCH):
            collection.delete(ids=list(ids[start : start + CHROMA_BATCH]))

    def names(self) -> set[str]:
        return {c.name if hasattr(c, "name") else c for c in self.client.list_collections()}

    @property
    def description(self) -> str:
        return self.server.address if self.server else str(self.data_dir / "chroma")

    def disk_full(self, error: BaseException) -> str | None:
        """When a Chroma error of the embedded store came with its disk (all but) full, why:
        Chroma reports some failed writes without their cause ("Error in compaction:
        Failed to apply logs to the metadata segment")."""
        if self.server is not None or not isinstance(error, ChromaError):
            return None
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:  # (ulimit -f): a write past it fails
            return f"this process may write files of {limit // 1024} KB at most: ulimit -f"
        try:
            found = os.statvfs(self.data_dir / "chroma")
        except OSError:
            return None
        free = found.f_bavail * found.f_frsize
        if free >= max(NEARLY_FULL, found.f_blocks * found.f_frsize // 100):
            return None
        return f"{free // 1024} KB free"

    def close(self) -> None:
        for client in self._clients:
            _close(client)


def _reasons(error: BaseException) -> str:
    """An error's message and those of the errors it was raised from (e.g. a TLS failure
    under "could not connect"), each once."""
    seen: list[str] = []
    current: BaseException | None = error
    while current is not None and len(seen) < 4:
        text = str(current).strip() or type(current).__name__
        if text not in seen:
            seen.append(text)
        current = current.__cause__ or current.__context__
    return "; ".join(seen)


def _close(client: Any) -> None:
    try:
        client.close()
    except Exception:
        logger.debug("closing a Chroma client failed", exc_info=True)
