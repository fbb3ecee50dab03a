"""Answer → Discord embeds: limits, clean splits, sources, abstentions, notices (no network)."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date

import pytest

from adapters.discord.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    notice_embed,
    render_answer,
    split_text,
)
from bot.models import Answer, Citation
from bot.notify import Notice
from bot.prompts import message

PROTECTED = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]|\[[^\]\n]*\]\([^)\s]*\)")


def citation(n: int, *, url: str | None = "https://partners.example/doc", **kw: object) -> Citation:
    return Citation(
        number=n,
        title=str(kw.get("title", f"Doc {n}")),
        section=str(kw.get("section", f"Section {n}")),
        path=f"doc-{n}.md",
        url=url,
        effective_date=date(2026, 7, 1),
    )


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
        elif roll < 0.08:
            out.append("[the guide](https://partners.example/a b)".replace(" b", "b"))
        elif roll < 0.09:
            out[-1] += "\n\n" if i % 2 else "\n"
    return " ".join(out)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("limit", [120, 1000, DESCRIPTION_LIMIT])
def test_split_never_cuts_words_citations_or_links(seed: int, limit: int) -> None:
    text = random_text(seed, 2500)
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()
    for chunk in chunks:
        remainder = PROTECTED.sub("", chunk)
        assert "[" not in remainder and "]" not in remainder, chunk[:80]
    # Chunks are not needlessly small: each but the last uses at least half the room.
    assert all(len(c) >= limit // 2 - 20 for c in chunks[:-1])


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


def test_answer_embed_has_numbered_linked_sources_date_and_buttons() -> None:
    answer = Answer(
        text="Gold partners need 10 responses by 2027-03-31. [1] Members need 3. [2]",
        citations=(citation(1, title="CSAT"), citation(2, url=None, section="Member *tier*")),
        as_of=date(2026, 8, 15),
        interaction_id=7,
    )
    [reply] = render_answer(answer)
    [embed] = reply.embeds
    assert embed.description == answer.text
    assert [f.name for f in embed.fields] == ["[1] CSAT", "[2] Doc 2"]
    assert embed.fields[0].value == "[Section 1](https://partners.example/doc) · 2026-07-01"
    assert embed.fields[1].value == "Member \\*tier\\* · 2026-07-01"  # no URL: plain, escaped
    assert embed.footer.text == message("as_of", date="2026-08-15")
    assert reply.feedback_for == 7 and reply.content is None


def test_abstention_is_rendered_as_such_with_closest_documents() -> None:
    titles = ["Renewal", "Renewal", "Tiers", "Support", "Billing"]
    sources = tuple(
        replace(citation(i, title=title), cited=False) for i, title in enumerate(titles, 1)
    )
    answer = Answer(
        text="I couldn't find this in the program documents, so I won't guess.",
        abstained=True,
        sources=sources,
        interaction_id=3,
    )
    [reply] = render_answer(answer)
    [embed] = reply.embeds
    assert embed.description == answer.text
    assert embed.colour != render_answer(replace(answer, abstained=False))[0].embeds[0].colour
    [field] = embed.fields
    assert field.name == message("closest_heading")
    assert str(field.value).splitlines() == [
        f"• [{t}](https://partners.example/doc) · 2026-07-01"
        for t in ("Renewal", "Tiers", "Support")
    ]
    assert embed.footer.text is None
    assert reply.feedback_for == 3  # abstentions can be rated too


@pytest.mark.parametrize("kind", ["notice", "error"])
def test_notices_and_apologies_are_plain_text_without_buttons(kind: str) -> None:
    answer = Answer(text="word " * 700, kind=kind)  # type: ignore[arg-type]
    replies = render_answer(answer)
    assert len(replies) == 2
    assert all(r.embeds == () and r.feedback_for is None for r in replies)
    assert all(r.content and len(r.content) <= CONTENT_LIMIT for r in replies)


def test_many_long_sources_spread_over_embeds_within_limits() -> None:
    cites = tuple(
        citation(i, title="T" * 400, section="S" * 1500, url=f"https://partners.example/{i}")
        for i in range(1, 41)
    )
    answer = Answer(text="word [1] " * 900, citations=cites, as_of=date(2026, 1, 1))
    replies = render_answer(answer)
    names = []
    for reply in replies:
        assert len(reply.embeds) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in reply.embeds) <= EMBED_TOTAL_LIMIT
        for embed in reply.embeds:
            assert len(embed.fields) <= FIELDS_PER_EMBED
            assert len(embed.description or "") <= DESCRIPTION_LIMIT
            for f in embed.fields:
                assert len(str(f.name)) <= FIELD_NAME_LIMIT
                assert len(str(f.value)) <= FIELD_VALUE_LIMIT
                assert re.search(
                    r"…\]\(https://partners\.example/\d+\) · 2026-07-01$", str(f.value)
                )
                names.append(str(f.name))
    assert len(names) == 40 and names[0].startswith("[1] ") and names[-1].startswith("[40] ")
    assert replies[-1].embeds[-1].footer.text == "as of 2026-01-01"


def test_notice_embed_carries_key_in_footer_and_fits() -> None:
    notice = Notice(
        key="comms:7:first",
        title="Heads-up: Northwind writes to your SMB customers on 2026-09-01",
        text="What is sent: a renewal reminder. " * 400,
        link="https://partners.example/comms/7",
        fields=(("Sent to", "Small-business customers"), ("Aims", "Renewals")),
    )
    embed = notice_embed(notice, footer="partnerbot · comms:7:first")
    assert embed.footer.text == "partnerbot · comms:7:first"
    assert embed.url == notice.link
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert str(embed.description).endswith("…")
    assert [f.name for f in embed.fields] == ["Sent to", "Aims"]
