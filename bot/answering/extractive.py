"""Extractive answers: a contiguous window of the best passage, cited.

Without an LLM the answer quotes the documents. What partners ask for usually sits
in one place: a sentence, or a list or table introduced by a sentence ("To be an
Advanced partner, a company must:" and its items). So the answer is built around
the line (sentence, list item or table row) that best covers the question:

1. the line, with the list items or table rows that belong to it and the sentence
   that introduces them (or the section's name when none does), kept in order;
2. neighbouring sentences about the question while the answer stays short;
3. when room is left, the best line of another passage that covers a part of the
   question the first one does not ("sales specialist vs support specialist");
4. when a newer dated document states another figure on the same subject, its line
   replaces the older one and the answer says so.

At most ~120 words, every part cited with its passage number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from bot.answering.composing import Composition
from bot.answering.injection import looks_like_injection
from knowledge.answer_types import expected_kinds, holds
from knowledge.chunking import LIST_MARK
from knowledge.documents import Passage
from knowledge.glossary import Glossary
from knowledge.lexical import STOPWORDS, tokenize
from knowledge.vocabulary import QueryTerms, Vocabulary

logger = logging.getLogger(__name__)

MAX_WORDS = 120
# How lines are scored: the share of the question they cover, plus
HEADING_WEIGHT = 0.5  # ... the share their title and section path cover,
FIGURE_BONUS = 0.2  # ... a bonus when they hold the kind of figure asked for (a date…),
RANK_PRIOR = 0.5  # ... and the passage's retrieval rank (0.5 / rank): retrieval knows best;
LONG_LINE = 30  # ... minus a little for lines longer than this (they cover words by chance).
PART_WORDS = 70  # one part (a line and its window) takes at most this many words, so that
SECOND_PART_SHARE = 0.5  # a line of another passage scoring this share of the best fits too.
MAX_PARTS = 3
# Chosen on every dev corpus together with bench/tune_extractive.py (see there).

_DIGIT = re.compile(r"\d")
# Where a long line (a list item or table row of several sentences) may be cut.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_FIGURE = re.compile(r"\b\d[\d,.:/-]*%?")
_ENTITY = re.compile(r"\b([A-Z][A-Za-z0-9&-]*|[A-Z]{2,}s?)\b")
# Capitalised only because they start a sentence.
_STARTERS = frozenset(
    (
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "each",
        "every",
        "all",
        "any",
        "some",
        "no",
        "not",
        "only",
        "partners",
        "partner",
        "customers",
        "customer",
        "you",
        "your",
        "we",
        "our",
        "they",
        "their",
        "it",
        "its",
        "there",
        "here",
        "after",
        "before",
        "during",
        "until",
        "when",
        "if",
        "once",
        "while",
        "for",
        "from",
        "in",
        "on",
        "at",
        "by",
        "to",
        "with",
        "without",
        "under",
        "over",
    )
)


@dataclass(frozen=True)
class _Line:
    text: str  # without the list mark
    item: bool  # a list item or table row
    tokens: frozenset[str]
    words: int
    unsafe: bool = False  # addresses a model rather than partners: never quoted

    @property
    def introduces(self) -> bool:
        return self.text.rstrip().endswith(":")


@dataclass(frozen=True)
class _Analysed:
    lines: tuple[_Line, ...]
    heading: frozenset[str]  # title and section path
    section: frozenset[str]  # section path only
    name: str  # the section's own heading (or the title), to introduce a bare list


@dataclass
class _Part:
    """A block of lines of one passage, as it will be quoted."""

    passage: int  # 1-based
    lines: list[int]
    lead: str | None = None  # the section's name, when no sentence introduces a list
    replaces: int | None = None  # passage index of the older document it replaces
    tokens: frozenset[str] = field(default_factory=frozenset)
    # Lines too long for the answer, quoted by their best sentences only.
    cut: dict[int, str] = field(default_factory=dict)


class ExtractiveComposer:
    """Quotes the block of the top passages that best answers the question."""

    def __init__(
        self,
        *,
        vocabulary: Callable[[], Vocabulary] | None = None,
        glossary: Callable[[], Glossary] | None = None,
    ) -> None:
        self._vocabulary = vocabulary or Vocabulary
        self._glossary = glossary or Glossary
        self._cache: dict[tuple[str, int], _Analysed] = {}

    def _analyse(self, passage: Passage) -> _Analysed:
        """Question-independent analysis, cached per chunk (passages recur)."""
        key = (passage.chunk.id, hash(passage.text))
        cached = self._cache.get(key)
        if cached is None:
            lines = []
            for raw in passage.text.split("\n"):
                item = raw.startswith(LIST_MARK)
                text = raw[len(LIST_MARK) :] if item else raw
                if text.strip():
                    lines.append(
                        _Line(
                            text.strip(),
                            item,
                            frozenset(tokenize(text)),
                            len(text.split()),
                            looks_like_injection(text),
                        )
                    )
            cached = _Analysed(
                tuple(lines),
                frozenset(tokenize(f"{passage.title} {passage.section_label}")),
                frozenset(tokenize(passage.section_label)),
                passage.chunk.section[-1] if passage.chunk.section else passage.title,
            )
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def compose(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        vocabulary: Vocabulary | None = None,
    ) -> Composition | None:
        """`vocabulary`: of the documents the reader may read (default: the composer's)."""
        if not passages:
            return None
        terms = (vocabulary or self._vocabulary()).expand(question)
        if not terms.concepts:
            return None
        kinds = expected_kinds(question)
        analysed = [self._analyse(p) for p in passages]
        scores: dict[tuple[int, int], float] = {}
        for i, a in enumerate(analysed, start=1):
            context = HEADING_WEIGHT * terms.coverage(a.heading)
            for j, line in enumerate(a.lines):
                if line.unsafe:
                    continue
                cover = terms.coverage(line.tokens)
                if cover == 0:
                    continue
                figure = FIGURE_BONUS if kinds and holds(line.text, kinds) else 0.0
                length = 0.1 * max(0, line.words - LONG_LINE) / LONG_LINE
                scores[(i, j)] = cover + context + figure + RANK_PRIOR / i - length
        if not scores:
            return None

        ranked = sorted(scores, key=lambda key: -scores[key])
        best = scores[ranked[0]]
        parts: list[_Part] = []
        quoted: set[str] = set()
        used = 0
        for i, j in ranked:
            if scores[(i, j)] < SECOND_PART_SHARE * best or len(parts) == MAX_PARTS:
                break
            if any(p.passage == i and j in p.lines for p in parts):
                continue
            i, j, replaces = self._newer(i, j, passages, analysed)
            part = self._block(
                i, j, analysed[i - 1], scores, min(PART_WORDS, MAX_WORDS - used), terms, kinds
            )
            if part is None:
                continue
            # Overlapping chunks repeat lines: quote each line once.
            part.lines = [
                k for k in part.lines if _key(analysed[i - 1].lines[k].text) not in quoted
            ]
            if not any(scores.get((i, k)) for k in part.lines):
                continue
            quoted.update(_key(analysed[i - 1].lines[k].text) for k in part.lines)
            part.replaces = replaces
            parts.append(part)
            used += self._words(part, analysed)
            if used >= MAX_WORDS - 15:
                break
        if not parts:
            return None
        return self._render(parts, passages, analysed)

    # -- blocks -------------------------------------------------------------------------------
    def _block(
        self,
        i: int,
        j: int,
        a: _Analysed,
        scores: dict[tuple[int, int], float],
        budget: int,
        terms: QueryTerms,
        kinds: tuple[str, ...],
    ) -> _Part | None:
        """The anchor line with what belongs to it, within `budget` words."""
        lines = a.lines
        if lines[j].words > budget:
            # A long line (an item of several sentences): its best sentences alone.
            cut = _best_sentences(lines[j].text, terms, kinds, budget)
            if cut is None:
                return None
            return _Part(i, [j], tokens=frozenset(tokenize(cut)) | a.section, cut={j: cut})
        window = _Window(lines, budget)
        window.add(j)
        if lines[j].item:
            # A list item or table row: the sentence introducing its list, then its siblings.
            start, end = _run(lines, j)
            if start > 0 and not lines[start - 1].item:
                window.add(start - 1)
            window.add_items(start, end, lambda k: scores.get((i, k), 0.0))
        else:
            # A sentence: the window grows over neighbouring sentences while they fit,
            # towards the side that is more about the question first.
            low = high = j
            grown = True
            while grown:
                grown = False
                sides = [k for k in (high + 1, low - 1) if 0 <= k < len(lines)]
                for k in sorted(sides, key=lambda k: -scores.get((i, k), 0.0)):
                    if not lines[k].item and window.add(k):
                        low, high = min(low, k), max(high, k)
                        grown = True
            # A sentence that introduces a list ("…, a company must:") brings its items.
            if lines[high].introduces and high + 1 < len(lines) and lines[high + 1].item:
                start, end = _run(lines, high + 1)
                window.add_items(start, end, lambda k: scores.get((i, k), 0.0))
        ordered = sorted(window.chosen)
        lead = a.name if all(lines[k].item for k in ordered) else None
        tokens = frozenset().union(*(lines[k].tokens for k in ordered)) | a.section
        return _Part(i, ordered, lead, tokens=tokens)

    def _words(self, part: _Part, analysed: list[_Analysed]) -> int:
        a = analysed[part.passage - 1]
        return sum(
            len(part.cut[k].split()) if k in part.cut else a.lines[k].words for k in part.lines
        ) + (len(part.lead.split()) if part.lead else 0)

    # -- newer documents ----------------------------------------------------------------------
    def _newer(
        self, i: int, j: int, passages: Sequence[Passage], analysed: list[_Analysed]
    ) -> tuple[int, int, int | None]:
        """(passage, line) to quote instead of line j of passage i when a newer document
        states another figure on the same subject, and which passage it replaces."""
        old = passages[i - 1]
        if old.effective_date is None:
            return i, j, None
        glossary = self._glossary()
        line = analysed[i - 1].lines[j]
        best: tuple[float, int, int] | None = None
        for n, newer in enumerate(passages, start=1):
            if (
                newer.doc_path == old.doc_path
                or newer.effective_date is None
                or newer.effective_date <= old.effective_date
            ):
                continue
            for k, candidate in enumerate(analysed[n - 1].lines):
                similarity = same_subject(
                    line.text,
                    candidate.text,
                    analysed[i - 1].section,
                    analysed[n - 1].section,
                    glossary,
                )
                if similarity and (best is None or similarity > best[0]):
                    best = (similarity, n, k)
        if best is None:
            return i, j, None
        return best[1], best[2], i

    # -- text ---------------------------------------------------------------------------------
    def _older_in_context(
        self, parts: list[_Part], passages: Sequence[Passage], analysed: list[_Analysed]
    ) -> list[tuple[int, int]]:
        """(newer, older) passage pairs: a quoted line of a newer document states another
        figure than a line of an older one given too, on the same subject."""
        glossary = self._glossary()
        pairs: list[tuple[int, int]] = []
        for part in parts:
            if part.replaces is not None:
                pairs.append((part.passage, part.replaces))
                continue
            newer = passages[part.passage - 1]
            for n, older in enumerate(passages, start=1):
                if (
                    newer.effective_date is None
                    or older.effective_date is None
                    or older.doc_path == newer.doc_path
                    or older.effective_date >= newer.effective_date
                    or any(pair[1] == n for pair in pairs)
                ):
                    continue
                new_a, old_a = analysed[part.passage - 1], analysed[n - 1]
                if any(
                    same_subject(
                        o.text, new_a.lines[k].text, old_a.section, new_a.section, glossary
                    )
                    for k in part.lines
                    for o in old_a.lines
                ):
                    pairs.append((part.passage, n))
        return pairs

    def _render(
        self, parts: list[_Part], passages: Sequence[Passage], analysed: list[_Analysed]
    ) -> Composition:
        texts: list[str] = []
        superseded = self._older_in_context(parts, passages, analysed)
        if superseded:
            newer, older = superseded[0]
            texts.append(_supersedes_note(passages[newer - 1], passages[older - 1], newer))
        for part in parts:
            lines = analysed[part.passage - 1].lines
            prose: list[str] = []
            block: list[str] = []
            if part.lead:
                block.append(f"{part.lead} [{part.passage}]:")
            for k in part.lines:
                line = lines[k]
                if k in part.cut:
                    line = replace(line, text=part.cut[k])
                if line.item:
                    if not block and prose:
                        # The sentence just before introduces the list: cite it there.
                        block.append(f"{' '.join(prose)} [{part.passage}]")
                        prose = []
                    elif not block:
                        block.append(f"[{part.passage}]")
                    block.append(f"{LIST_MARK}{_item_end(line.text)}")
                else:
                    if block:
                        texts.append("\n".join(block))
                        block = []
                    prose.append(_sentence_end(line.text))
            if block:
                texts.append("\n".join(block))
            if prose:
                texts.append(f"{' '.join(prose)} [{part.passage}]")
        cited = tuple(dict.fromkeys([*(n for n, _ in superseded[:1]), *(p.passage for p in parts)]))
        return Composition("\n".join(texts), cited, tuple(superseded))


class _Window:
    """Lines chosen from one passage, within a word budget."""

    def __init__(self, lines: Sequence[_Line], budget: int) -> None:
        self.lines = lines
        self.budget = budget
        self.chosen: set[int] = set()
        self.words = 0

    def add(self, k: int) -> bool:
        if k in self.chosen:
            return True
        if self.lines[k].unsafe or self.words + self.lines[k].words > self.budget:
            return False
        self.chosen.add(k)
        self.words += self.lines[k].words
        return True

    def add_items(self, start: int, end: int, score: Callable[[int], float]) -> None:
        """The items of a list, best first while they fit (shown in document order)."""
        for k in sorted(range(start, end + 1), key=lambda k: (-score(k), k)):
            self.add(k)


def _best_sentences(
    text: str, terms: QueryTerms, kinds: tuple[str, ...], budget: int
) -> str | None:
    """The sentences of a long line that best answer the question, in their order, within
    `budget` words: the best one, then its neighbours while they fit (None: none fits)."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]

    def score(s: str) -> float:
        figure = FIGURE_BONUS if kinds and holds(s, kinds) else 0.0
        return terms.coverage(frozenset(tokenize(s))) + figure

    best = max(range(len(sentences)), key=lambda k: (score(sentences[k]), -k))
    if len(sentences[best].split()) > budget:
        return None
    chosen = {best}
    words = len(sentences[best].split())
    low = high = best
    while True:
        sides = [k for k in (high + 1, low - 1) if 0 <= k < len(sentences)]
        fits = [k for k in sides if words + len(sentences[k].split()) <= budget]
        if not fits:
            break
        k = max(fits, key=lambda k: score(sentences[k]))
        chosen.add(k)
        words += len(sentences[k].split())
        low, high = min(low, k), max(high, k)
    return " ".join(sentences[k] for k in sorted(chosen))


def _key(text: str) -> str:
    return " ".join(tokenize(text))


def _run(lines: Sequence[_Line], k: int) -> tuple[int, int]:
    """First and last index of the run of list items around line k."""
    start = end = k
    while start > 0 and lines[start - 1].item:
        start -= 1
    while end + 1 < len(lines) and lines[end + 1].item:
        end += 1
    return start, end


def same_subject(
    old: str, new: str, old_section: frozenset[str], new_section: frozenset[str], glossary: Glossary
) -> float:
    """How surely two lines of two documents state different figures for the same thing
    (0: they do not). Same subject means: their sections are about the same topic, they
    name the same things (entities such as "MDF", "Advanced"), their words mostly agree,
    and each states a figure the other lacks ("2%" vs "3%")."""
    if old_section and new_section and not (old_section & new_section):
        return 0.0
    old_n, new_n = glossary.normalise(old), glossary.normalise(new)
    old_entities, new_entities = _entities(old_n), _entities(new_n)
    if not (old_entities & new_entities):
        return 0.0
    if (old_entities - new_entities) and (new_entities - old_entities):
        return 0.0  # each names something the other does not: "Member …" vs "Elite …"
    old_topic = frozenset(t for t in tokenize(old_n) if not _DIGIT.search(t))
    new_topic = frozenset(t for t in tokenize(new_n) if not _DIGIT.search(t))
    union = old_topic | new_topic
    similarity = len(old_topic & new_topic) / len(union) if union else 0.0
    if similarity < 0.5:
        return 0.0
    old_figures, new_figures = set(_FIGURE.findall(old)), set(_FIGURE.findall(new))
    if not (old_figures - new_figures) or not (new_figures - old_figures):
        return 0.0  # "the 2025 guide set MDF at 3%" restates the old figure, it does not differ
    return similarity


def _entities(text: str) -> frozenset[str]:
    """Names a sentence mentions: capitalised words and acronyms (a sentence's first word
    too, unless it is a common word such as "The" or "Each")."""
    return frozenset(
        m.group(1).lower().rstrip("s")
        for m in _ENTITY.finditer(text)
        if m.group(1).lower() not in STOPWORDS and m.group(1).lower() not in _STARTERS
    )


def _supersedes_note(newer: Passage, older: Passage, n: int) -> str:
    new_date = newer.effective_date.isoformat() if newer.effective_date else "a newer date"
    old_date = older.effective_date.isoformat() if older.effective_date else "an earlier date"
    return f"As of {new_date}, {newer.title} replaces what {older.title} ({old_date}) said [{n}]."


def _sentence_end(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?:" else text + "."


def _item_end(text: str) -> str:
    return text.strip().rstrip(";,")
