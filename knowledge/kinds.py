"""Names of one kind (tiers, tracks, competencies, …) learned from the documents themselves.

A follow-up such as "and for resellers?" after "gold tier reqs for MSPs?" asks the same
thing about another member of the same kind: "resellers" replaces "MSPs" rather than
joining it. A glossary can name these groups, but most vendors' folders have none, so
the groups are read from how program documents are written:

- enumerations that name their kind: "three tiers: Registered, Basic, and Gold",
  "the Basic and Gold tiers", "Registered tier, Basic tier, and Gold tier";
- the first column of a table ("Tier: Member; Deadline: …" lines, one per row);
- sibling headings that end in the same word: "Basic Tier" / "Gold Tier",
  "Reseller Track" / "MSP Track".

A name is kept as its stemmed tokens, so "resellers" meets "Reseller" and
"consulting/SI" meets "Consulting/SI"; an acronym in brackets ("Consultant & Systems
Integrator (C&SI)") is a second name for the same member.

Beside the groups, the documents say what they treat as a named thing of its own: the
acronyms they write in capitals ("ISV", "NPN") and the word pairs of their titles and
headings ("press release", "response times"). A follow-up that mentions one of those has
a subject of its own (bot/answering/rewrite.py).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations, pairwise

from knowledge.documents import Chunk
from knowledge.glossary import Glossary
from knowledge.lexical import STOPWORDS, tokenize

Name = tuple[str, ...]  # stemmed tokens

MAX_NAME_WORDS = 5
_WORD = r"[A-Z][\w&/'’-]*"
_ITEM = rf"{_WORD}(?:\s+(?:{_WORD}|of|and|&|for|the|\([A-Z][\w&/-]*\)))*"
# "three tiers: Registered, Basic, and Gold" / "three designated tracks: A (AS), B, and C Tracks"
_NAMED_LIST = re.compile(
    rf"\b(?P<kind>[a-z]{{3,}})s:\s+(?P<items>{_ITEM}(?:\s*,\s*(?:(?:and|or)\s+)?{_ITEM})*)"
)
# "the Basic and Gold tiers", "Registered, Basic, and Gold tier Partners", "Basic tier,
# Gold tier" — capitalised names followed by the lower-case noun of their kind.
_TRAILING_KIND = re.compile(
    rf"(?P<items>{_ITEM}(?:\s+(?P<repeat>[a-z]{{3,}}))?(?:\s*,\s*(?:(?:and|or)\s+)?{_ITEM}"
    rf"(?:\s+(?P=repeat))?)*(?:,?\s+(?:and|or)\s+{_ITEM}))\s+(?P<kind>[a-z]{{3,}}?)s?\b"
)
_TABLE_ROW = re.compile(r"^(?P<header>[A-Za-z][^:;\n]{0,40}):\s*(?P<value>[^;\n]+?)\s*(?:;|\.$|$)")
_ACRONYM = re.compile(r"\s*\(([^()]{1,20})\)\s*")
_DIGIT = re.compile(r"\d")
_CONNECTORS = frozenset(["&", "and", "of", "for", "the", "/", "-"])
# Table cells and headings that say "nothing here" rather than name something.
_NOT_NAMES = frozenset(["none", "n/a", "na", "yes", "no", "tbd", "all", "other", "others"])
# A word written in capitals ("ISV", "C&SI", "MSPs"); it counts as an acronym once the
# documents write it so ACRONYM_USES times (a shouted "NOTE" is seldom repeated as a name).
_CAPITALS = re.compile(r"(?<![\w&])[A-Z][A-Z0-9&]*[A-Z0-9](?:s|'s)?(?![\w&])")
ACRONYM_USES = 2


@dataclass(frozen=True)
class NameKinds:
    """Groups of interchangeable names; a name may belong to several groups.

    `aliases` ties names of the same member ("MSPs", "Managed Services Provider"), which
    are never each other's rivals. `terms` are the other things the documents name: the
    acronyms they write and the adjacent word pairs of their titles and headings.
    """

    groups: dict[str, frozenset[Name]] = field(default_factory=dict)
    aliases: dict[Name, frozenset[Name]] = field(default_factory=dict)
    terms: frozenset[Name] = frozenset()

    @classmethod
    def from_glossary(cls, glossary: Glossary) -> NameKinds:
        """The glossary's groups, each member with the shorthand that stands for it."""
        groups: dict[str, frozenset[Name]] = {}
        aliases: dict[Name, set[Name]] = defaultdict(set)
        for label, members in glossary.groups.items():
            names: set[Name] = set()
            for member in members:
                target = glossary.terms.get(member, member)
                same = {name_tokens(member), name_tokens(target)} | {
                    name_tokens(k) for k, v in glossary.terms.items() if v == target
                }
                same.discard(())
                names |= same
                for name in same:
                    aliases[name] |= same
            if len(names) >= 2:
                groups[label] = frozenset(names)
        return cls(groups, {k: frozenset(v) for k, v in aliases.items()})

    def merged(self, other: NameKinds) -> NameKinds:
        groups = dict(self.groups)
        for label, names in other.groups.items():
            key = label
            while key in groups:
                key += "+"
            groups[key] = names
        aliases = {k: set(v) for k, v in self.aliases.items()}
        for name, same in other.aliases.items():
            aliases.setdefault(name, set()).update(same)
        return NameKinds(
            groups, {k: frozenset(v) for k, v in aliases.items()}, self.terms | other.terms
        )

    def with_shorthand(self, terms: Mapping[str, str]) -> NameKinds:
        """Shorthand (glossary `terms`) joins the kind of the name it stands for: "gold" →
        Advanced makes "gold" a tier, so "and for member tier?" after "gold" replaces it."""
        groups: dict[str, frozenset[Name]] = {}
        aliases = {k: set(v) for k, v in self.aliases.items()}
        for label, names in self.groups.items():
            extra: set[Name] = set()
            for short, target in terms.items():
                said, meant = name_tokens(short), name_tokens(target)
                if said and meant in names and said not in names:
                    extra.add(said)
                    aliases.setdefault(said, {said}).add(meant)
                    aliases.setdefault(meant, {meant}).add(said)
            groups[label] = names | extra
        return NameKinds(groups, {k: frozenset(v) for k, v in aliases.items()}, self.terms)

    def kinds(self, name: Name) -> set[str]:
        """The kinds a name is of, by their noun ("tier")."""
        return {label.rstrip("+") for label, names in self.groups.items() if name in names}

    def names_in(self, tokens: Sequence[str]) -> list[tuple[int, int, Name]]:
        """(start, end, name) for every known name found in a stemmed token sequence."""
        found = []
        index = self._by_first_token
        for start, token in enumerate(tokens):
            for name in index.get(token, ()):
                end = start + len(name)
                if tuple(tokens[start:end]) == name:
                    found.append((start, end, name))
        return found

    def names_a_term(self, tokens: Sequence[str]) -> bool:
        """Does a stemmed token sequence mention something the documents name: a name of
        a group, an acronym they write, or two words a title or heading has side by side
        (in either order: "what offerings can we list?" meets "List an offering")?"""
        if self.names_in(tokens):
            return True
        return any((t,) in self.terms for t in tokens) or any(
            _pair(a, b) in self.terms for a, b in combinations(tokens, 2)
        )

    def rivals(self, name: Name) -> set[Name]:
        """The other names of every kind this name belongs to (its own aliases excepted)."""
        out: set[Name] = set()
        for names in self.groups.values():
            if name in names:
                out |= names
        return out - {name} - self.aliases.get(name, frozenset())

    @cached_property
    def _by_first_token(self) -> dict[str, list[Name]]:
        index: dict[str, set[Name]] = defaultdict(set)
        for names in self.groups.values():
            for name in names:
                index[name[0]].add(name)
        return {k: sorted(v, key=len, reverse=True) for k, v in index.items()}


def name_tokens(text: str) -> Name:
    """The tokens names are compared by: stemmed, and a plural "s" the stemmer leaves on
    acronyms dropped ("MSPs" → "msp")."""
    return tuple(t[:-1] if len(t) > 3 and t.endswith("s") else t for t in tokenize(text))


def kind_noun(word: str) -> str:
    """The label of a kind: its noun, stemmed ("tiers", "Tier" → "tier")."""
    tokens = tokenize(word)
    return tokens[0] if tokens else ""


def _member(raw: str, kind: str) -> frozenset[Name]:
    """A list item as the names of one member: the trailing kind noun dropped, a bracketed
    acronym kept as a second name ("Consultant & Systems Integrator (C&SI)")."""
    raw = raw.strip().strip(",").strip()
    raw = re.sub(r"^(?:and|or)\s+", "", raw)
    words = raw.split()
    if words and kind_noun(words[-1]) == kind:
        words = words[:-1]
    raw = " ".join(words)
    names: set[Name] = set()
    for part in [_ACRONYM.sub(" ", raw), *_ACRONYM.findall(raw)]:
        part = part.strip()
        if not part or _DIGIT.search(part) or len(part.split()) > MAX_NAME_WORDS:
            continue
        if part.lower() in _NOT_NAMES:
            continue
        name = name_tokens(part)
        if name and len("".join(name)) >= 2:
            names.add(name)
    return frozenset(names)


def _split_items(items: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\s*,\s*", items) if p.strip()]
    oxford = any(re.match(r"(?:and|or)\s", p) for p in parts[1:])
    if not oxford and parts:
        last = re.split(r"\s+(?:and|or|&)\s+", parts[-1])
        parts = parts[:-1] + last
    return parts


class _Found:
    """Members seen per kind while reading the documents."""

    def __init__(self) -> None:
        self.kinds: dict[str, set[frozenset[Name]]] = defaultdict(set)

    def add(self, kind: str, items: Iterable[str], *, least: int = 2) -> None:
        members = {m for m in (_member(item, kind) for item in items) if m}
        if len(members) >= least:
            self.kinds[kind] |= members

    def result(self, terms: frozenset[Name] = frozenset()) -> NameKinds:
        groups: dict[str, frozenset[Name]] = {}
        aliases: dict[Name, set[Name]] = defaultdict(set)
        for kind, members in self.kinds.items():
            names = frozenset(n for m in members for n in m)
            if len(members) < 2 or len(names) < 2:
                continue
            groups[kind] = names
            for member in members:
                for name in member:
                    aliases[name] |= member
        return NameKinds(groups, {k: frozenset(v) for k, v in aliases.items() if len(v) > 1}, terms)


def _from_text(text: str, found: _Found) -> None:
    for m in _NAMED_LIST.finditer(text):
        found.add(kind_noun(m.group("kind")), _split_items(m.group("items")))
    for m in _TRAILING_KIND.finditer(text):
        if m.group("kind") in STOPWORDS:
            continue
        kind = kind_noun(m.group("kind"))
        repeat = m.group("repeat")
        if repeat and kind_noun(repeat) != kind:
            continue
        found.add(kind, _split_items(m.group("items")))


def _from_table_rows(text: str, found: _Found) -> None:
    """The first cell of "Header: value; Header: value." rows (tables as the chunker writes
    them): the values of one column are names of one kind."""
    for line in text.splitlines():
        if "; " not in line:
            continue
        m = _TABLE_ROW.match(line)
        if m is not None:
            header = m.group("header").strip().lower()
            found.add(f"column:{header}", [m.group("value")], least=1)


def _is_proper(words: Sequence[str]) -> bool:
    """Every word capitalised (or a connector): "Managed Services Provider", not
    "Conflicts between" — headings are sentence case, so their first word proves nothing."""
    return bool(words) and all(
        w[:1].isupper() or w[:1] == "(" or w.lower() in _CONNECTORS for w in words
    )


def _from_headings(sections: Iterable[tuple[str, tuple[str, ...]]], found: _Found) -> None:
    """Sibling headings of one document that end in the same noun: "Basic Tier", "Gold Tier"."""
    siblings: dict[tuple[str, tuple[str, ...], str], list[str]] = defaultdict(list)
    for doc, path in set(sections):
        if not path:
            continue
        words = path[-1].split()
        if len(words) < 2 or not _is_proper(words[:-1]):
            continue
        kind = kind_noun(words[-1])
        if len(kind) >= 3:
            siblings[(doc, path[:-1], kind)].append(" ".join(words[:-1]))
    for (_doc, _parent, kind), items in siblings.items():
        found.add(kind, items)


def _pair(a: str, b: str) -> Name:
    """Two words as a term, whatever their order."""
    return (a, b) if a <= b else (b, a)


def _count_acronyms(text: str, uses: dict[Name, int]) -> None:
    for m in _CAPITALS.finditer(text):
        name = name_tokens(m.group(0))
        if len(name) == 1:
            uses[name] += 1


def _terms(uses: dict[Name, int], headings: Iterable[str]) -> frozenset[Name]:
    """The acronyms written ACRONYM_USES times, and every pair of adjacent words of the
    headings, stopwords left out ("Severity levels and response times" gives "severity
    level", "level response", "response time")."""
    terms = {name for name, n in uses.items() if n >= ACRONYM_USES}
    for heading in headings:
        tokens = name_tokens(heading)
        terms.update(_pair(a, b) for a, b in pairwise(tokens))
    return frozenset(terms)


@dataclass(frozen=True)
class Seen:
    """What learn_kinds reads in some chunks before it groups them: the members of each
    kind, how often each acronym is written in capitals, the titles and headings. Kept per
    group of chunks and put together by `kinds_of`."""

    members: dict[str, set[frozenset[Name]]]
    uses: dict[Name, int]
    headings: frozenset[str]


def learn_kinds(chunks: Iterable[Chunk]) -> NameKinds:
    """Groups of names of one kind found in the chunks (a group needs two members or more),
    and the other things they name (acronyms, heading word pairs)."""
    return kinds_of([seen_in(chunks)])


def seen_in(chunks: Iterable[Chunk]) -> Seen:
    """What these chunks name (whole documents: sibling headings are compared within a
    document)."""
    found = _Found()
    sections = []
    headings: set[str] = set()
    uses: dict[Name, int] = defaultdict(int)
    for chunk in chunks:
        sections.append((chunk.doc_path, chunk.section))
        headings.update([chunk.title, *chunk.section])
        _count_acronyms(chunk.text, uses)
        _from_text(chunk.text, found)
        _from_table_rows(chunk.text, found)
    _from_headings(sections, found)
    return Seen(dict(found.kinds), dict(uses), frozenset(headings))


def kinds_of(pieces: Iterable[Seen]) -> NameKinds:
    """The groups of names of one kind and the named things, from what was seen in several
    groups of chunks (as if seen in all of them at once)."""
    found = _Found()
    uses: dict[Name, int] = defaultdict(int)
    headings: set[str] = set()
    for piece in pieces:
        for kind, members in piece.members.items():
            found.kinds[kind] |= members
        for name, n in piece.uses.items():
            uses[name] += n
        headings |= piece.headings
    return found.result(_terms(uses, headings))
