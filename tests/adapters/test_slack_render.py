"""Block Kit rendering and event translation for Slack: pure functions, no server needed."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from adapters.slack import events as ev
from adapters.slack.render import (
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    render_answer,
    split_text,
)
from bot.models import Answer, Citation, Turn
from bot.prompts import message


def cite(number: int, path: str = "doc.md", url: str | None = None, **kw: Any) -> Citation:
    return Citation(number=number, title=f"Doc {number}", section="Part", path=path, url=url, **kw)


def texts(blocks: list[dict[str, Any]], prefix: str) -> list[str]:
    return [b["text"]["text"] for b in blocks if str(b.get("block_id", "")).startswith(prefix)]


def test_long_answer_is_split_into_sections_within_slack_limits() -> None:
    paragraph = "Advanced partners need ten survey responses. " * 40
    answer = Answer(text="\n\n".join([paragraph] * 5), citations=(cite(1),), interaction_id=7)
    blocks = render_answer(answer).blocks
    parts = texts(blocks, "answer-")
    assert len(parts) > 1 and all(len(p) <= SECTION_LIMIT for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(answer.text.split())


def test_huge_answer_keeps_within_block_limit_and_keeps_buttons() -> None:
    answer = Answer(text="word " * 60_000, citations=(cite(1),), interaction_id=3)
    rendered = render_answer(answer)
    assert len(rendered.blocks) <= MAX_BLOCKS
    assert rendered.blocks[-1]["block_id"] == "feedback"
    assert len(rendered.text) <= FALLBACK_LIMIT


def test_split_text_never_exceeds_limit_even_without_spaces() -> None:
    pieces = split_text("x" * 7001, limit=3000)
    assert [len(p) for p in pieces] == [3000, 3000, 1001]


def test_mrkdwn_control_characters_are_escaped_and_markdown_bold_converted() -> None:
    answer = Answer(text="Use <b> & **bold** > here", citations=(cite(1),))
    [text] = texts(render_answer(answer).blocks, "answer-")
    assert text == "Use &lt;b&gt; &amp; *bold* &gt; here"


def test_sources_are_numbered_and_linked_only_when_there_is_a_url() -> None:
    answer = Answer(
        text="x [1] [2]",
        citations=(
            cite(1, url="https://example.com/a"),
            Citation(number=2, title="Fees | 2026", section="A > B", path="b.md"),
            Citation(number=3, title="C|D", section="", path="c.md", url="https://e.com/c"),
        ),
        as_of=date(2026, 7, 1),
        interaction_id=1,
    )
    blocks = render_answer(answer).blocks
    [sources] = texts(blocks, "sources")
    assert sources.splitlines() == [
        f"*{message('sources_heading')}*",
        "`[1]` <https://example.com/a|Doc 1 › Part>",
        "`[2]` Fees | 2026 › A &gt; B",
        "`[3]` <https://e.com/c|C/D>",
    ]
    context = [b for b in blocks if b["type"] == "context"]
    assert context[0]["elements"][0]["text"] == "as of 2026-07-01"


def test_no_feedback_buttons_without_an_interaction_id() -> None:
    blocks = render_answer(Answer(text="x", citations=(cite(1),))).blocks
    assert all(b["type"] != "actions" for b in blocks)


def test_abstention_lists_each_closest_document_once() -> None:
    sources = (
        cite(1, path="a.md", cited=False),
        cite(2, path="a.md", cited=False),
        cite(3, path="b.md", cited=False),
        cite(4, path="c.md", cited=False),
        cite(5, path="d.md", cited=False),
    )
    answer = Answer(text="I couldn't find this.", abstained=True, sources=sources)
    blocks = render_answer(answer).blocks
    assert blocks[0]["type"] == "header"
    [closest] = texts(blocks, "closest")
    assert closest.splitlines()[1:] == ["• Doc 1 › Part", "• Doc 3 › Part", "• Doc 4 › Part"]


def test_notices_and_errors_are_plain_text() -> None:
    kinds: tuple[Literal["notice", "error"], ...] = ("notice", "error")
    for kind in kinds:
        rendered = render_answer(Answer(text="Please ask in under 2,000 characters.", kind=kind))
        assert rendered.blocks == []
        assert rendered.as_kwargs() == {"text": "Please ask in under 2,000 characters."}


def test_strip_mention_removes_only_the_bot() -> None:
    text = "<@UBOT> hey <@U123|ann>  what changed?\nthanks <@UBOT|partnerbot>"
    assert ev.strip_mention(text, "UBOT") == "hey <@U123|ann> what changed?\nthanks"
    assert ev.mentions(text, "UBOT") and not ev.mentions("hello", "UBOT")


def test_history_maps_our_messages_to_bot_turns_and_skips_other_bots() -> None:
    messages = [
        {"ts": "3.0", "user": "UBOT", "bot_id": "BBOT", "text": "Answer one [1]"},
        {"ts": "1.0", "user": "U1", "text": "<@UBOT> first question"},
        {"ts": "4.0", "bot_id": "BOTHER", "subtype": "bot_message", "text": "noise"},
        {"ts": "5.0", "user": "U1", "subtype": "message_changed", "text": "edit"},
        {"ts": "6.0", "user": "U2", "text": "the current message"},
    ]
    history = ev.history_from_messages(messages, before_ts="6.0", bot_user_id="UBOT", bot_id="BBOT")
    assert history == (Turn("user", "first question"), Turn("bot", "Answer one [1]"))
    assert ev.bot_in_thread(messages, bot_user_id="UBOT", bot_id="BBOT")
    assert not ev.bot_in_thread(messages[1:], bot_user_id="UBOT", bot_id="BBOT")


def test_which_messages_are_from_people() -> None:
    person = {"type": "message", "user": "U1", "channel": "C1", "ts": "1.0", "text": "hi"}
    assert ev.is_person_message(person)
    assert ev.is_person_message({**person, "subtype": "thread_broadcast"})
    for not_person in (
        {**person, "bot_id": "B1"},
        {**person, "subtype": "message_changed"},
        {**person, "subtype": "message_deleted"},
        {**person, "subtype": "channel_join"},
        {k: v for k, v in person.items() if k != "user"},
    ):
        assert not ev.is_person_message(not_person)
