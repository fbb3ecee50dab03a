"""Adaptive Cards for Teams: pure functions, no server needed."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from adapters.teams.cards import card
from adapters.teams.render import render_notice, render_reply
from bot.layout import answer_layout
from bot.models import Answer, Citation, Notice, NoticeButton, Reply
from bot.prompts import message

MESSAGE_LIMIT = 28_000  # bytes Teams takes in one message, card included


def cite(number: int, url: str | None = None, **kw: Any) -> Citation:
    return Citation(
        number=number, title=f"Doc {number}", section="Part", path="d.md", url=url, **kw
    )


def size(answer: Answer) -> int:
    return len(render_reply(Reply(answer=answer)).model_dump_json(by_alias=True).encode())


def test_an_answer_card_numbers_and_links_its_sources_dates_them_and_has_feedback() -> None:
    when = date(2026, 8, 15)
    answer = Answer(
        "Advanced partners need 10 responses. [1]",
        citations=(cite(1, "https://docs.example/csat", effective_date=when), cite(2)),
        as_of=when,
        interaction_id=7,
    )
    shown = card(answer_layout(answer))
    texts = [b["text"] for b in shown["body"]]
    assert texts[0] == answer.text
    assert "[1] [Doc 1 › Part](https://docs.example/csat) · 2026-08-15" in texts[1]
    assert "[2] Doc 2 › Part" in texts[1] and texts[1].startswith("**Sources**")
    assert texts[-1] == message("as_of", date="2026-08-15")
    actions = [(a["type"], a["verb"], a["data"]) for a in shown["actions"]]
    assert actions == [
        ("Action.Execute", "feedback_up", {"action": "feedback_up", "value": "7"}),
        ("Action.Execute", "feedback_down", {"action": "feedback_down", "value": "7"}),
    ]
    assert shown["version"] == "1.5" and shown["type"] == "AdaptiveCard"


def test_no_feedback_without_a_recorded_answer_and_an_abstention_says_so() -> None:
    assert card(answer_layout(Answer("text", citations=(cite(1),))))["actions"] == []
    sources = (cite(1, cited=False), cite(2, cited=False))
    abstained = card(answer_layout(Answer("Not found.", sources=sources, abstained=True)))
    assert abstained["body"][0]["text"] == message("abstained_heading")
    closest = abstained["body"][2]["text"]
    assert closest.startswith(f"**{message('closest_heading')}**") and "- Doc 1 › Part" in closest


def test_a_huge_answer_fits_one_message_and_keeps_its_buttons() -> None:
    answer = Answer(
        "word " * 60_000, citations=tuple(cite(n) for n in range(1, 60)), interaction_id=3
    )
    assert size(answer) < MESSAGE_LIMIT
    assert [a["verb"] for a in card(answer_layout(answer))["actions"]] == [
        "feedback_up",
        "feedback_down",
    ]


def test_text_replies_are_markdown_with_html_escaped_so_nothing_mentions_anyone() -> None:
    reply = render_reply(Reply(text="Tell <at>everyone</at> & **all**"))
    assert reply.text == "Tell &lt;at&gt;everyone&lt;/at&gt; &amp; **all**"
    assert reply.text_format == "markdown" and not reply.attachments
    apology = render_reply(Reply(answer=Answer(message("apology"), kind="error")))
    assert apology.text == message("apology") and not apology.attachments


def test_a_notice_card_has_its_title_text_facts_link_and_buttons() -> None:
    notice = Notice(
        key="pb-comm:c:r1:first:teams:19:x",
        title="Heads-up: licensing email on 1 March",
        text="**What is sent:** a licensing email.",
        buttons=(
            NoticeButton("acknowledge", "Acknowledge", "comm:12"),
            NoticeButton("ask", "Ask about this", "comm:12"),
        ),
        link="https://comms.example/licensing",
        fields=(("Your customers on the list", "3"),),
    )
    activity = json.loads(render_notice(notice).model_dump_json(by_alias=True, exclude_none=True))
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    body = attachment["content"]["body"]
    assert body[0] == {
        "type": "TextBlock",
        "text": notice.title,
        "wrap": True,
        "weight": "Bolder",
        "size": "Medium",
    }
    assert body[1]["text"] == notice.text
    assert body[2]["facts"] == [{"title": "Your customers on the list", "value": "3"}]
    assert notice.link in body[3]["text"]
    buttons = [(a["title"], a["data"], a.get("style")) for a in attachment["content"]["actions"]]
    assert buttons == [
        ("Acknowledge", {"action": "acknowledge", "value": "comm:12"}, "positive"),
        ("Ask about this", {"action": "ask", "value": "comm:12"}, None),
    ]
