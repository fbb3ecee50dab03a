"""Answer → Discord embeds: limits, sources, abstentions, notices, buttons (no network).
(How text is split is tested once, in tests/bot/test_text.py.)"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from adapters.discord.render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    render_answer,
    render_notice,
)
from bot.models import Answer, Citation, Notice, NoticeButton
from bot.prompts import message


def citation(n: int, *, url: str | None = "https://partners.example/doc", **kw: object) -> Citation:
    return Citation(
        number=n,
        title=str(kw.get("title", f"Doc {n}")),
        section=str(kw.get("section", f"Section {n}")),
        path=f"doc-{n}.md",
        url=url,
        effective_date=date(2026, 7, 1),
    )


def test_answer_embed_has_numbered_linked_sources_date_and_buttons() -> None:
    answer = Answer(
        text="Gold partners need 10 responses by 2027-03-31. [1] Members need 3. [2]",
        citations=(citation(1, title="CSAT"), citation(2, url=None, section="Member *tier*")),
        as_of=date(2026, 8, 15),
        interaction_id=7,
    )
    [reply] = render_answer(answer)
    [embed] = reply["embeds"]
    assert embed.description == answer.text
    assert [f.name for f in embed.fields] == ["[1] CSAT", "[2] Doc 2"]
    assert embed.fields[0].value == "[Section 1](https://partners.example/doc) · 2026-07-01"
    assert embed.fields[1].value == "Member \\*tier\\* · 2026-07-01"  # no URL: plain, escaped
    assert embed.footer.text == message("as_of", date="2026-08-15")
    assert custom_ids(reply) == ["feedback:up:7", "feedback:down:7"] and "content" not in reply


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
    [embed] = reply["embeds"]
    assert embed.description == answer.text
    assert embed.colour != render_answer(replace(answer, abstained=False))[0]["embeds"][0].colour
    [field] = embed.fields
    assert field.name == message("closest_heading")
    assert str(field.value).splitlines() == [  # one line per document (not per title)
        f"• [{t}](https://partners.example/doc) · 2026-07-01"
        for t in ("Renewal", "Renewal", "Tiers")
    ]
    assert embed.footer.text is None
    assert custom_ids(reply) == ["feedback:up:3", "feedback:down:3"]  # abstentions can be rated


@pytest.mark.parametrize("kind", ["notice", "error"])
def test_notices_and_apologies_are_plain_text_without_buttons(kind: str) -> None:
    answer = Answer(text="word " * 700, kind=kind)  # type: ignore[arg-type]
    replies = render_answer(answer)
    assert len(replies) == 2
    assert all(set(r) == {"content"} and len(r["content"]) <= CONTENT_LIMIT for r in replies)


def test_many_long_sources_spread_over_embeds_within_limits() -> None:
    cites = tuple(
        citation(i, title="T" * 400, section="S" * 1500, url=f"https://partners.example/{i}")
        for i in range(1, 41)
    )
    answer = Answer(text="word [1] " * 900, citations=cites, as_of=date(2026, 1, 1))
    replies = render_answer(answer)
    names = []
    for reply in replies:
        assert len(reply["embeds"]) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in reply["embeds"]) <= EMBED_TOTAL_LIMIT
        for embed in reply["embeds"]:
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
    assert replies[-1]["embeds"][-1].footer.text == "as of 2026-01-01"


def test_notice_embed_carries_key_in_footer_and_fits() -> None:
    notice = Notice(
        key="comms:7:first",
        title="Heads-up: Northwind writes to your SMB customers on 2026-09-01",
        text="What is sent: a renewal reminder. " * 400,
        link="https://partners.example/comms/7",
        fields=(("Sent to", "Small-business customers"), ("Aims", "Renewals")),
    )
    rendered = render_notice(notice, footer="partnerbot · comms:7:first")
    embed = rendered["embed"]
    assert "view" not in rendered  # no buttons
    assert embed.footer.text == "partnerbot · comms:7:first"
    assert embed.url == notice.link
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert str(embed.description).endswith("…")
    assert [f.name for f in embed.fields] == ["Sent to", "Aims"]


def custom_ids(reply: dict[str, Any]) -> list[str]:
    return [item.custom_id for item in reply["view"].children] if "view" in reply else []


def test_notice_buttons_keep_their_value_in_a_custom_id_that_fits() -> None:
    notice = Notice(
        key="k",
        title="t",
        text="x",
        buttons=(
            NoticeButton("acknowledge", "Acknowledge", "comm:17"),
            NoticeButton("ask", "Ask about this", "comm:17"),
            NoticeButton("ask", "Too long", "x" * 120),  # cannot fit a custom id: left out
        ),
    )
    rendered = render_notice(notice, footer="f")
    assert custom_ids(rendered) == ["notice:acknowledge:comm:17", "notice:ask:comm:17"]
    assert [b.item.label for b in rendered["view"].children] == ["Acknowledge", "Ask about this"]
