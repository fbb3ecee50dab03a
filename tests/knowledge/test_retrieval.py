from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from knowledge.chunking import chunk_document
from knowledge.documents import Chunk, Document, Passage, Section
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import Retriever
from knowledge.vocabulary import Vocabulary

INTRO = " ".join(
    f"Partners in region {n} follow the regional rules of that region." for n in range(12)
)
ITEMS = "\n".join(f"- hold certification number {n};" for n in range(6))


class _Chunks:
    """Just the part of the index that widening reads: chunks by id."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.table = {c.id: c for c in chunks}

    def chunks(self, ids: Iterable[str]) -> dict[str, Chunk]:
        return {i: self.table[i] for i in ids if i in self.table}


def test_a_list_cut_off_by_the_chunk_boundary_is_given_whole() -> None:
    doc = Document(
        "tiers.md",
        "Tiers",
        (Section(("Requirements",), f"{INTRO}\n\nTo qualify, a partner must:\n\n{ITEMS}\n"),),
    )
    chunks = chunk_document(doc)
    first = next(c for c in chunks if c.text.endswith("To qualify, a partner must:"))
    assert "certification number 0" not in first.text  # the list went to the next chunk
    retriever = Retriever(cast(KnowledgeIndex, _Chunks(chunks)))
    (widened,) = retriever.widen([Passage(first, 1.0)])
    lines = widened.text.split("\n")
    assert lines[-7] == "To qualify, a partner must:"
    assert lines[-6:] == [f"- hold certification number {n};" for n in range(6)]
    # A passage starting inside a list gets the sentence that introduces it.
    second = chunks[chunks.index(first) + 1]
    (widened,) = retriever.widen([Passage(second, 1.0)])
    assert widened.text.split("\n")[0] == "To qualify, a partner must:"


def test_a_figure_next_to_the_line_about_the_subject_is_not_a_gap() -> None:
    retriever = Retriever(cast(KnowledgeIndex, _Chunks([])))
    terms = Vocabulary().expand("how long is the review of blog posts and tweets?")

    def gap(text: str) -> float:
        chunk = Chunk("m.md-0", "m.md", "Marketing", ("Announcements",), text, 0, None)
        return retriever._signals(terms, [Passage(chunk, 1.0)])["figure_gap"]

    stated = (
        "We review blog posts, tweets and other announcements before they go public.\n"
        "The review takes up to 10 business days to complete."
    )
    assert gap(stated) == 0.0
    unstated = (
        "We review blog posts, tweets and other announcements before they go public.\n"
        "Submit your request to your account manager."
    )
    assert gap(unstated) > 0.5
