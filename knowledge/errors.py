"""Errors raised by the knowledge layer; messages are written for the admin who must act."""

from __future__ import annotations

import errno
import os


class KnowledgeError(Exception):
    """Base class: something about the documents or the index the admin can fix."""


class EmbedderMismatchError(KnowledgeError):
    """The index on disk was built with a different embedder than the one configured."""


class EmptyIndexError(KnowledgeError):
    """A question was asked before anything was indexed."""


class DocumentsMissingError(KnowledgeError):
    """The documents folder to index does not exist (it is never read as an empty one)."""


class IndexWriteError(KnowledgeError):
    """The index could not be written (e.g. a full disk); the next run repairs it."""


class CatalogError(KnowledgeError):
    """The index catalog cannot be opened or migrated (the message says why and what to do)."""


class IndexUnavailableError(KnowledgeError):
    """The vector store cannot be reached or lost the index's collection."""


class ProviderError(KnowledgeError):
    """The embedding provider refused a request or could not be reached (the message says
    which, and which setting to check)."""


# What a full disk (or a file size limit) is called by the OS, SQLite and Chroma's store.
_DISK_FULL = (
    "no space left on device",
    "database or disk is full",
    "disk quota exceeded",
    "file too large",
)
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_full_reason(error: BaseException) -> str | None:
    """The reason, when this error (or one it was raised from) says the disk is full."""
    seen: set[int] = set()
    chain: list[BaseException] = [error]
    while chain:
        e = chain.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _DISK_FULL_ERRNOS:
            return e.strerror or os.strerror(e.errno)
        text = str(e).lower()
        for words in _DISK_FULL:
            if words in text:
                return words
        chain.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    return None
