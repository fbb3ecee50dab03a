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
    render_markdown,
    render_notice,
)
from bot.models import Answer, Citation, Conversation, Notice, NoticeButton, Turn
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


def test_mrkdwn_control_characters_are_escaped_and_markdown_bold_converted() -> None:
    answer = Answer(text="Use <b> & **bold** > here", citations=(cite(1),))
    rendered = render_answer(answer)
    [text] = texts(rendered.blocks, "answer-")
    assert text == "Use &lt;b&gt; &amp; *bold* &gt; here"


def test_mentions_in_an_answer_ping_nobody_in_the_blocks_or_the_fallback() -> None:
    answer = Answer(text="Tell <!channel> and <@U123> about <!here|here>.", citations=(cite(1),))
    for kind in ("answer", "notice"):
        rendered = render_answer(Answer(answer.text, kind=kind))
        shown = rendered.text + str(rendered.blocks)
        assert "<!" not in shown and "<@" not in shown
        assert "&lt;!channel&gt;" in rendered.text


def test_markdown_replies_become_mrkdwn_and_long_ones_sections() -> None:
    short = render_markdown("**Usage:** `comms cancel <id>`, see [the guide](https://e.com/g)")
    assert short.blocks == []
    assert short.text == "*Usage:* `comms cancel &lt;id&gt;`, see <https://e.com/g|the guide>"
    long = render_markdown("A line of a digest. [1]\n" * 400)
    assert len(long.blocks) > 1 and all(
        len(b["text"]["text"]) <= SECTION_LIMIT for b in long.blocks
    )


def test_a_notice_has_a_header_its_text_fields_link_and_buttons() -> None:
    notice = Notice(
        key="k",
        title="Heads-up: <b>customer email</b>",
        text="**What is sent:** a renewal reminder.",
        buttons=(
            NoticeButton("acknowledge", "Acknowledge", "comm:1"),
            NoticeButton("ask", "Ask", "comm:1"),
        ),
        link="https://partners.example/c/1",
        fields=(("Sent to", "SMB & mid-market"),),
    )
    rendered = render_notice(notice)
    kinds = [b["type"] for b in rendered.blocks]
    assert kinds == ["header", "section", "section", "context", "actions"]
    assert rendered.blocks[0]["text"]["text"] == notice.title  # plain text: shown as typed
    assert rendered.blocks[1]["text"]["text"] == "*What is sent:* a renewal reminder."
    assert rendered.blocks[2]["fields"][0]["text"] == "*Sent to*\nSMB &amp; mid-market"
    actions = rendered.blocks[-1]
    assert actions["block_id"] == "partnerbot_notice"
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("notice_acknowledge", "comm:1"),
        ("notice_ask", "comm:1"),
    ]
    assert actions["elements"][0]["style"] == "primary"
    assert rendered.text.startswith("Heads-up: &lt;b&gt;customer email&lt;/b&gt;\n*What is sent:*")


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


def test_conversation_maps_our_messages_to_bot_turns_and_skips_other_bots() -> None:
    messages = [
        {"ts": "3.0", "user": "UBOT", "bot_id": "BBOT", "text": "Answer one [1]"},
        {"ts": "1.0", "user": "U1", "text": "<@UBOT> first question"},
        {"ts": "4.0", "bot_id": "BOTHER", "subtype": "bot_message", "text": "noise"},
        {"ts": "5.0", "user": "U1", "subtype": "message_changed", "text": "edit"},
        {"ts": "6.0", "user": "U2", "text": "the current message"},
    ]
    conversation = ev.conversation(messages, "6.0", "UBOT", "BBOT")
    assert conversation == Conversation(
        (Turn("user", "first question"), Turn("bot", "Answer one [1]")), bot_present=True
    )
    assert not ev.conversation(messages[1:], "6.0", "UBOT", "BBOT").bot_present


def test_which_events_are_answered_and_where() -> None:
    base = {"user": "U1", "channel": "C1", "ts": "2.0", "text": "hi"}
    assert ev.route({**base, "type": "app_mention"}, "UBOT") == ("2.0", True)
    assert ev.route({**base, "type": "app_mention", "thread_ts": "1.0"}, "UBOT") == ("1.0", True)
    dm = {**base, "type": "message", "channel": "D1", "channel_type": "im"}
    assert ev.route(dm, "UBOT") == (None, True)
    reply = {**base, "type": "message", "channel_type": "channel", "thread_ts": "1.0"}
    assert ev.route(reply, "UBOT") == ("1.0", False)  # overheard in a thread
    assert ev.route({**reply, "text": "<@UBOT> hi"}, "UBOT") is None  # its app_mention answers
    assert ev.route({**base, "type": "message", "channel_type": "channel"}, "UBOT") is None
    assert ev.route({**reply, "bot_id": "B1"}, "UBOT") is None


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
