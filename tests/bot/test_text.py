"""The one splitter (citations, links and code kept whole), clipping, the closest documents."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date

import pytest

from bot.models import Answer, Citation
from bot.text import clip, closest_documents, split_text

PROTECTED = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]|\[[^\]\n]*\]\([^)\s]*\)|<[^<>\n]+>")


def random_text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(words):
        word = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 14)))
        out.append(word)
        roll = rng.random()
        if roll < 0.06:
            out[-1] += "."
            out.append(rng.choice(["[1]", "[2, 3]", "[12, 4, 7]"]))
        elif roll < 0.07:
            out.append("[the guide](https://partners.example/ab)")
        elif roll < 0.08:
            out.append("<https://partners.example/doc|the partner guide>")  # a Slack link
        elif roll < 0.09:
            out[-1] += "\n\n" if i % 2 else "\n"
    return " ".join(out)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("limit", [120, 1000, 3000, 4096])
def test_split_never_cuts_words_citations_or_links(seed: int, limit: int) -> None:
    text = random_text(seed, 2500)
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()
    for chunk in chunks:
        remainder = PROTECTED.sub("", chunk)
        assert not set("[]<>") & set(remainder), chunk[:80]
    # Chunks are not needlessly small: each but the last uses at least half the room.
    assert all(len(c) >= limit // 2 - 60 for c in chunks[:-1])


def test_split_prefers_paragraphs_then_sentences() -> None:
    para = "First paragraph sentence one. [1] Sentence two. [2]"
    text = para + "\n\n" + "Second paragraph " * 10
    assert split_text(text, len(para) + 20)[0] == para
    sentences = "Alpha beta gamma. [1] Delta epsilon zeta. [2] Eta theta iota kappa."
    chunks = split_text(sentences, 50)
    assert chunks[0] == "Alpha beta gamma. [1] Delta epsilon zeta. [2]"


def test_split_of_a_giant_word_cuts_but_not_inside_a_citation() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("y" * 8 + "[1, 2]", 10) == ["y" * 8, "[1, 2]"]
    assert split_text("", 10) == []


def test_clip_cuts_at_a_word_and_marks_it() -> None:
    assert clip("short", 10) == "short"
    assert clip("the quick brown fox jumps", 12) == "the quick…"
    assert len(clip("x" * 50, 10)) == 10


def test_closest_documents_is_one_passage_per_document_in_rank_order() -> None:
    def source(n: int, path: str) -> Citation:
        return Citation(n, f"Title {path}", "S", path, effective_date=date(2026, 1, 1), cited=False)

    paths = ["a.md", "a.md", "b.md", "c.md", "d.md"]
    answer = Answer("no", abstained=True, sources=tuple(source(i, p) for i, p in enumerate(paths)))
    assert [c.path for c in closest_documents(answer)] == ["a.md", "b.md", "c.md"]
    assert [c.number for c in closest_documents(answer)] == [0, 2, 3]
    assert closest_documents(replace(answer, sources=())) == []
