"""Audiences: who may read a document, and who reads a reply.

A document's audience comes from its front matter (`audience:`) or, when it has none,
from the nearest `_audience.yml` of its folder; neither means everyone. Two forms:

    audience: [Elite, Advanced]     # anyone holding one of these tags, of any dimension
    audience:                       # one tag of every dimension named …
      tiers: [Elite]
      regions: [ANZ]
      partners: [harbour-it]        # … or one of these partners, by id
    audience: everyone              # public, also inside a restricted folder

A reply's readers are a `Viewer`: what is known to hold for every one of them ("the
tier is Elite", "the partner is harbour-it", "the tier is Elite or Advanced" for a
channel of both). A document is shown only when its audience holds for every reader
the viewer may be; an unknown reader holds nothing and sees public documents only.

Tags are compared without regard to case. Which dimensions and tags exist is the
deployment's vocabulary (routes.yml, the partners file); it is checked by the bot,
not here, so a tag nobody holds keeps its document from everyone — never the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

PARTNERS = "partners"  # the dimension of named partners (ids in the partners file)
TIERS = (
    "tiers"  # the dimension of program tiers (a tier-specific question: bot/answering/answerer.py)
)
ANY = "any"  # a plain list: a tag of any dimension
EVERYONE = "everyone"  # `audience: everyone`
# A dimension written in the singular is read as the plural the vocabulary uses.
SINGULAR_DIMENSIONS = {
    "tier": "tiers",
    "region": "regions",
    "competency": "competencies",
    "partner": "partners",
    "segment": "segments",
    "product": "products",
}
MAX_TAGS = 100
MAX_TAG_CHARS = 100


class AudienceError(ValueError):
    """An audience that cannot be read; the message says why."""


def _fold(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(t.casefold() for t in tags)


@dataclass(frozen=True)
class Audience:
    """Who may read a document. No clauses: everyone. `given`: the document said so itself
    (`audience: everyone`), so its folder's audience does not apply."""

    clauses: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (dimension, tags), sorted
    given: bool = False

    @property
    def public(self) -> bool:
        return not self.clauses

    @cached_property
    def key(self) -> str:
        """The canonical text stored with every chunk ("" for everyone)."""
        if not self.clauses:
            return ""
        return json.dumps([[d, list(tags)] for d, tags in self.clauses], separators=(",", ":"))

    @cached_property
    def _folded(self) -> dict[str, frozenset[str]]:
        return {d: _fold(tags) for d, tags in self.clauses}

    def tags(self, dimension: str) -> tuple[str, ...]:
        return next((tags for d, tags in self.clauses if d == dimension), ())

    def describe(self) -> str:
        """'everyone', 'tiers Elite, Advanced; regions ANZ', 'Elite or Advanced'."""
        if not self.clauses:
            return EVERYONE
        parts = []
        for dimension, tags in self.clauses:
            listed = " or ".join(tags) if dimension == ANY else f"{dimension} {', '.join(tags)}"
            parts.append(listed)
        return "; ".join(parts)

    @classmethod
    def from_key(cls, key: str) -> Audience:
        """The audience a stored key names (a key that cannot be read keeps the document
        from everyone: an audience nobody holds)."""
        if not key:
            return cls()
        try:
            raw = json.loads(key)
            return cls(tuple((str(d), tuple(str(t) for t in tags)) for d, tags in raw), True)
        except (ValueError, TypeError):
            return cls(((ANY, ("\0unreadable",)),), True)

    @classmethod
    def parse(cls, value: Any) -> Audience:
        """The audience a front matter or `_audience.yml` value names (see the module
        docstring). None, "" and [] mean "not said"; AudienceError when it cannot be read."""
        if value is None or value == "" or value == [] or value == {}:
            return cls()
        if isinstance(value, str) and value.strip().casefold() == EVERYONE:
            return cls(given=True)
        if isinstance(value, Mapping):
            clauses: dict[str, tuple[str, ...]] = {}
            for dimension, tags in value.items():
                name = str(dimension).strip().casefold()
                name = SINGULAR_DIMENSIONS.get(name, name)  # `tier:` is `tiers:`
                if not name or name == ANY or not isinstance(dimension, str | int):
                    raise AudienceError(f"audience dimension {dimension!r} is not a name")
                listed = _tag_list(tags, f"audience.{name}")
                if name in clauses:
                    raise AudienceError(f"audience gives {name} twice ({dimension!r} too)")
                if listed:
                    clauses[name] = listed
            if not clauses:
                return cls()
            return cls(tuple(sorted(clauses.items())), True)
        listed = _tag_list(value, "audience")
        if EVERYONE in _fold(listed):
            if len(listed) > 1:
                raise AudienceError("audience: 'everyone' cannot be listed with other tags")
            return cls(given=True)
        return cls(((ANY, listed),), True) if listed else cls()


def _tag_list(value: Any, where: str) -> tuple[str, ...]:
    """A comma-separated string or a list of names, trimmed, unique, sorted."""
    if isinstance(value, bool) or value is None:
        raise AudienceError(f"'{where}' must be a list of names, e.g. [Elite, Advanced]")
    if isinstance(value, str | int | float):
        items: list[Any] = [part for part in str(value).split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise AudienceError(f"'{where}' must be a list of names, e.g. [Elite, Advanced]")
    tags: dict[str, str] = {}
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise AudienceError(f"'{where}' must be a list of names, e.g. [Elite, Advanced]")
        tag = " ".join(str(item).split())
        if len(tag) > MAX_TAG_CHARS:
            raise AudienceError(f"'{where}': a tag is longer than {MAX_TAG_CHARS} characters")
        if tag:
            tags.setdefault(tag.casefold(), tag)
    if len(tags) > MAX_TAGS:
        raise AudienceError(f"'{where}': {len(tags)} tags; at most {MAX_TAGS}")
    return tuple(sorted(tags.values(), key=str.casefold))


@dataclass(frozen=True)
class Viewer:
    """Who reads a reply: what holds for every one of them. Each fact is a dimension and
    its options — every reader holds at least one ("tiers", ("Elite",)) — so a partner
    holds each of its competencies as a fact of its own, and a channel for Elite and
    Advanced partners has the one fact ("tiers", ("Advanced", "Elite")). `everything`: no
    limit (an admin's check from the command line). `name`: who, for replies and logs."""

    facts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    everything: bool = False
    name: str = "the public"

    @classmethod
    def of(cls, facts: Iterable[tuple[str, Iterable[str]]], *, name: str = "the public") -> Viewer:
        """A viewer from (dimension, options) facts; empty options are left out."""
        cleaned = {
            (dimension.casefold(), tuple(sorted({str(o) for o in options}, key=str.casefold)))
            for dimension, options in facts
        }
        return cls(tuple(sorted(f for f in cleaned if f[1])), name=name)

    @classmethod
    def holding(cls, tags: Mapping[str, Iterable[str]], *, name: str) -> Viewer:
        """One reader holding every one of these tags (a partner: its tier, region, each
        competency, its id under `partners`)."""
        return cls.of(((d, (t,)) for d, values in tags.items() for t in values if t), name=name)

    @classmethod
    def common(cls, viewers: Iterable[Viewer], *, name: str) -> Viewer:
        """What holds for every reader of any of these viewers (a channel several partners
        share): per dimension every one of them knows, the options of one fact of each, put
        together. Never more than each of them sees; a public one (or an unlimited one among
        limited ones) makes it public."""
        listed = list(viewers)
        if not listed:
            return PUBLIC
        if all(v.everything for v in listed):
            return EVERYTHING
        facts: list[tuple[str, set[str]]] = []
        dimensions = {d for d, _ in listed[0].facts}
        for dimension in sorted(dimensions):
            options: set[str] = set()
            for viewer in listed:
                found = next((o for d, o in viewer.facts if d == dimension), None)
                if found is None:
                    break
                options.update(found)
            else:
                facts.append((dimension, options))
        return cls.of(facts, name=name)

    @cached_property
    def key(self) -> str:
        """Stable text for caches: equal viewers see the same documents."""
        if self.everything:
            return "*"
        return json.dumps([[d, list(o)] for d, o in self.facts], separators=(",", ":"))

    @property
    def public(self) -> bool:
        return not self.everything and not self.facts

    @cached_property
    def _folded(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple((d, _fold(options)) for d, options in self.facts)

    def known(self, dimension: str) -> str | None:
        """The one tag every reader holds in a dimension ("Elite"), if there is one."""
        for d, options in self.facts:
            if d == dimension.casefold() and len(options) == 1:
                return options[0]
        return None

    def _holds(self, dimension: str, tags: frozenset[str]) -> bool:
        return any(options <= tags for d, options in self._folded if dimension in (ANY, d))

    def sees(self, audience: Audience) -> bool:
        """Does the audience hold for every reader this viewer may be?"""
        if self.everything or audience.public:
            return True
        clauses = audience._folded
        partners = clauses.get(PARTNERS)
        if partners is not None and self._holds(PARTNERS, partners):
            return True
        rest = [(d, tags) for d, tags in clauses.items() if d != PARTNERS]
        return bool(rest) and all(self._holds(d, tags) for d, tags in rest)

    def sees_key(self, key: str) -> bool:
        return self.sees(Audience.from_key(key))

    def sees_all(self, keys: str) -> bool:
        """Every audience of a `joint_key` (a change: both versions' audiences)."""
        return all(self.sees_key(k) for k in keys.split("\n") if k)


def joint_key(*keys: str) -> str:
    """Several audience keys as one stored text: a reader must be in every one of them
    ("" when all are everyone). Keys hold no newline (compact JSON)."""
    return "\n".join(sorted({k for k in keys if k}))


PUBLIC = Viewer()
EVERYTHING = Viewer(everything=True, name="everyone (no audience limit)")
