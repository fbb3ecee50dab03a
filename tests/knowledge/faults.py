"""Fault injection for index crash tests: every write step of an index run, observed.

The write steps are the catalog's write methods (each one transaction) and Chroma's
writes. `observe(index, before, after)` calls `before(step)` just before each and
`after(step)` just after, so a test can end the run at any step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from knowledge.index import KnowledgeIndex

CATALOG_WRITES = frozenset(
    [
        "begin",
        "set_file_hash",
        "add_chunks",
        "commit_documents",
        "retire",
        "drop_pending",
        "discard",
        "switch",
        "forget",
    ]
)
CHROMA_WRITES = frozenset(["add", "upsert", "update", "delete"])
CLIENT_WRITES = frozenset(["delete_collection"])

Hook = Callable[[str], None]


def _noop(step: str) -> None:
    return None


class _Observed:
    def __init__(self, real: Any, prefix: str, writes: frozenset[str], before: Hook, after: Hook):
        self._real, self._prefix, self._writes = real, prefix, writes
        self._before, self._after = before, after

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name in ("get_collection", "get_or_create_collection", "create_collection"):

            def opened(*args: Any, **kwargs: Any) -> Any:
                return _Observed(
                    attr(*args, **kwargs), "chroma", CHROMA_WRITES, self._before, self._after
                )

            return opened
        if name not in self._writes:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            step = f"{self._prefix}.{name}"
            self._before(step)
            result = attr(*args, **kwargs)
            self._after(step)
            return result

        return write


def observe(index: KnowledgeIndex, before: Hook = _noop, after: Hook = _noop) -> None:
    """Route the index's catalog and Chroma writes through the hooks."""
    catalog = _Observed(index.catalog, "catalog", CATALOG_WRITES, before, after)
    index.catalog = index.writer.catalog = catalog
    index.vectors._clients[-1] = _Observed(
        index.vectors._clients[-1], "client", CLIENT_WRITES, before, after
    )


def real_catalog(index: KnowledgeIndex) -> Any:
    catalog = index.catalog
    return catalog._real if isinstance(catalog, _Observed) else catalog
