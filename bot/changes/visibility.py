"""Who may be told of a program change now: the stricter of the audience its document had
when the change was found and the audience the document has today.

A document indexed once without its `audience:` line (or outside its restricted folder)
and restricted afterwards keeps change records made while it was public; read through
`VisibleChanges`, each record carries both audiences (`joint_key`: a reader must be in
every one), so "what changed?" and the next digest tell of it only where the document
may be read now. A document that is no longer at its path is looked up by its title, the
way a move is recognised when changes are found (knowledge/changes.py).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.store import ChangeRecord, ChangeRepository
from knowledge.audience import joint_key
from knowledge.changes import SectionChange


def _title(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class DocumentAudiences:
    """The indexed documents' audience keys now, by path and by title."""

    by_path: Mapping[str, str] = field(default_factory=dict)
    by_title: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Iterable[tuple[str, str, str]]) -> DocumentAudiences:
        """From (path, title, audience key) of every indexed document."""
        by_path: dict[str, str] = {}
        by_title: dict[str, set[str]] = {}
        for path, title, key in documents:
            by_path[path] = key
            by_title.setdefault(_title(title), set()).add(key)
        return cls(by_path, {t: tuple(sorted(keys)) for t, keys in by_title.items()})

    def now(self, record: ChangeRecord) -> ChangeRecord:
        """The record with its document's audience today joined to the one it was found with
        (at its path; a document no longer there, at every document of its title)."""
        if record.doc_path in self.by_path:
            current: Sequence[str] = (self.by_path[record.doc_path],)
        else:
            current = self.by_title.get(_title(record.doc_title), ())
        audience = joint_key(record.audience, *current)
        return record if audience == record.audience else replace(record, audience=audience)


class VisibleChanges:
    """The change repository, read with each record's audience as it is now (the rest is
    the repository's)."""

    def __init__(
        self, records: ChangeRepository, documents: Callable[[], DocumentAudiences]
    ) -> None:
        self.records = records
        self.documents = documents

    def list(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        unpublished_only: bool = False,
        doc_path: str | None = None,
        limit: int | None = None,
    ) -> list[ChangeRecord]:
        now = self.documents().now
        found = self.records.list(
            since=since,
            until=until,
            unpublished_only=unpublished_only,
            doc_path=doc_path,
            limit=limit,
        )
        return [now(r) for r in found]

    def get(self, ids: Sequence[int]) -> builtins.list[ChangeRecord]:
        now = self.documents().now
        return [now(r) for r in self.records.get(ids)]

    def latest(self) -> ChangeRecord | None:
        found = self.records.latest()
        return self.documents().now(found) if found is not None else None

    def add(
        self, changes: Iterable[SectionChange], *, detected_at: str
    ) -> builtins.list[ChangeRecord]:
        return self.records.add(changes, detected_at=detected_at)

    def count(self) -> int:
        return self.records.count()

    def mark_published(self, ids: Sequence[int], *, digest_key: str, at: str) -> None:
        self.records.mark_published(ids, digest_key=digest_key, at=at)

    def delete(self, ids: Sequence[int]) -> None:
        self.records.delete(ids)
