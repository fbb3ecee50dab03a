"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused by reciprocal rank.

Fusion by rank rather than score means the two very different score scales
never need to be reconciled. A per-document cap keeps one long document from
crowding out the rest. `confidence` is the best dense similarity among the
passages returned, the signal the abstention threshold is calibrated on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from knowledge.documents import Passage
from knowledge.index import KnowledgeIndex

logger = logging.getLogger(__name__)

RRF_K = 60


@dataclass(frozen=True)
class Retrieval:
    query: str
    expanded_query: str
    passages: tuple[Passage, ...]
    confidence: float

    @property
    def top(self) -> Passage | None:
        return self.passages[0] if self.passages else None


class Retriever:
    """Finds the passages that best answer a query."""

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        candidates: int = 30,
        per_document: int = 2,
        use_lexical: bool = True,
        use_glossary: bool = True,
    ) -> None:
        self.index = index
        self.candidates = candidates
        self.per_document = per_document
        self.use_lexical = use_lexical
        self.use_glossary = use_glossary

    def search(self, query: str, *, k: int = 5) -> Retrieval:
        expanded = self.index.glossary().expand(query) if self.use_glossary else query
        vector = self.index.embedder.embed([expanded])[0]
        dense = self.index.dense_search(vector, self.candidates)
        lexical = (
            self.index.refresh_lexical().search(expanded, self.candidates)
            if self.use_lexical
            else []
        )
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        dense_sim = dict(dense)
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical, start=1)}

        fused: dict[str, float] = {}
        for ranks in (dense_rank, lexical_rank):
            for cid, rank in ranks.items():
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        ordered = sorted(fused, key=lambda cid: (-fused[cid], dense_rank.get(cid, 10**6)))

        chunks = self.index.chunks(ordered[: max(k * 4, self.candidates)])
        picked: list[Passage] = []
        overflow: list[Passage] = []
        per_doc: dict[str, int] = {}
        for cid in ordered:
            chunk = chunks.get(cid)
            if chunk is None:
                continue
            passage = Passage(
                chunk=chunk,
                score=fused[cid],
                dense_rank=dense_rank.get(cid),
                lexical_rank=lexical_rank.get(cid),
                extras={"similarity": dense_sim.get(cid, 0.0)},
            )
            if per_doc.get(chunk.doc_path, 0) < self.per_document:
                per_doc[chunk.doc_path] = per_doc.get(chunk.doc_path, 0) + 1
                picked.append(passage)
            else:
                overflow.append(passage)
            if len(picked) >= k:
                break
        if len(picked) < k:  # fewer documents than k: let the cap go rather than return less
            picked.extend(overflow[: k - len(picked)])
        confidence = max((dense_sim.get(p.chunk.id, 0.0) for p in picked[:3]), default=0.0)
        return Retrieval(query, expanded, tuple(picked), confidence)
