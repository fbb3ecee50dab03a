"""Answer a Question: rewrite follow-ups, retrieve, abstain or compose, cite.

The pipeline never claims what it cannot cite: a composition without citations
becomes an abstention, and an LLM reply that fails validation is replaced by the
extractive answer.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from bot.answering.composing import Composition
from bot.answering.extractive import ExtractiveComposer
from bot.answering.grounded import LLMComposer
from bot.answering.links import LinkPolicy, within_policy
from bot.answering.rewrite import FollowUps, LLMRewriter
from bot.answering.tiers import names, only_for, readers_tier, speaks_of, tier_passage, with_passage
from bot.errors import LLMError
from bot.models import Answer, Citation, Question
from bot.prompts import message, render
from knowledge.documents import Passage
from knowledge.retrieval import Retrieval, Retriever
from knowledge.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

SOURCES_SHOWN = 10


@dataclass(frozen=True)
class Trace:
    """How an answer came about, for evaluation and calibration."""

    standalone_query: str
    signals: dict[str, float]
    # Every candidate passage, best first: (document path, text, ranking features).
    candidates: list[tuple[str, str, list[float]]]


class Answerer:
    def __init__(
        self,
        *,
        retriever: Retriever,
        top_k: int = 8,
        threshold: float | None = None,
        llm: LLMComposer | None = None,
        rewriter: LLMRewriter | None = None,
        escalation_contact: str = "your partner development manager",
        tier_names: Callable[[], Iterable[str]] = tuple,
        links: LinkPolicy | None = None,
    ) -> None:
        """`threshold`: abstain below this confidence; default the fitted one
        (knowledge/fitted_weights.json). `tier_names`: the program's tiers (routes.yml
        tags), so a question naming one is not answered for the asker's own instead."""
        self.retriever = retriever
        self.tier_names = tier_names
        self.top_k = top_k
        self._threshold = threshold
        self.llm = llm
        self.rewriter = rewriter
        self.followups = FollowUps(retriever.index, rewriter=rewriter)
        self.escalation_contact = escalation_contact
        # The domains an answer may link to, whichever composer wrote it (bot/answering/links.py).
        self.links = links
        self.extractive = ExtractiveComposer(
            vocabulary=retriever.vocabulary, glossary=retriever.index.glossary
        )

    @property
    def threshold(self) -> float:
        if self._threshold is not None:
            return self._threshold
        return self.retriever.weights.confidence.threshold

    def standalone_query(self, question: Question) -> str:
        return self.followups.standalone(question.text, question.history, question.audience)

    def confidence(self, retrieval: Retrieval) -> float:
        """The probability that the documents answer the question (0 without passages)."""
        if not retrieval.passages or not retrieval.signals:
            return 0.0
        return self.retriever.weights.confidence.probability(retrieval.signals)

    def answer(self, question: Question) -> Answer:
        return self.answer_with_trace(question)[0]

    def answer_with_trace(self, question: Question) -> tuple[Answer, Trace]:
        started = time.perf_counter()
        query = self.standalone_query(question)
        # Only what the readers of the reply may read is searched (question.audience).
        viewer = question.audience
        retrieval = self.retriever.search(
            query, k=max(SOURCES_SHOWN, self.top_k), head=self.top_k, viewer=viewer
        )
        found = retrieval.passages
        # A question naming no tier, from readers of one tier, is answered for their tier
        # (bot/answering/tiers.py): its passage is added, other tiers' sentences left out.
        tiers = set(self.tier_names())
        tier = readers_tier(viewer, query, tiers)
        asked = f"{query} ({tier})" if tier else query
        if tier:
            tiered = self.retriever.search(asked, k=SOURCES_SHOWN, viewer=viewer)
            pick = tier_passage(found, tiered.passages, tier, tiers)
            if pick is not None:
                found = tuple(with_passage(found, pick, tier, head=self.top_k))
            elif not any(speaks_of(p, tier, tiers) for p in found[:1]):
                tier, asked = None, query  # nothing found differs by tier
        # What the composer is given: the top passages, lists made whole.
        passages = self.retriever.widen(found[: self.top_k])
        rest = found[len(passages) :]
        if tier:
            passages = only_for(passages, tier, tiers)
        shown = (*passages, *rest)
        confidence = self.confidence(retrieval)

        composition: Composition | None = None
        if passages and confidence >= self.threshold:
            composition = self._compose(asked, passages, self.retriever.vocabulary(viewer))
        if composition is None or not composition.cited:
            answer = self._abstain(question, shown, confidence, query)
        else:
            answer = self._cited_answer(question, composition, passages, shown, confidence, query)
            if tier and any(names(passages[i - 1].text, tier) for i in composition.cited):
                answer = replace(
                    answer, text=f"{message('answer_for_tier', tier=tier)} {answer.text}"
                )
        logger.info(
            "answered platform=%s abstained=%s confidence=%.3f ms=%.0f",
            question.platform,
            answer.abstained,
            confidence,
            (time.perf_counter() - started) * 1000,
        )
        trace = Trace(
            standalone_query=query,
            signals=dict(retrieval.signals),
            candidates=[(c.chunk.doc_path, c.chunk.text, c.vector()) for c in retrieval.candidates],
        )
        return answer, trace

    def _compose(
        self, question: str, passages: Sequence[Passage], vocabulary: Vocabulary
    ) -> Composition | None:
        return within_policy(self._composed(question, passages, vocabulary), self.links)

    def _composed(
        self, question: str, passages: Sequence[Passage], vocabulary: Vocabulary
    ) -> Composition | None:
        if self.llm is not None:
            try:
                return self.llm.compose(question, passages)
            except LLMError as e:
                logger.warning("LLM answer rejected, using the extractive answer: %s", e)
        return self.extractive.compose(question, passages, vocabulary=vocabulary)

    def _cited_answer(
        self,
        question: Question,
        composition: Composition,
        passages: Sequence[Passage],
        shown: Sequence[Passage],
        confidence: float,
        query: str,
    ) -> Answer:
        # Renumber in reading order: the first passage cited in the text becomes [1].
        order: list[int] = []
        for m in re.finditer(r"\[(\d+(?:\s*,\s*\d+)*)\]", composition.text):
            order.extend(int(n) for n in m.group(1).split(",") if int(n) not in order)
        cited_in_order = [n for n in dict.fromkeys(order) if n in composition.cited]
        renumber = {old: new for new, old in enumerate(cited_in_order, start=1)}
        text = re.sub(
            r"\[(\d+(?:\s*,\s*\d+)*)\]",
            lambda m: (
                "[" + ", ".join(str(renumber.get(int(n), n)) for n in m.group(1).split(",")) + "]"
            ),
            composition.text,
        )
        citations = tuple(_citation(renumber[old], passages[old - 1]) for old in composition.cited)
        dates = [c.effective_date for c in citations if c.effective_date]
        return Answer(
            text=text,
            citations=citations,
            abstained=False,
            confidence=round(confidence, 4),
            as_of=max(dates) if dates else None,
            sources=_sources(shown, cited=[passages[i - 1] for i in composition.cited]),
            question=question.text,
            standalone_query=query,
        )

    def _abstain(
        self, question: Question, shown: Sequence[Passage], score: float, query: str
    ) -> Answer:
        closest: list[str] = []
        for p in shown:
            if p.title not in closest:
                closest.append(p.title)
            if len(closest) == 3:
                break
        parts = [render("abstain")]
        if closest:
            parts.append(render("abstain_closest", closest="; ".join(closest)))
        parts.append(render("abstain_escalate", contact=self.escalation_contact))
        return Answer(
            text=" ".join(parts),
            citations=(),
            abstained=True,
            confidence=round(score, 4),
            sources=_sources(shown, cited=()),
            question=question.text,
            standalone_query=query,
        )


def _citation(number: int, passage: Passage, *, cited: bool = True) -> Citation:
    return Citation(
        number=number,
        title=passage.title,
        section=passage.section_label,
        path=passage.doc_path,
        url=passage.chunk.url,
        effective_date=passage.effective_date,
        score=round(passage.score, 6),
        cited=cited,
        text=passage.text,
    )


def _sources(passages: Sequence[Passage], *, cited: Sequence[Passage]) -> tuple[Citation, ...]:
    cited_ids = {p.chunk.id for p in cited}
    return tuple(
        _citation(i, p, cited=p.chunk.id in cited_ids)
        for i, p in enumerate(passages[:SOURCES_SHOWN], start=1)
    )
