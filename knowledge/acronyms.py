"""Acronyms and their long names, learned from the indexed documents themselves.

Program documents define their abbreviations where they first use them: "Partner
Capability Score (PCS)", "Datadog Partner Network (DPN)". Partners then ask with
either form ("dpn reqs?"). Pairs are found with the Schwartz–Hearst rule (every
character of the abbreviation appears, in order, in the words before it, the first
one at the start of a word), so no vendor's terms are written by hand.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from knowledge.lexical import CHAT_FILLER, STOPWORDS, stem_words

# "(DPN)", "(MSPs)", "(C&SI)", "(IdP)": 2-10 characters with at least two capitals.
_PAREN = re.compile(r"\(([A-Za-z][A-Za-z0-9&\-]{1,9})\)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’\-]*")
_PROSE_WORD = re.compile(r"(?<![\w@./\-])([a-z][a-z0-9]*)(?![\w@/\-]|\.\w)")
_MAX_EXTRA_WORDS = 4


# Where a text is among the texts learned from: sortable, so that what several groups of
# texts learned is put together as if from all of them in that order (chunk id, field).
Place = tuple[str, int]


@dataclass(frozen=True)
class AcronymCounts:
    """What one group of texts defines: per acronym, each long name written before it —
    how often, and where first — and the words the texts write in lower case."""

    found: dict[str, dict[str, tuple[int, tuple[Place, int]]]]
    lowercase: frozenset[str]

    @classmethod
    def of(cls, texts: Iterable[tuple[Place, str]]) -> AcronymCounts:
        found: dict[str, dict[str, tuple[int, tuple[Place, int]]]] = {}
        lowercase: set[str] = set()
        for place, text in texts:
            for n, m in enumerate(_PAREN.finditer(text)):
                short = _singular(m.group(1))
                if sum(1 for ch in short if ch.isupper()) < 2:
                    continue
                long = _long_form(short, text[: m.start()])
                if long:
                    names = found.setdefault(short.lower(), {})
                    count, first = names.get(long, (0, (place, n)))
                    names[long] = (count + 1, first)
            lowercase.update(_PROSE_WORD.findall(text))
        return cls(found, frozenset(lowercase))


@dataclass(frozen=True)
class Acronyms:
    """acronym (lower case) -> long name, and whether the acronym is also an ordinary word."""

    long_names: dict[str, str] = field(default_factory=dict)
    ordinary: frozenset[str] = frozenset()  # acronyms the documents also use as plain words

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Acronyms:
        return cls.joined([AcronymCounts.of((("", i), t) for i, t in enumerate(texts))])

    @classmethod
    def joined(cls, pieces: Sequence[AcronymCounts]) -> Acronyms:
        """What the texts of all these groups define, as if learned from all of them in
        the order of their places: an acronym's long name is its most frequent one (the
        first written of equally frequent ones), acronyms in the order first defined."""
        found: dict[str, dict[str, tuple[int, tuple[Place, int]]]] = {}
        for piece in pieces:
            for short, names in piece.found.items():
                merged = found.setdefault(short, {})
                for long, (count, first) in names.items():
                    seen, earliest = merged.get(long, (0, first))
                    merged[long] = (seen + count, min(first, earliest))
        chosen = {
            short: min(names.items(), key=lambda item: (-item[1][0], item[1][1]))
            for short, names in found.items()
        }
        order = sorted(chosen, key=lambda short: min(f for _, f in found[short].values()))
        long_names = {short: chosen[short][0] for short in order}
        ordinary = frozenset(s for s in long_names if any(s in piece.lowercase for piece in pieces))
        return cls(long_names, ordinary)

    def __len__(self) -> int:
        return len(self.long_names)


def _singular(short: str) -> str:
    return short[:-1] if len(short) > 2 and short.endswith("s") and short[:-1].isupper() else short


def _long_form(short: str, before: str) -> str | None:
    """The words before '(SHORT)' that spell it (Schwartz–Hearst), or None."""
    sentence = re.split(r"[.;:!?()\n]", before)[-1]
    words = _WORD.findall(sentence)
    letters = [ch.lower() for ch in short if ch.isalnum()]
    if not words or not letters:
        return None
    window = words[-(len(letters) + _MAX_EXTRA_WORDS) :]
    text = " ".join(window).lower()
    s, t = len(letters) - 1, len(text) - 1
    while s >= 0:
        ch = letters[s]
        # Match right to left; the first character must start a word.
        while t >= 0 and (text[t] != ch or (s == 0 and t > 0 and text[t - 1].isalnum())):
            t -= 1
        if t < 0:
            return None
        s -= 1
        t -= 1
    start = text.rfind(" ", 0, t + 1) + 1
    long_words = text[start:].split()
    # One word ("Go-to-Market" counts as three), or more words than letters and a few
    # small ones, is not a definition.
    parts = sum(len(w.split("-")) for w in long_words)
    if parts < 2 or len(long_words) > len(letters) + _MAX_EXTRA_WORDS - 2:
        return None
    return " ".join(window[len(window) - len(long_words) :])


# Clipped words: "pro services", "dev sandbox", "mgmt console" — the documents write the
# full word before or after the same neighbour ("professional services").
MIN_CLIPPED = 2  # letters
MAX_CLIPPED = 5
MIN_EXTRA_LETTERS = 3  # the full word is at least this much longer
MIN_PAIRS = 3  # the full word is seen next to the neighbour at least this often
_LOWER_WORD = re.compile(r"[a-z][a-z0-9]*")
_IGNORED = STOPWORDS | CHAT_FILLER


@dataclass(frozen=True)
class ClippingCounts:
    """Which full words one group of texts writes next to which neighbours."""

    before: dict[str, Counter[str]] = field(default_factory=dict)  # next stem -> words
    after: dict[str, Counter[str]] = field(default_factory=dict)  # previous stem -> words

    @classmethod
    def of(cls, texts: Iterable[str]) -> ClippingCounts:
        pairs_before: Counter[tuple[str, str]] = Counter()
        pairs_after: Counter[tuple[str, str]] = Counter()
        for text in texts:
            for line in text.lower().split("\n"):
                words = [w for w in _LOWER_WORD.findall(line) if w not in _IGNORED]
                if len(words) < 2:
                    continue
                stems = stem_words(words)  # as tokenize() stems these words
                pairs_before.update(zip(stems[1:], words, strict=False))
                pairs_after.update(zip(stems, words[1:], strict=False))
        before: dict[str, Counter[str]] = {}
        after: dict[str, Counter[str]] = {}
        for (neighbour, word), n in pairs_before.items():
            before.setdefault(neighbour, Counter())[word] = n
        for (neighbour, word), n in pairs_after.items():
            after.setdefault(neighbour, Counter())[word] = n
        return cls(before, after)


@dataclass(frozen=True)
class Clippings:
    """Which full words the documents write next to which neighbours, to read a clipped
    word of a question: "pro services" → "professional" (written before "services").
    Counted per group of texts (`pieces`), read as if counted over all of them."""

    pieces: tuple[ClippingCounts, ...] = ()

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Clippings:
        return cls((ClippingCounts.of(texts),))

    def full_word(self, clipped: str, *, previous: str | None, following: str | None) -> str | None:
        """The full word the documents write where the question has `clipped`, judged by
        its neighbours' stems; None unless one full word clearly dominates."""
        clipped = clipped.lower()
        if not (MIN_CLIPPED <= len(clipped) <= MAX_CLIPPED) or not clipped.isalpha():
            return None
        seen: Counter[str] = Counter()
        for piece in self.pieces:
            for table, neighbour in ((piece.before, following), (piece.after, previous)):
                for word, n in table.get(neighbour or "", Counter()).items():
                    if word.startswith(clipped) and len(word) >= len(clipped) + MIN_EXTRA_LETTERS:
                        seen[word] += n
        # Which word leads does not depend on the order they were seen in: a tie is no lead.
        ranked = seen.most_common(2)
        if not ranked or ranked[0][1] < MIN_PAIRS:
            return None
        if len(ranked) > 1 and ranked[1][1] * 2 > ranked[0][1]:
            return None  # "pro" before "services": "professional" and "provider" alike
        return ranked[0][0]
