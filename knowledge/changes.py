"""Section-level comparison of two versions of a program document.

Only content counts. A section moved elsewhere in the document (same heading path,
or a whole subtree moved under another parent with the same headings), sentences
reordered inside a section, and whitespace or Markdown formatting edits (emphasis,
bullet style, line wrapping, table pipes and alignment, letter case) are not
changes. Sections are compared as multisets of the units `chunking.section_units`
produces, so a table row is compared as one "Header: value" line.

Pure functions over `Section`s: no index, no database, fast enough to diff a
thousand changed documents in a fraction of a second.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Literal, Protocol

from knowledge.audience import Audience, joint_key
from knowledge.chunking import section_units
from knowledge.documents import Section

if TYPE_CHECKING:
    from knowledge.documents import Document

logger = logging.getLogger(__name__)

ChangeKind = Literal["added", "removed", "changed"]

# An added or removed section keeps at most this many sentences as its excerpt.
MAX_EDITS = 20
# Two sentences this similar (0..1, word-level) are shown as one edit, before → after.
PAIR_SIMILARITY = 0.5

_EMPHASIS = re.compile(r"(\*\*|__|~~|`)|(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# A table's delimiter row in any style, e.g. |---|:-:|--:| (chunking wants two dashes).
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_TRAILING = " \t.;:,"
_WORD = re.compile(r"\w+(?:[.,'-]\w+)*")


class VersionLike(Protocol):
    """What a comparison needs from a document version (Document or DocumentVersion)."""

    @property
    def path(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def effective_date(self) -> date | None: ...

    @property
    def sections(self) -> tuple[Section, ...]: ...


@dataclass(frozen=True, slots=True)
class SentenceEdit:
    """One changed sentence: before → after (None on the side where it does not exist)."""

    before: str | None
    after: str | None


class EditedSection:
    """What a change says, for anything holding a section path and its sentence edits."""

    __slots__ = ()
    section: tuple[str, ...]
    edits: tuple[SentenceEdit, ...]

    @property
    def section_label(self) -> str:
        return " › ".join(self.section)

    @property
    def before(self) -> str:
        return " … ".join(e.before for e in self.edits if e.before)

    @property
    def after(self) -> str:
        return " … ".join(e.after for e in self.edits if e.after)


@dataclass(frozen=True, slots=True)
class SectionChange(EditedSection):
    """A content change in one section of one document (section () = the whole document)."""

    doc_path: str
    title: str
    section: tuple[str, ...]
    kind: ChangeKind
    edits: tuple[SentenceEdit, ...]
    effective_date: date | None = None
    # Who may be told of it: readers of both versions (knowledge/audience.py `joint_key`).
    audience: str = ""


# -- normalisation -------------------------------------------------------------------------
def clean_unit(unit: str) -> str:
    """A sentence as shown in excerpts: Markdown emphasis and odd spacing removed."""
    text = unit if unit.isascii() else unicodedata.normalize("NFKC", unit).translate(_QUOTES)
    if "*" in text or "_" in text or "~" in text or "`" in text:
        text = _EMPHASIS.sub("", text)
    return " ".join(text.split())


def unit_key(cleaned: str) -> str:
    """The comparison key of a cleaned sentence: case and trailing punctuation ignored."""
    return cleaned.rstrip(_TRAILING).casefold()


def _join_continuations(text: str) -> str:
    """Rejoin list items wrapped over several lines and drop table delimiter rows."""
    lines: list[str] = []
    in_item = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("|") and "-" in stripped and _TABLE_RULE.match(stripped):
            continue
        if not stripped or stripped.startswith("|"):
            in_item = False
            lines.append(line)
        elif _LIST_ITEM.match(line):
            in_item = True
            lines.append(line)
        elif in_item:
            lines[-1] = f"{lines[-1].rstrip()} {stripped}"
        else:
            lines.append(line)
    return "\n".join(lines)


def section_sentences(text: str) -> list[str]:
    """A section's cleaned sentences, list items and table rows, in order."""
    return [c for c in (clean_unit(u) for u in section_units(_join_continuations(text))) if c]


@dataclass(slots=True)
class _Body:
    """A section's raw text; its sentences and their keys are computed only when needed."""

    raw: list[str]
    units: list[str] | None = None
    keys: list[str] | None = None
    counts: Counter[str] | None = None

    def sentences(self) -> list[str]:
        if self.units is None:
            self.units = section_sentences("\n\n".join(self.raw))
        return self.units

    def unit_keys(self) -> list[str]:
        if self.keys is None:
            self.keys = [unit_key(u) for u in self.sentences()]
        return self.keys

    def key_counts(self) -> Counter[str]:
        if self.counts is None:
            self.counts = Counter(self.unit_keys())
        return self.counts


def _bodies(sections: Iterable[Section]) -> dict[tuple[str, ...], _Body]:
    """Sections by heading path, in document order; repeated paths are merged."""
    bodies: dict[tuple[str, ...], _Body] = {}
    for s in sections:
        if s.path in bodies:
            bodies[s.path].raw.append(s.text)
        else:
            bodies[s.path] = _Body([s.text])
    return bodies


# -- sentence pairing ----------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _pair(gone: Sequence[str], came: Sequence[str]) -> tuple[SentenceEdit, ...]:
    """Pair removed with added sentences by word similarity; the rest stand alone."""
    edits: list[SentenceEdit] = []
    came_words = [_words(c) for c in came]
    free = list(range(len(came)))
    for before in gone:
        words = _words(before)
        best, best_ratio = -1, PAIR_SIMILARITY
        for i in free:
            matcher = SequenceMatcher(None, words, came_words[i], autojunk=False)
            if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
                continue
            ratio = matcher.ratio()
            if ratio >= best_ratio:
                best, best_ratio = i, ratio
        if best >= 0:
            free.remove(best)
            edits.append(SentenceEdit(before, came[best]))
        else:
            edits.append(SentenceEdit(before, None))
    edits.extend(SentenceEdit(None, came[i]) for i in free)
    return tuple(edits)


def _multiset_minus(body: _Body, other: Counter[str]) -> list[str]:
    """The body's sentences (in order) whose key is not matched by one in `other`."""
    remaining = Counter(other)
    out = []
    for unit, key in zip(body.sentences(), body.unit_keys(), strict=True):
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            out.append(unit)
    return out


# -- comparing versions --------------------------------------------------------------------
def compare_sections(
    previous: Sequence[Section], new: Sequence[Section]
) -> list[tuple[tuple[str, ...], ChangeKind, tuple[SentenceEdit, ...]]]:
    """(section path, kind, edits) for every section whose content differs."""
    old_bodies, new_bodies = _bodies(previous), _bodies(new)
    added = [p for p in new_bodies if p not in old_bodies]
    removed = [p for p in old_bodies if p not in new_bodies]

    # A section whose path changed but whose heading and content did not was moved.
    if added and removed:
        by_content: dict[tuple[str, frozenset[tuple[str, int]]], list[tuple[str, ...]]] = {}
        for p in removed:
            key = (p[-1].casefold() if p else "", frozenset(old_bodies[p].key_counts().items()))
            by_content.setdefault(key, []).append(p)
        still_added = []
        for p in added:
            key = (p[-1].casefold() if p else "", frozenset(new_bodies[p].key_counts().items()))
            match = by_content.get(key)
            if match:
                removed.remove(match.pop(0))
            else:
                still_added.append(p)
        added = still_added

    out: list[tuple[tuple[str, ...], ChangeKind, tuple[SentenceEdit, ...]]] = []
    added_set = set(added)
    for path, body in new_bodies.items():
        if path in added_set:
            continue
        old = old_bodies.get(path)
        if old is None or old.raw == body.raw:
            continue
        if old.key_counts() == body.key_counts():
            continue  # formatting, wrapping or order only
        gone = _multiset_minus(old, body.key_counts())
        came = _multiset_minus(body, old.key_counts())
        out.append((path, "changed", _pair(gone, came)))
    out.extend(_whole_sections(added, new_bodies, "added"))
    out.extend(_whole_sections(removed, old_bodies, "removed"))
    return out


def _whole_sections(
    paths: Sequence[tuple[str, ...]], bodies: dict[tuple[str, ...], _Body], kind: ChangeKind
) -> list[tuple[tuple[str, ...], ChangeKind, tuple[SentenceEdit, ...]]]:
    """Added or removed sections; a subsection goes with its added/removed parent."""
    chosen = set(paths)
    roots: dict[tuple[str, ...], list[str]] = {}
    for path in paths:
        root = next((path[:i] for i in range(1, len(path)) if path[:i] in chosen), path)
        roots.setdefault(root, []).extend(bodies[path].sentences())
    out: list[tuple[tuple[str, ...], ChangeKind, tuple[SentenceEdit, ...]]] = []
    for root, units in roots.items():
        if not units:
            continue
        units = units[:MAX_EDITS]
        edits = tuple(
            SentenceEdit(None, u) if kind == "added" else SentenceEdit(u, None) for u in units
        )
        out.append((root, kind, edits))
    return out


def _document_excerpt(version: VersionLike, limit: int = 2) -> list[str]:
    units: list[str] = []
    for s in version.sections:
        units.extend(section_sentences(s.text))
        if len(units) >= limit:
            break
    return units[:limit]


def compare(previous: VersionLike | None, new: VersionLike) -> list[SectionChange]:
    """The content changes from `previous` to `new` (a new document is one "added" change)."""
    if previous is None:
        edits = tuple(SentenceEdit(None, u) for u in _document_excerpt(new))
        return [SectionChange(new.path, new.title, (), "added", edits, new.effective_date)]
    changes = [
        SectionChange(new.path, new.title, path, kind, edits, new.effective_date)
        for path, kind, edits in compare_sections(previous.sections, new.sections)
    ]
    meta: list[SentenceEdit] = []
    if clean_unit(previous.title) != clean_unit(new.title):
        meta.append(SentenceEdit(f"Title: {previous.title}", f"Title: {new.title}"))
    if not changes and previous.effective_date != new.effective_date:
        meta.append(
            SentenceEdit(
                f"Effective date: {_iso(previous.effective_date)}",
                f"Effective date: {_iso(new.effective_date)}",
            )
        )
    if meta:
        changes.insert(
            0, SectionChange(new.path, new.title, (), "changed", tuple(meta), new.effective_date)
        )
    return changes


def removed_document(previous: VersionLike) -> SectionChange:
    edits = tuple(SentenceEdit(u, None) for u in _document_excerpt(previous))
    return SectionChange(
        previous.path, previous.title, (), "removed", edits, previous.effective_date
    )


def _iso(value: date | None) -> str:
    return value.isoformat() if value else "none"


class SyncLike(Protocol):
    """The parts of a `knowledge.index.SyncReport` change detection reads."""

    @property
    def updated(self) -> list[str]: ...

    @property
    def unchanged(self) -> list[str]: ...

    @property
    def removed(self) -> list[str]: ...

    @property
    def renamed(self) -> list[tuple[str, str]]: ...

    @property
    def changed(self) -> Sequence[tuple[VersionLike | None, Document]]: ...

    @property
    def removed_versions(self) -> Sequence[VersionLike]: ...


def changes_from_sync(report: SyncLike) -> list[SectionChange]:
    """Every content change an index run made.

    The first run over an empty index is the baseline, not a change. A renamed file
    with identical content is no change; a removed and an added document with the same
    title are taken as a rename and compared section by section.
    """
    if not (report.updated or report.unchanged or report.removed):
        return []
    renamed_new = {new for _, new in report.renamed}
    renamed_old = {old for old, _ in report.renamed}
    new_docs: list[tuple[VersionLike | None, VersionLike]] = [
        (prev, doc)
        for prev, doc in report.changed
        if doc.kind == "document" and doc.path not in renamed_new
    ]
    gone = [v for v in report.removed_versions if v.path not in renamed_old]
    by_title = {clean_unit(v.title).casefold(): v for v in gone}
    changes: list[SectionChange] = []
    for prev, doc in new_docs:
        if prev is None:
            prev = by_title.pop(clean_unit(doc.title).casefold(), None)
            if prev is not None:
                gone.remove(prev)
        try:
            joint = joint_key(_audience_of(prev), _audience_of(doc))
            changes.extend(replace(c, audience=joint) for c in compare(prev, doc))
        except Exception:  # one odd document must not cost the run its other changes
            logger.exception("could not compare the versions of %s", doc.path)
    changes.extend(replace(removed_document(v), audience=_audience_of(v)) for v in gone)
    return changes


def _audience_of(version: VersionLike | None) -> str:
    """A version's audience key (a Document holds an Audience, a recorded version its key)."""
    audience = getattr(version, "audience", "")
    return audience.key if isinstance(audience, Audience) else str(audience or "")
