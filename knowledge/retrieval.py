"""Hybrid retrieval: dense (Chroma) and lexical (BM25) candidates, ranked by general features.

The question is first expanded with the documents' own vocabulary (acronyms they
define, chat shorthand, the admins' glossary). Candidates from both searches are
described by features that mean the same on any corpus (knowledge/ranking.py) and
ranked by a linear model fitted on several dev corpora together. Documents are
ranked by their best passage; at most `per_document` passages per document are
kept, so one long document cannot crowd out the rest. The retrieval also reports
the signals the answer's confidence is computed from.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from knowledge.acronyms import AcronymCounts, Acronyms, ClippingCounts, Clippings
from knowledge.answer_types import expected_kinds, holds
from knowledge.audience import PUBLIC, Viewer
from knowledge.chunking import LIST_MARK, neighbour_id
from knowledge.documents import Chunk, Passage
from knowledge.index import IndexView, KnowledgeIndex
from knowledge.lexical import LexicalIndex, TermCounts, tokenize
from knowledge.ranking import FEATURES, FittedWeights, LinearRanker, load_weights
from knowledge.vocabulary import QueryTerms, Vocabulary

logger = logging.getLogger(__name__)

TOP_PASSAGES_FOR_SIGNALS = 3
WIDEN_WORDS = 90  # at most this many words of a list are borrowed from the next chunk


@dataclass(frozen=True)
class Candidate:
    chunk: Chunk
    features: dict[str, float]
    score: float
    dense_rank: int | None
    lexical_rank: int | None

    def vector(self) -> list[float]:
        return [self.features[name] for name in FEATURES]


@dataclass(frozen=True)
class Retrieval:
    query: str
    expanded_query: str
    passages: tuple[Passage, ...]
    confidence: float  # best dense similarity among the top passages
    terms: QueryTerms | None = None
    signals: dict[str, float] = field(default_factory=dict)
    candidates: tuple[Candidate, ...] = ()  # every candidate, best first

    @property
    def top(self) -> Passage | None:
        return self.passages[0] if self.passages else None


@dataclass(frozen=True)
class _ChunkTerms:
    """A chunk's stemmed words by field, computed once per chunk and index generation."""

    title: frozenset[str]
    section: frozenset[str]
    body: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    lines: tuple[frozenset[str], ...]  # per line of the text (sentence, list item, table row)

    @property
    def heading(self) -> frozenset[str]:
        return self.title | self.section

    @property
    def all(self) -> frozenset[str]:
        return self.title | self.section | self.body


def _fields(chunk: Chunk) -> tuple[str, str, str]:
    """The texts of a chunk the vocabulary is learned from."""
    return chunk.title, chunk.section_label, chunk.text


def _acronym_counts(chunks: list[Chunk]) -> AcronymCounts:
    return AcronymCounts.of(((c.id, n), text) for c in chunks for n, text in enumerate(_fields(c)))


def _clipping_counts(chunks: list[Chunk]) -> ClippingCounts:
    return ClippingCounts.of(text for c in chunks for text in _fields(c))


def _heading_counts(chunks: list[Chunk]) -> TermCounts:
    return TermCounts.of([c.id for c in chunks], [f"{c.title} {c.section_label}" for c in chunks])


class Retriever:
    """Finds the passages that best answer a query."""

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        candidates: int = 40,
        per_document: int = 3,
        use_lexical: bool = True,
        use_glossary: bool = True,
        weights: FittedWeights | None = None,
    ) -> None:
        self.index = index
        self.candidates = candidates
        self.per_document = per_document
        self.use_lexical = use_lexical
        self.use_glossary = use_glossary
        self.weights = weights or load_weights()
        self._lock = threading.Lock()
        # Per chunk id: the chunk (of one generation: a changed document keeps its ids) and
        # its terms; emptied when a generation is prepared.
        self._terms: dict[str, tuple[Chunk, _ChunkTerms]] = {}
        self._terms_generation = 0

    @property
    def ranker(self) -> LinearRanker:
        return self.weights.ranker

    # -- per index generation ---------------------------------------------------------------
    def _refresh(
        self, viewer: Viewer | None = None
    ) -> tuple[LexicalIndex, LexicalIndex, Vocabulary]:
        """The lexical index, a heading index and the vocabulary of the current generation
        — of the part `viewer` may read, learned from that part alone (made before
        questions switch to a new one: see KnowledgeIndex.derived)."""
        name = f"retrieval:glossary={self.use_glossary}"
        return self.index.derived(name, self._prepare, viewer=viewer)

    def _prepare(self, view: IndexView) -> tuple[LexicalIndex, LexicalIndex, Vocabulary]:
        # Learned per audience of the view and put together (see IndexView.pieces).
        vocabulary = Vocabulary(
            acronyms=Acronyms.joined(view.pieces("acronyms", _acronym_counts)),
            clippings=Clippings(tuple(view.pieces("clippings", _clipping_counts))),
            glossary=view.glossary if self.use_glossary else None,
            idf=view.lexical.idf,
            known=view.lexical.knows,
        )
        headings = LexicalIndex.from_counts(
            TermCounts.joined(view.pieces("heading terms", _heading_counts))
        )
        with self._lock:
            if view.generation != self._terms_generation:  # not for each viewer's part
                self._terms = {}  # ids of replaced chunks go
                self._terms_generation = view.generation
        return view.lexical, headings, vocabulary

    def vocabulary(self, viewer: Viewer | None = None) -> Vocabulary:
        return self._refresh(viewer)[2]

    def _chunk_terms(self, chunk: Chunk) -> _ChunkTerms:
        known = self._terms.get(chunk.id)
        if known is not None and known[0] == chunk:
            return known[1]
        lines = [tokenize(line) for line in chunk.text.split("\n")]
        body = [token for line in lines for token in line]
        terms = _ChunkTerms(
            title=frozenset(tokenize(chunk.title)),
            section=frozenset(tokenize(chunk.section_label)),
            body=frozenset(body),
            pairs=frozenset(pairwise(body)),
            lines=tuple(frozenset(line) for line in lines),
        )
        self._terms[chunk.id] = (chunk, terms)
        return terms

    # -- search -----------------------------------------------------------------------------
    def search(
        self, query: str, *, k: int = 5, head: int | None = None, viewer: Viewer | None = PUBLIC
    ) -> Retrieval:
        """The k best passages `viewer` may read (default: public documents only; None:
        every document); the first `head` (default k) are what an answer draws on. Only
        what the viewer may read is searched, ranked, or learned from."""
        lexical_index, heading_index, vocabulary = self._refresh(viewer)
        terms = vocabulary.expand(query)
        vector = self.index.embedder.embed([terms.dense_text or terms.text])[0]
        dense = self.index.dense_search(vector, self.candidates, viewer=viewer)
        lexical, headings = [], []
        if self.use_lexical:
            lexical = lexical_index.search(terms.text, self.candidates)
            headings = heading_index.search(terms.text, self.candidates // 2)
        candidates = self._rank(terms, dense, lexical, headings)
        passages = self._pick(candidates, k, k if head is None else head)
        signals = self._signals(terms, passages)
        if signals:
            closer = self._closer_without_unknown(terms, passages, viewer)
            signals["foreign"] = terms.unknown_share * closer
        confidence = max(
            (p.extras.get("similarity", 0.0) for p in passages[:TOP_PASSAGES_FOR_SIGNALS]),
            default=0.0,
        )
        return Retrieval(
            query, terms.text, tuple(passages), confidence, terms, signals, tuple(candidates)
        )

    def widen(self, passages: Sequence[Passage]) -> list[Passage]:
        """Passages with their lists made whole: a chunk cut between a sentence ending in
        ':' (or a list) and the items that follow borrows those items from the next chunk
        of the same section, and a chunk that starts inside a list gets its introducing
        sentence from the previous one. What the composer is given, and `ask --json` shows."""
        out = []
        for p in passages:
            lines = p.text.split("\n")
            after: list[str] = []
            before: list[str] = []
            if lines and (lines[-1].rstrip().endswith(":") or lines[-1].startswith(LIST_MARK)):
                after = self._continuation(p.chunk, lines)
            if lines and lines[0].startswith(LIST_MARK):
                before = self._introduction(p.chunk)
            if after or before:
                chunk = replace(p.chunk, text="\n".join([*before, *lines, *after]))
                p = replace(p, chunk=chunk)
            out.append(p)
        return out

    def _neighbour(self, chunk: Chunk, offset: int) -> Chunk | None:
        other_id = neighbour_id(chunk.id, offset)
        other = self.index.chunks([other_id]).get(other_id) if other_id else None
        if (
            other is None
            or other.doc_path != chunk.doc_path
            or other.section != chunk.section
            or other.audience != chunk.audience
        ):
            return None
        return other

    def _continuation(self, chunk: Chunk, lines: list[str]) -> list[str]:
        following = self._neighbour(chunk, 1)
        if following is None:
            return []
        taken: list[str] = []
        words = 0
        for line in following.text.split("\n"):
            if line == lines[-1] and not taken:
                continue  # chunks overlap by one line
            if not line.startswith(LIST_MARK) or words + len(line.split()) > WIDEN_WORDS:
                break
            taken.append(line)
            words += len(line.split())
        return taken

    def _introduction(self, chunk: Chunk) -> list[str]:
        previous = self._neighbour(chunk, -1)
        if previous is None:
            return []
        for line in reversed(previous.text.split("\n")):
            if not line.startswith(LIST_MARK):
                return [line] if line.rstrip().endswith(":") else []
        return []

    def _rank(
        self,
        terms: QueryTerms,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        headings: list[tuple[str, float]],
    ) -> list[Candidate]:
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        dense_sim = dict(dense)
        floor = min(dense_sim.values(), default=0.0)
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical, start=1)}
        best_bm25 = max((s for _, s in lexical), default=0.0) or 1.0
        bm25 = dict(lexical)
        heading_bm25 = dict(headings)
        best_heading = max(heading_bm25.values(), default=0.0) or 1.0
        ids = list(dict.fromkeys(cid for hits in (dense, lexical, headings) for cid, _ in hits))
        chunks = self.index.chunks(ids)
        query_stems = tokenize(terms.query)
        query_pairs = set(pairwise(query_stems))

        by_doc: dict[str, list[str]] = {}
        for cid in ids:
            if cid in chunks:
                by_doc.setdefault(chunks[cid].doc_path, []).append(cid)
        doc_dense = {
            doc: max(dense_sim.get(cid, floor) for cid in members)
            for doc, members in by_doc.items()
        }
        dates = [c.effective_date for c in chunks.values() if c.effective_date]
        oldest, newest = (min(dates), max(dates)) if dates else (None, None)
        span = (newest - oldest).days if oldest and newest else 0
        doc_cover = {
            doc: terms.coverage(frozenset().union(*(self._chunk_terms(chunks[c]).all for c in m)))
            for doc, m in by_doc.items()
        }
        doc_mass = {
            doc: sum(
                (1.0 / dense_rank[c] if c in dense_rank else 0.0)
                + (1.0 / lexical_rank[c] if c in lexical_rank else 0.0)
                for c in members
            )
            for doc, members in by_doc.items()
        }

        out: list[Candidate] = []
        for cid in ids:
            chunk = chunks.get(cid)
            if chunk is None:
                continue
            t = self._chunk_terms(chunk)
            features = {
                "dense": dense_sim.get(cid, floor),
                "dense_rr": 1.0 / dense_rank[cid] if cid in dense_rank else 0.0,
                "lexical": bm25.get(cid, 0.0) / best_bm25,
                "body": terms.coverage(t.body),
                "heading": terms.coverage(t.heading),
                "heading_bm25": heading_bm25.get(cid, 0.0) / best_heading,
                "phrase": len(query_pairs & t.pairs) / len(query_pairs) if query_pairs else 0.0,
                "doc_dense": doc_dense[chunk.doc_path],
                "doc_coverage": doc_cover[chunk.doc_path],
                "doc_mass": doc_mass[chunk.doc_path],
                "recency": (
                    (chunk.effective_date - oldest).days / span
                    if span and oldest and chunk.effective_date
                    else 0.0
                ),
            }
            out.append(
                Candidate(
                    chunk,
                    features,
                    self.ranker.score(features),
                    dense_rank.get(cid),
                    lexical_rank.get(cid),
                )
            )
        out.sort(key=lambda c: (-c.score, c.dense_rank or 10**6))
        return out

    def _pick(self, candidates: list[Candidate], k: int, head: int) -> list[Passage]:
        """The first `head` passages (what an answer draws on) take at most `per_document`
        passages of one document; the rest, up to k, come from documents not yet shown,
        so the sources also name the next-best documents."""
        picked: list[Passage] = []
        overflow: list[Passage] = []
        per_doc: dict[str, int] = {}
        for c in candidates:
            passage = Passage(
                chunk=c.chunk,
                score=c.score,
                dense_rank=c.dense_rank,
                lexical_rank=c.lexical_rank,
                extras={"similarity": c.features["dense"]},
            )
            seen = per_doc.get(c.chunk.doc_path, 0)
            if (len(picked) < head and seen < self.per_document) or seen == 0:
                per_doc[c.chunk.doc_path] = seen + 1
                picked.append(passage)
            else:
                overflow.append(passage)
            if len(picked) >= k:
                break
        if len(picked) < k:  # fewer documents than k: let the cap go rather than return less
            picked.extend(overflow[: k - len(picked)])
        return picked

    def _closer_without_unknown(
        self, terms: QueryTerms, passages: list[Passage], viewer: Viewer | None
    ) -> float:
        """How much closer the best passages come to the question once the words no document
        uses are left out (0 when they do not, or there are none). A word the documents
        say otherwise ("payout" for a disbursement) barely moves the question; a subject
        they do not cover at all ("dress code", "stock price") pulls it away from them."""
        unknown = terms.unknown_tokens
        if not unknown:
            return 0.0
        text = terms.dense_text or terms.text
        kept = " ".join(w for w in text.split() if not unknown.intersection(tokenize(w)))
        if not kept.strip():
            return 1.0  # nothing the documents use is left: as far as it gets
        vector = self.index.embedder.embed([kept])[0]
        hits = dict(self.index.dense_search(vector, self.candidates, viewer=viewer))
        floor = min(hits.values(), default=0.0)
        top = passages[:TOP_PASSAGES_FOR_SIGNALS]
        before = max(p.extras.get("similarity", 0.0) for p in top)
        after = max(hits.get(p.chunk.id, floor) for p in top)
        return max(0.0, after - before)

    def _signals(self, terms: QueryTerms, passages: list[Passage]) -> dict[str, float]:
        """What the confidence is computed from (knowledge/ranking.py, SIGNALS)."""
        if not passages:
            return {}
        top = passages[:TOP_PASSAGES_FOR_SIGNALS]
        top_terms = [self._chunk_terms(p.chunk) for p in top]
        union = frozenset().union(*(t.all for t in top_terms))
        # Each line (a sentence, list item or table row) with its section path: how much
        # of what the question asks about does it hold? And is a figure of the kind asked
        # for (a %, an amount, a date…) stated there or in a line next to it?
        kinds = expected_kinds(terms.query)
        sentence = typed = 0.0
        for p, t in zip(top, top_terms, strict=True):
            lines = [line | t.section for line in t.lines]
            sentence = max(sentence, *(terms.coverage(line, known_only=True) for line in lines))
            if not kinds:
                continue
            for k, text in enumerate(p.chunk.text.split("\n")):
                if holds(text, kinds):
                    window = lines[k].union(*lines[max(0, k - 1) : k + 2])
                    typed = max(typed, terms.coverage(window, known_only=True))
        return {
            "top_dense": max(p.extras.get("similarity", 0.0) for p in top),
            "coverage": terms.coverage(union),
            "unknown": terms.unknown_share,
            "sentence": sentence,
            "figure_gap": max(0.0, sentence - typed) if kinds else 0.0,
            "top_score": top[0].score,
        }
