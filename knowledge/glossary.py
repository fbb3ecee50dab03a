"""Partner vocabulary: abbreviations and old names mapped to current program terms.

Admins keep a `glossary.yml` in the documents folder:

    terms:
      NPN: Northwind Partner Program
      Gold Certified: Advanced
    groups:            # optional: interchangeable names, used to rewrite follow-ups
      tier: [Elite, Advanced, Member]
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from knowledge import bounded_yaml

logger = logging.getLogger(__name__)

GLOSSARY_FILE = "glossary.yml"


@dataclass(frozen=True)
class Glossary:
    terms: dict[str, str] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, *, origin: str = GLOSSARY_FILE) -> Glossary:
        """Parse glossary YAML; a broken glossary is reported and ignored, never fatal."""
        try:
            data = bounded_yaml.load(text) or {}
        except yaml.YAMLError as e:
            logger.warning("ignoring %s: invalid YAML (%s)", origin, e)
            return cls()
        if not isinstance(data, dict):
            logger.warning("ignoring %s: expected a mapping with 'terms'", origin)
            return cls()
        raw_terms = data.get("terms", data if "groups" not in data else {})
        terms = {
            str(k).strip(): str(v).strip()
            for k, v in (raw_terms or {}).items()
            if str(k).strip() and v is not None and not isinstance(v, (dict, list))
        }
        groups = {
            str(name): tuple(str(v) for v in values)
            for name, values in (data.get("groups") or {}).items()
            if isinstance(values, list)
        }
        return cls(terms, groups)

    @classmethod
    def load(cls, folder: Path) -> Glossary | None:
        path = folder / GLOSSARY_FILE
        if not path.is_file():
            return None
        return cls.parse(path.read_text(encoding="utf-8", errors="replace"), origin=str(path))

    @cached_property
    def term_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        # Longest first, so "Gold Certified" wins over "Gold".
        return [
            (re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE), target)
            for term, target in sorted(self.terms.items(), key=lambda kv: -len(kv[0]))
        ]

    def expand(self, query: str) -> str:
        """The query plus the current names of any shorthand or old names it uses."""
        additions: list[str] = []
        seen_spans: list[tuple[int, int]] = []
        for pattern, target in self.term_patterns:
            for m in pattern.finditer(query):
                if any(s <= m.start() < e for s, e in seen_spans):
                    continue
                seen_spans.append((m.start(), m.end()))
                if target.lower() not in query.lower() and target not in additions:
                    additions.append(target)
        return f"{query} ({'; '.join(additions)})" if additions else query

    @cached_property
    def _group_patterns(self) -> dict[str, re.Pattern[str]]:
        patterns = {}
        for name, members in self.groups.items():
            aliases = set(members) | {k for k, v in self.terms.items() if v in members}
            ordered = sorted(aliases, key=len, reverse=True)
            alternation = "|".join(re.escape(a) for a in ordered)
            patterns[name] = re.compile(rf"(?<![\w-])({alternation})(?![\w-])", re.IGNORECASE)
        return patterns

    def groups_in(self, text: str) -> dict[str, list[str]]:
        """The group members (and their shorthand) a text mentions, by group name."""
        found: dict[str, list[str]] = {}
        for name, pattern in self._group_patterns.items():
            hits = list(dict.fromkeys(m.group(1) for m in pattern.finditer(text)))
            if hits:
                found[name] = hits
        return found

    @cached_property
    def _all_terms(self) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        """One alternation of every term (longest first) and a lower-case lookup."""
        if not self.terms:
            return None, {}
        ordered = sorted(self.terms, key=len, reverse=True)
        alternation = "|".join(re.escape(t) for t in ordered)
        pattern = re.compile(rf"(?<![\w-])({alternation})(?![\w-])", re.IGNORECASE)
        return pattern, {t.lower(): v for t, v in self.terms.items()}

    def normalise(self, query: str) -> str:
        """The query with shorthand and old names replaced by the current terms."""
        pattern, lookup = self._all_terms
        if pattern is None:
            return query
        return pattern.sub(lambda m: lookup.get(m.group(1).lower(), m.group(1)), query)

    def group_of(self, word: str) -> str | None:
        """Which group (e.g. 'tier') a name belongs to, after resolving shorthand."""
        canonical = self.terms.get(word) or next(
            (v for k, v in self.terms.items() if k.lower() == word.lower()), word
        )
        for name, members in self.groups.items():
            if any(m.lower() in (canonical.lower(), word.lower()) for m in members):
                return name
        return None


@lru_cache(maxsize=4096)
def _word_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def mentions(text: str, names: tuple[str, ...]) -> list[str]:
    """Which of the names occur in text as whole words (case-insensitive)."""
    return [name for name in names if _word_pattern(name).search(text)]
