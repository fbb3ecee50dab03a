"""Errors raised by the knowledge layer; messages are written for the admin who must act."""

from __future__ import annotations


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
