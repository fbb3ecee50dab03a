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
from collections.abc import Iterable
from dataclasses import dataclass, field

from knowledge.lexical import CHAT_FILLER, STOPWORDS, tokenize

# "(DPN)", "(MSPs)", "(C&SI)", "(IdP)": 2-10 characters with at least two capitals.
_PAREN = re.compile(r"\(([A-Za-z][A-Za-z0-9&\-]{1,9})\)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’\-]*")
_PROSE_WORD = re.compile(r"(?<![\w@./\-])([a-z][a-z0-9]*)(?![\w@/\-]|\.\w)")
_MAX_EXTRA_WORDS = 4


@dataclass(frozen=True)
class Acronyms:
    """acronym (lower case) -> long name, and whether the acronym is also an ordinary word."""

    long_names: dict[str, str] = field(default_factory=dict)
    ordinary: frozenset[str] = frozenset()  # acronyms the documents also use as plain words

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Acronyms:
        found: dict[str, Counter[str]] = {}
        lowercase_words: Counter[str] = Counter()
        for text in texts:
            for m in _PAREN.finditer(text):
                short = _singular(m.group(1))
                if sum(1 for ch in short if ch.isupper()) < 2:
                    continue
                long = _long_form(short, text[: m.start()])
                if long:
                    found.setdefault(short.lower(), Counter())[long] += 1
            lowercase_words.update(_PROSE_WORD.findall(text))
        long_names = {short: names.most_common(1)[0][0] for short, names in found.items()}
        ordinary = frozenset(s for s in long_names if lowercase_words[s] > 0)
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
class Clippings:
    """Which full words the documents write next to which neighbours, to read a clipped
    word of a question: "pro services" → "professional" (written before "services")."""

    before: dict[str, Counter[str]] = field(default_factory=dict)  # next stem -> words
    after: dict[str, Counter[str]] = field(default_factory=dict)  # previous stem -> words

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Clippings:
        before: dict[str, Counter[str]] = {}
        after: dict[str, Counter[str]] = {}
        for text in texts:
            for line in text.lower().split("\n"):
                words = [w for w in _LOWER_WORD.findall(line) if w not in _IGNORED]
                stems = tokenize(" ".join(words))  # one stem per word
                for k in range(len(words) - 1):
                    before.setdefault(stems[k + 1], Counter())[words[k]] += 1
                    after.setdefault(stems[k], Counter())[words[k + 1]] += 1
        return cls(before, after)

    def full_word(self, clipped: str, *, previous: str | None, following: str | None) -> str | None:
        """The full word the documents write where the question has `clipped`, judged by
        its neighbours' stems; None unless one full word clearly dominates."""
        clipped = clipped.lower()
        if not (MIN_CLIPPED <= len(clipped) <= MAX_CLIPPED) or not clipped.isalpha():
            return None
        seen: Counter[str] = Counter()
        for table, neighbour in ((self.before, following), (self.after, previous)):
            for word, n in table.get(neighbour or "", Counter()).items():
                if word.startswith(clipped) and len(word) >= len(clipped) + MIN_EXTRA_LETTERS:
                    seen[word] += n
        ranked = seen.most_common(2)
        if not ranked or ranked[0][1] < MIN_PAIRS:
            return None
        if len(ranked) > 1 and ranked[1][1] * 2 > ranked[0][1]:
            return None  # "pro" before "services": "professional" and "provider" alike
        return ranked[0][0]
