"""Composers turn retrieved passages into a cited answer.

ExtractiveComposer (default, no key) quotes the sentences that best answer the
question; the LLM composer (bot/grounded.py) returns the same Composition. Either
way: no citation, no claim.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.injection import looks_like_injection
from knowledge.chunking import split_sentences
from knowledge.documents import Passage
from knowledge.glossary import Glossary, mentions
from knowledge.lexical import tokenize

logger = logging.getLogger(__name__)

MAX_SENTENCES = 4
MAX_WORDS = 110

_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\b\d[\d,.:/-]*%?")
_DATEISH = re.compile(
    r"\b(20\d\d-\d\d-\d\d|\d{1,2} (January|February|March|April|May|June|July|August|"
    r"September|October|November|December)|(January|February|March|April|May|June|July|"
    r"August|September|October|November|December) \d{1,2}|20\d\d)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(r"\b(when|deadline|due|date|by when|until|expire|effective)\b", re.I)
_HOW_MANY = re.compile(
    r"\b(how many|how much|number|count|minimum|percent|%|cost|price|fee)\b", re.I
)


@dataclass(frozen=True)
class Composition:
    """A composed answer: text with [n] markers, n = 1-based index into the passages given."""

    text: str
    cited: tuple[int, ...]  # passage indexes (1-based) the text cites, in order of appearance
    superseded: tuple[tuple[int, int], ...] = ()  # (newer, older) passage indexes


@dataclass
class _Candidate:
    passage: int  # 1-based
    position: int
    text: str
    tokens: frozenset[str]
    score: float
    topic: frozenset[str] = frozenset()  # words without figures, shorthand resolved
    names: frozenset[str] = frozenset()  # tiers / competencies it is about (glossary groups)


class ExtractiveComposer:
    """Picks the best-supported sentences from the top passages and cites each one."""

    def __init__(
        self,
        *,
        idf: Callable[[str], float] | None = None,
        glossary: Callable[[], Glossary] | None = None,
    ) -> None:
        self._idf = idf or (lambda _token: 1.0)
        self._glossary = glossary or Glossary
        self._cache: dict[tuple[str, int, int], _AnalysedPassage] = {}

    def _analyse(self, passage: Passage, glossary: Glossary) -> _AnalysedPassage:
        """Question-independent sentence analysis, cached per chunk (passages recur)."""
        key = (passage.chunk.id, hash(passage.text), id(glossary))
        cached = self._cache.get(key)
        if cached is None:
            cached = _analyse_passage(passage, glossary)
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def compose(self, question: str, passages: Sequence[Passage]) -> Composition | None:
        query = set(tokenize(question))
        glossary = self._glossary()
        focus, others = _focus(question, glossary)
        if not query or not passages:
            return None
        weight = {t: self._idf(t) for t in query}
        total = sum(weight.values()) or 1.0
        wants_date = bool(_WHEN.search(question))
        wants_number = bool(_HOW_MANY.search(question))

        candidates: list[_Candidate] = []
        for index, passage in enumerate(passages, start=1):
            analysed = self._analyse(passage, glossary)
            heading_cover = sum(weight[t] for t in query & analysed.heading) / total
            prior = 0.2 / index
            for sentence in analysed.sentences:
                cover = sum(weight[t] for t in query & sentence.tokens) / total
                if cover == 0:
                    continue
                score = cover + 0.5 * heading_cover + prior
                if focus or others:
                    if mentions(f"{passage.section_label} {sentence.text}", focus):
                        score += 0.25
                    elif mentions(sentence.text, others):
                        score *= 0.5  # about another tier/competency than the one asked
                if wants_date and sentence.has_date:
                    score += 0.15
                if wants_number and sentence.has_number:
                    score += 0.1
                candidates.append(
                    _Candidate(
                        index,
                        sentence.position,
                        sentence.text,
                        sentence.tokens,
                        score,
                        sentence.topic,
                        sentence.names,
                    )
                )
        if not candidates:
            return None

        superseded = _supersessions(candidates, passages)
        replaced_by = {id(old): new for new, old in superseded}
        candidates.sort(key=lambda c: -c.score)
        best = candidates[0].score
        chosen: list[_Candidate] = []
        words = 0
        for cand in candidates:
            if cand.score < 0.6 * best or len(chosen) >= MAX_SENTENCES:
                break
            # An older document's figure that a newer document changed: use the newer one.
            while id(cand) in replaced_by:
                cand = replaced_by[id(cand)]
            if any(c is cand or _similar(cand.tokens, c.tokens) >= 0.75 for c in chosen):
                continue  # the same sentence (or nearly) from another passage
            n = len(cand.text.split())
            if chosen and words + n > MAX_WORDS:
                continue
            chosen.append(cand)
            words += n

        used = [(new, old) for new, old in superseded if any(c is new for c in chosen)]
        # Readable order: by passage rank, then as written in the passage.
        chosen.sort(key=lambda c: (c.passage, c.position))
        parts = [f"{_sentence_end(c.text)} [{c.passage}]" for c in chosen]
        if used:
            newer, older = used[0]
            parts.insert(
                0,
                _supersedes_note(
                    passages[newer.passage - 1], passages[older.passage - 1], newer.passage
                ),
            )
        cited = tuple(dict.fromkeys(c.passage for c in chosen))
        return Composition(" ".join(parts), cited, tuple((n.passage, o.passage) for n, o in used))


@dataclass(frozen=True)
class _Sentence:
    position: int
    text: str
    tokens: frozenset[str]
    topic: frozenset[str]
    names: frozenset[str]
    has_date: bool
    has_number: bool


@dataclass(frozen=True)
class _AnalysedPassage:
    heading: frozenset[str]
    sentences: tuple[_Sentence, ...]


def _analyse_passage(passage: Passage, glossary: Glossary) -> _AnalysedPassage:
    sentences = []
    for position, text in enumerate(_sentences(passage.text)):
        if looks_like_injection(text) or len(text.split()) < 3:
            continue
        if text[0].islower():
            continue  # a fragment (list item continuing a sentence): unreadable alone
        normalised = glossary.normalise(text)
        sentences.append(
            _Sentence(
                position=position,
                text=text,
                tokens=frozenset(tokenize(text)),
                topic=_topic(frozenset(tokenize(normalised))),
                names=frozenset(
                    n.lower() for hits in glossary.groups_in(normalised).values() for n in hits
                ),
                has_date=bool(_DATEISH.search(text)),
                has_number=bool(_NUMBER.search(text)),
            )
        )
    return _AnalysedPassage(
        heading=frozenset(tokenize(f"{passage.title} {passage.section_label}")),
        sentences=tuple(sentences),
    )


def _focus(question: str, glossary: Glossary) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names the question asks about, and the other names of the same kinds (e.g. tiers)."""
    found = glossary.groups_in(question)
    focus: set[str] = set()
    others: set[str] = set()
    for group, hits in found.items():
        members = glossary.groups[group]
        canonical = {glossary.terms.get(h, h).lower() for h in hits} | {h.lower() for h in hits}
        for member in members:
            resolved = glossary.terms.get(member, member)
            (focus if member.lower() in canonical or resolved.lower() in canonical else others).add(
                member
            )
    return tuple(focus), tuple(others - focus)


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(split_sentences(line))
    return out


def _sentence_end(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?" else text + "."


def _similar(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _topic(tokens: frozenset[str]) -> frozenset[str]:
    return frozenset(t for t in tokens if not _DIGIT.search(t))


def _conflict(a: _Candidate, b: _Candidate) -> bool:
    """Two sentences about the same thing that state different figures."""
    if _similar(a.topic, b.topic) < 0.5 or (a.names and b.names and a.names != b.names):
        return False  # different subjects, e.g. the Member and the Advanced allowance
    numbers_a, numbers_b = set(_NUMBER.findall(a.text)), set(_NUMBER.findall(b.text))
    # Both must state a figure the other lacks: "the 2025 guide set MDF at 3%" restates
    # the old 3% rather than contradicting it.
    return bool(numbers_a - numbers_b) and bool(numbers_b - numbers_a)


def _supersessions(
    candidates: list[_Candidate], passages: Sequence[Passage]
) -> list[tuple[_Candidate, _Candidate]]:
    """(newer, older) pairs: sentences of two dated documents that state different figures
    on the same topic. The newer document wins when the two disagree."""
    pairs: list[tuple[_Candidate, _Candidate]] = []
    for i, a in enumerate(candidates):
        pa = passages[a.passage - 1]
        for b in candidates[i + 1 :]:
            pb = passages[b.passage - 1]
            if pa.doc_path == pb.doc_path or not (pa.effective_date and pb.effective_date):
                continue
            if pa.effective_date == pb.effective_date or not _conflict(a, b):
                continue
            pairs.append((a, b) if pa.effective_date > pb.effective_date else (b, a))
    # Keep the strongest replacement for each older sentence.
    best: dict[int, tuple[_Candidate, _Candidate]] = {}
    for new, old in pairs:
        current = best.get(id(old))
        if current is None or _similar(new.tokens, old.tokens) > _similar(
            current[0].tokens, old.tokens
        ):
            best[id(old)] = (new, old)
    return list(best.values())


def _supersedes_note(newer: Passage, older: Passage, n: int) -> str:
    new_date = newer.effective_date.isoformat() if newer.effective_date else "a newer date"
    old_date = older.effective_date.isoformat() if older.effective_date else "an earlier date"
    return f"As of {new_date}, {newer.title} replaces what {older.title} ({old_date}) said [{n}]."
