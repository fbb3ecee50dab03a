"""The Discord adapter end to end: real discord.py against FakeDiscord on 127.0.0.1.

Each test asserts on what actually reached the fake (REST requests, gateway frames,
stored messages), not on the adapter's internals.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from adapters.discord.client import Client
from adapters.discord.render import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELDS_PER_EMBED,
)
from bot.app import App
from bot.models import Answer, Citation, Question, Turn
from bot.prompts import message
from tests.adapters.discord_harness import (
    TOKEN,
    discord_settings,
    run_concurrent_asks,
    running_discord,
)
from tests.fakes.discord_server import FakeDiscord, fake_discord

MESSAGES = r"^/channels/\d+/messages$"
CALLBACK = r"^/interactions/\d+/[^/]+/callback$"
GOLD = "whats the new CSAT rule for gold?? deadline?"
FOLLOW_UP = "and for member tier?"
CSAT_URL = "https://partners.northwind.example/docs/csat-requirement"
EPHEMERAL = 1 << 6
CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
OTHER_BOT_ID = 800_000_000_000_000_099
COMMAND_NAMES = {"ask", "reindex", "help", "comms", "changes"}


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with fake_discord() as server:
        yield server


@pytest.fixture
def dapp(make_app: Callable[..., App], fake: FakeDiscord) -> App:
    """An app configured for the fake: its token, and the fake's admin role."""
    return make_app(**discord_settings(fake))


def spy(monkeypatch: pytest.MonkeyPatch, obj: Any, name: str) -> list[Any]:
    """Record the first positional argument (or the kwargs) of every call to obj.name."""
    calls: list[Any] = []
    real = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)
    return calls


def replies_to(asked: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    def match(msg: dict[str, Any]) -> bool:
        return msg.get("message_reference", {}).get("message_id") == asked["id"]

    return match


def channel_posts(fake: FakeDiscord) -> list[Any]:
    """Messages sent to the test channel (not to threads)."""
    path = f"/channels/{fake.channel_id}/messages"
    return [r for r in fake.requests if r.method == "POST" and r.path == path]


def webhook(fake: FakeDiscord, event: dict[str, Any]) -> tuple[str, str]:
    return ("POST", rf"^/webhooks/{fake.application_id}/{event['token']}$")


def field_urls(embeds: list[dict[str, Any]]) -> str:
    return " ".join(f["value"] for e in embeds for f in e.get("fields", []))


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6,000 limit."""
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
        + len(embed.get("author", {}).get("name", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    )


# -- connecting ----------------------------------------------------------------------------------


async def test_identify_carries_token_and_intents_and_commands_sync(
    fake: FakeDiscord, dapp: App
) -> None:
    async with running_discord(dapp) as platform:
        [identify] = fake.identify_payloads
        assert identify["token"] == TOKEN
        assert platform.client is not None
        assert identify["intents"] == platform.client.intents.value
        assert not identify["intents"] & (1 << 15)  # no privileged message-content intent
        assert identify["intents"] & (1 << 9) and identify["intents"] & (1 << 12)
        assert {c["name"] for c in fake.commands()} == COMMAND_NAMES
        [ask] = [c for c in fake.commands() if c["name"] == "ask"]
        assert [o["name"] for o in ask["options"]] == ["question", "private"]


async def test_message_content_intent_and_guild_commands_when_configured(
    fake: FakeDiscord, make_app: Callable[..., App]
) -> None:
    app = make_app(
        **discord_settings(
            fake,
            DISCORD_MESSAGE_CONTENT_INTENT="true",
            DISCORD_GUILD_IDS=str(fake.guild_id),
        )
    )
    async with running_discord(app):
        [identify] = fake.identify_payloads
        assert identify["intents"] & (1 << 15)
        assert {c["name"] for c in fake.commands(fake.guild_id)} == COMMAND_NAMES
        assert fake.commands() == []  # nothing global: guild commands appear instantly


# -- mentions, threads, replies, DMs -------------------------------------------------------------


async def test_mention_gets_reply_with_sources_as_fields_and_a_thread(
    fake: FakeDiscord, dapp: App
) -> None:
    async with running_discord(dapp):
        asked = fake.message_create(GOLD)
        reply = await fake.wait_for_message(replies_to(asked), timeout=10)

        assert reply["channel_id"] == str(fake.channel_id)
        [embed] = reply["embeds"]
        assert "[1]" in embed["description"]
        names = [f["name"] for f in embed["fields"]]
        assert names[0] == "[1] Customer Satisfaction Survey (CSAT) Requirement"
        assert f"]({CSAT_URL})" in embed["fields"][0]["value"]  # linked source
        assert embed["footer"]["text"] == "as of 2026-08-15"
        buttons = [c["custom_id"] for c in reply["components"][0]["components"]]
        stored = dapp.store.interactions.get(1)
        assert stored is not None and dapp.store.interactions.get(2) is None
        assert buttons == [f"feedback:up:{stored.id}", f"feedback:down:{stored.id}"]

        # The conversation continues in a thread the bot starts on its answer.
        [thread] = await fake.wait_for(("POST", rf"/messages/{reply['id']}/threads$"))
        assert thread.json["name"] == GOLD
        # The mention was stripped before the core saw the question.
        assert (stored.question, stored.platform, stored.asker) == (
            GOLD,
            "discord",
            str(fake.user_id),
        )


async def test_thread_follow_up_uses_the_first_turn(
    fake: FakeDiscord, dapp: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked_core = spy(monkeypatch, dapp.core, "ask")
    async with running_discord(dapp) as platform:
        first = fake.message_create(GOLD)
        answer = await fake.wait_for_message(replies_to(first), timeout=10)
        thread_id = int(answer["id"])  # a thread started from a message shares its id
        assert platform.client is not None
        client = platform.client
        await fake.wait_until(lambda: client.get_channel(thread_id), describe="thread cached")

        follow = fake.message_create(FOLLOW_UP, channel_id=thread_id)
        reply = await fake.wait_for_message(replies_to(follow), channel_id=thread_id, timeout=10)

        q: Question = asked_core[-1]
        assert q.text == FOLLOW_UP
        assert q.history[0] == Turn("user", GOLD)
        assert q.history[1].role == "bot" and "2027-03-31" in q.history[1].text
        # With the first turn as context the answer is about CSAT (alone it is about tiers).
        assert CSAT_URL in field_urls(reply["embeds"])
        assert "Member" in reply["embeds"][0]["description"]
        # No second thread inside the thread.
        threads = [r for r in fake.requests if r.path.endswith("/threads")]
        assert len(threads) == 1


@pytest.mark.parametrize("content_intent", [True, False], ids=["intent", "no-intent"])
async def test_thread_follow_up_without_a_mention_needs_the_content_intent(
    fake: FakeDiscord,
    make_app: Callable[..., App],
    monkeypatch: pytest.MonkeyPatch,
    content_intent: bool,
) -> None:
    app = make_app(
        **discord_settings(fake, DISCORD_MESSAGE_CONTENT_INTENT=str(content_intent).lower())
    )
    asked_core = spy(monkeypatch, app.core, "ask")
    async with running_discord(app) as platform:
        first = fake.message_create(GOLD)
        answer = await fake.wait_for_message(replies_to(first), timeout=10)
        thread_id = int(answer["id"])
        client = platform.client
        assert client is not None
        await fake.wait_until(lambda: client.get_channel(thread_id), describe="thread cached")

        follow = fake.message_create(FOLLOW_UP, channel_id=thread_id, mentions_bot=False)
        if content_intent:
            await fake.wait_for_message(replies_to(follow), channel_id=thread_id, timeout=10)
            assert [q.text for q in asked_core] == [GOLD, FOLLOW_UP]
        else:
            await asyncio.sleep(0.3)  # Discord blanks the text: nothing to answer
            assert [q.text for q in asked_core] == [GOLD]
            hint = message("thread_mention_hint")  # which says how to follow up
            assert [m["content"] for m in fake.bot_messages(thread_id)] == [hint]


async def test_reply_to_the_bots_answer_uses_the_reply_chain(
    fake: FakeDiscord, dapp: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked_core = spy(monkeypatch, dapp.core, "ask")
    async with running_discord(dapp):
        first = fake.message_create(GOLD)
        answer = await fake.wait_for_message(replies_to(first), timeout=10)
        follow = fake.message_create(FOLLOW_UP, message_reference=int(answer["id"]))
        reply = await fake.wait_for_message(replies_to(follow), timeout=10)
        assert [t.role for t in asked_core[-1].history] == ["user", "bot"]
        assert asked_core[-1].history[0].text == GOLD
        assert CSAT_URL in field_urls(reply["embeds"])


async def test_direct_message_is_answered(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        asked = fake.message_create(GOLD, guild=False)
        reply = await fake.wait_for_message(replies_to(asked), timeout=10)
        assert reply["channel_id"] == asked["channel_id"] != str(fake.channel_id)
        assert reply.get("guild_id") is None
        assert CSAT_URL in field_urls(reply["embeds"])
        assert not [r for r in fake.requests if r.path.endswith("/threads")]


async def test_own_and_other_bots_messages_and_chatter_are_ignored(
    fake: FakeDiscord, dapp: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked_core = spy(monkeypatch, dapp.core, "ask")
    async with running_discord(dapp):
        fake.message_create("echo of myself", author_id=fake.bot_id)
        fake.message_create(GOLD, author_id=OTHER_BOT_ID, author_is_bot=True)
        fake.message_create("plain chatter, no mention", mentions_bot=False)
        asked = fake.message_create(GOLD)
        await fake.wait_for_message(replies_to(asked), timeout=10)
        await asyncio.sleep(0.2)  # the bot's own reply echoes back too; let it be seen

        assert [q.text for q in asked_core] == [GOLD]
        posts = channel_posts(fake)
        assert len(posts) == 1


async def test_help_by_mention_and_by_command(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        asked = fake.message_create("help")
        reply = await fake.wait_for_message(replies_to(asked))
        help_text = dapp.chat.help_text("discord")
        assert reply["content"] == help_text
        assert "`/ask question: private:` — Ask about the partner program" in help_text
        assert "`/comms cancel id:`" in help_text
        assert message("help_follow_up_mention") in help_text  # no message-content intent

        event = fake.interaction_create("help")
        [callback] = await fake.wait_for(("POST", CALLBACK))
        [hook] = await fake.wait_for(webhook(fake, event))
        assert callback.json["type"] == 5 and callback.json["data"]["flags"] == EPHEMERAL
        assert hook.json["content"] == help_text


# -- slash commands ------------------------------------------------------------------------------


async def test_slash_ask_defers_then_follows_up_with_the_answer(
    fake: FakeDiscord, dapp: App
) -> None:
    async with running_discord(dapp):
        event = fake.interaction_create("ask", {"question": GOLD})
        [callback] = await fake.wait_for(("POST", CALLBACK))
        [hook] = await fake.wait_for(webhook(fake, event), timeout=10)

        assert callback.status == 200
        assert callback.json["type"] == 5  # deferred: "partnerbot is thinking…"
        assert not (callback.json.get("data") or {}).get("flags")
        assert fake.requests.index(callback) < fake.requests.index(hook)
        [embed] = hook.json["embeds"]
        assert embed["fields"][0]["name"].startswith("[1] Customer Satisfaction")
        assert CSAT_URL in field_urls([embed])
        assert hook.json["components"][0]["components"][0]["custom_id"].startswith("feedback:up:")
        assert not hook.json.get("flags")


async def test_slash_ask_private_answer_is_ephemeral(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        event = fake.interaction_create("ask", {"question": GOLD, "private": True})
        [callback] = await fake.wait_for(("POST", CALLBACK))
        [hook] = await fake.wait_for(webhook(fake, event), timeout=10)
        assert callback.json["data"]["flags"] == EPHEMERAL
        assert hook.json["flags"] == EPHEMERAL


@pytest.mark.parametrize("admin_by", ["role", "user id"])
async def test_reindex_by_admin(
    fake: FakeDiscord,
    make_app: Callable[..., App],
    monkeypatch: pytest.MonkeyPatch,
    admin_by: str,
) -> None:
    extra = {"DISCORD_ADMIN_USER_IDS": str(fake.user_id)} if admin_by == "user id" else {}
    app = make_app(**discord_settings(fake, **extra))
    runs = spy(monkeypatch, app.core, "reindex")
    roles = [fake.admin_role_id] if admin_by == "role" else [fake.partner_role_id]
    async with running_discord(app):
        event = fake.interaction_create("reindex", user_id=fake.user_id, role_ids=roles)
        [callback] = await fake.wait_for(("POST", CALLBACK))
        [hook] = await fake.wait_for(webhook(fake, event), timeout=10)

    assert callback.json["type"] == 5 and callback.json["data"]["flags"] == EPHEMERAL
    assert len(runs) == 1
    assert re.fullmatch(
        r"Re-index finished: 0 added, 0 updated, 0 removed, \d+ unchanged, 0 failed "
        r"\(0 chunks embedded\)\.",
        hook.json["content"],
    ), hook.json["content"]
    assert hook.json["flags"] == EPHEMERAL


async def test_reindex_by_others_is_refused_privately_and_nothing_reindexed(
    fake: FakeDiscord,
    dapp: App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = spy(monkeypatch, dapp.core, "reindex")
    caplog.set_level(logging.INFO)
    async with running_discord(dapp):
        event = fake.interaction_create(
            "reindex", user_id=fake.user_id, role_ids=[fake.partner_role_id]
        )
        [hook] = await fake.wait_for(webhook(fake, event))

    assert runs == []
    assert hook.json["content"] == message("not_admin", action="re-index the documents")
    assert hook.json["flags"] == EPHEMERAL
    [callback] = fake.interaction_responses()
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert f"refused admin action 're-index the documents' for discord:{fake.user_id}" in (
        caplog.text
    )


@pytest.mark.parametrize("admin", [True, False], ids=["admin", "partner"])
async def test_comms_and_changes_admin_commands(
    fake: FakeDiscord, make_app: Callable[..., App], admin: bool
) -> None:
    channels = f"discord:{fake.partner_channel_id}"
    dapp = make_app(**discord_settings(fake, PARTNERBOT_CHANGES_CHANNELS=channels))
    roles = [fake.admin_role_id] if admin else [fake.partner_role_id]
    expected_list = (
        message("comms_none") if admin else message("not_admin", action="list communications")
    )
    async with running_discord(dapp):
        names = {c["name"]: c for c in fake.commands()}
        assert [o["name"] for o in names["comms"]["options"]] == ["list", "status", "cancel"]
        assert [o["name"] for o in names["changes"]["options"]] == ["publish", "preview"]

        listed = fake.interaction_create(
            "comms", [{"name": "list", "type": 1, "options": []}], fake.user_id, roles
        )
        [hook] = await fake.wait_for(webhook(fake, listed))
        assert hook.json["content"] == expected_list
        assert hook.json["flags"] == EPHEMERAL

        published = fake.interaction_create(
            "changes", [{"name": "publish", "type": 1, "options": []}], fake.user_id, roles
        )
        [hook] = await fake.wait_for(webhook(fake, published))
    if admin:
        assert hook.json["content"] == message("changes_nothing_to_publish")
    else:
        assert hook.json["content"] == message(
            "not_admin", action="publish the program-change digest"
        )
        assert expected_list == message("not_admin", action="list communications")


# -- feedback buttons ----------------------------------------------------------------------------


async def _answer_with_buttons(fake: FakeDiscord) -> tuple[dict[str, Any], str]:
    asked = fake.message_create(GOLD)
    reply = await fake.wait_for_message(replies_to(asked), timeout=10)
    up = reply["components"][0]["components"][0]["custom_id"]
    return reply, up


async def test_feedback_click_is_stored(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        reply, up = await _answer_with_buttons(fake)
        down = up.replace(":up:", ":down:")
        click = fake.component_click(down, message_id=int(reply["id"]))
        [callback] = await fake.wait_for(("POST", CALLBACK))
        [hook] = await fake.wait_for(webhook(fake, click))

    assert callback.json["type"] == 5 and callback.json["data"]["flags"] == EPHEMERAL
    assert hook.json["content"] == message("feedback_thanks_down")
    [row] = dapp.store.interactions.feedback()
    assert (row.rating, row.platform, row.user) == (-1, "discord", str(fake.user_id))
    assert row.question == GOLD


async def test_feedback_click_after_a_restart_still_works(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        reply, up = await _answer_with_buttons(fake)

    # A new process: a fresh core over the same data directory, a fresh client.
    restarted = App(dapp.settings, registry=dapp.registry)
    try:
        async with running_discord(restarted):
            click = fake.component_click(up, message_id=int(reply["id"]))
            [hook] = await fake.wait_for(webhook(fake, click))
        assert hook.json["content"] == message("feedback_thanks_up")
        assert [r.rating for r in restarted.store.interactions.feedback()] == [1]
        assert len(fake.identify_payloads) == 2
    finally:
        restarted.close()


# -- reliability ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "invalidate"),
    [(4000, False), (None, False), (4000, True)],
    ids=["close-resume", "tcp-abort-resume", "resume-refused-reidentify"],
)
async def test_gateway_drop_reconnects_and_answers_the_next_mention(
    fake: FakeDiscord,
    dapp: App,
    monkeypatch: pytest.MonkeyPatch,
    code: int | None,
    invalidate: bool,
) -> None:
    async def no_identify_delay(self: Any, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a repeat IDENTIFY (a real-Discord rate limit)."""

    monkeypatch.setattr(Client, "before_identify_hook", no_identify_delay)
    async with running_discord(dapp):
        if invalidate:
            fake.invalidate_next_resume()
        assert fake.drop_connection(code) == 1
        if invalidate:
            await fake.wait_for_ready(2)
        else:
            await fake.wait_for_resume()

        asked = fake.message_create(GOLD)
        reply = await fake.wait_for_message(replies_to(asked), timeout=10)
        assert CSAT_URL in field_urls(reply["embeds"])
        assert len(fake.resume_payloads) == 1


async def test_rest_429_is_honoured(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        fake.rate_limit_next(MESSAGES, retry_after=0.3, method="POST")
        asked = fake.message_create(GOLD)
        await fake.wait_for_message(replies_to(asked), timeout=10)
        posts = channel_posts(fake)
        assert [r.status for r in posts] == [429, 200]


def _assert_no_leak(fake: FakeDiscord, caplog: pytest.LogCaptureFixture) -> None:
    assert TOKEN not in caplog.text
    for msg in fake.bot_messages():
        shown = str(msg.get("content")) + str(msg.get("embeds"))
        assert TOKEN not in shown and "Traceback" not in shown


async def test_failure_inside_the_core_gets_an_apology_without_traceback_or_token(
    fake: FakeDiscord,
    dapp: App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def explode(question: Question) -> Answer:
        raise RuntimeError("the index exploded")

    monkeypatch.setattr(dapp.core.answerer, "answer", explode)
    async with running_discord(dapp):
        asked = fake.message_create(GOLD)
        reply = await fake.wait_for_message(replies_to(asked), timeout=10)
    assert reply["content"] == message("apology")
    assert reply["embeds"] == [] and reply["components"] == []
    assert "the index exploded" in caplog.text  # logged for the operator, with traceback
    _assert_no_leak(fake, caplog)


async def test_failure_in_the_adapter_path_gets_an_apology_too(
    fake: FakeDiscord,
    dapp: App,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def explode(question: Question) -> Answer:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(dapp.core, "ask", explode)
    async with running_discord(dapp):
        asked = fake.message_create(GOLD)
        reply = await fake.wait_for_message(replies_to(asked), timeout=10)
        event = fake.interaction_create("ask", {"question": GOLD})
        hooks = await fake.wait_for(webhook(fake, event))
    assert reply["content"] == message("apology")
    assert [h.json["content"] for h in hooks] == [message("apology")]
    assert hooks[0].json["flags"] == EPHEMERAL
    _assert_no_leak(fake, caplog)


# -- long answers --------------------------------------------------------------------------------


def long_answer(words: int = 3000) -> Answer:
    """About `words` words in sentences ending with citations, some grouped: '[1, 2]'."""
    sentences = []
    count = 0
    n = 0
    while count < words:
        size = 9 + n % 7
        body = " ".join(f"requirement{n}w{i}" for i in range(size))
        marker = "[1, 2]" if n % 5 == 0 else f"[{n % 3 + 1}]"
        sentences.append(f"{body.capitalize()}. {marker}")
        count += size
        n += 1
    paragraphs = [" ".join(sentences[i : i + 40]) for i in range(0, len(sentences), 40)]
    cites = tuple(
        Citation(
            number=i,
            title=f"Program guide {i}",
            section=f"Part {i}",
            path=f"guide-{i}.md",
            url=f"https://partners.example/guide-{i}",
            effective_date=date(2026, 7, i),
        )
        for i in (1, 2, 3)
    )
    return Answer(
        text="\n\n".join(paragraphs),
        citations=cites,
        as_of=date(2026, 7, 3),
        interaction_id=4242,
        question="everything?",
    )


def _assert_split_cleanly(payloads: list[dict[str, Any]], answer: Answer) -> None:
    assert len(payloads) >= 4
    descriptions = []
    for body in payloads:
        embeds = body["embeds"]
        assert 1 <= len(embeds) <= EMBEDS_PER_MESSAGE
        assert sum(embed_size(e) for e in embeds) <= EMBED_TOTAL_LIMIT
        for embed in embeds:
            assert len(embed.get("fields", [])) <= FIELDS_PER_EMBED
            if "description" in embed:
                text = embed["description"]
                assert len(text) <= DESCRIPTION_LIMIT
                assert not CITATION.sub("", text).count("[")  # no citation cut open
                assert not CITATION.sub("", text).count("]")
                assert not text.startswith("[")  # a citation stays with its sentence
                descriptions.append(text)
    # Every word arrives whole and in order.
    assert " ".join(descriptions).split() == answer.text.split()
    # Sources, date and buttons come once, at the end.
    assert [f["name"] for f in payloads[-1]["embeds"][-1]["fields"]] == [
        "[1] Program guide 1",
        "[2] Program guide 2",
        "[3] Program guide 3",
    ]
    assert payloads[-1]["embeds"][-1]["footer"]["text"] == "as of 2026-07-03"
    assert [b["custom_id"] for b in payloads[-1]["components"][0]["components"]] == [
        "feedback:up:4242",
        "feedback:down:4242",
    ]
    assert all(not body.get("components") for body in payloads[:-1])


@pytest.mark.parametrize("via", ["mention", "slash"])
async def test_a_3000_word_answer_is_split_within_limits(
    fake: FakeDiscord, dapp: App, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    answer = long_answer()
    assert len(answer.text.split()) >= 3000 and len(answer.text) > 4 * DESCRIPTION_LIMIT
    monkeypatch.setattr(dapp.core, "ask", lambda q: replace(answer, question=q.text))
    async with running_discord(dapp):
        if via == "mention":
            asked = fake.message_create("tell me everything")
            first = await fake.wait_for_message(replies_to(asked))
            await fake.wait_for(("POST", rf"/messages/{first['id']}/threads$"))
            posts = channel_posts(fake)
            assert posts[0].json["message_reference"]["message_id"] == int(asked["id"])
        else:
            event = fake.interaction_create("ask", {"question": "tell me everything"})
            await fake.wait_until(
                lambda: any(
                    (r.json or {}).get("components")
                    for r in fake.requests
                    if "/webhooks/" in r.path
                ),
                describe="the last follow-up",
            )
            posts = [r for r in fake.requests if re.search(webhook(fake, event)[1], r.path)]
    assert all(r.status == 200 for r in posts)
    _assert_split_cleanly([r.json for r in posts], answer)


# -- benchmark helper ----------------------------------------------------------------------------


async def test_concurrent_asks_harness_measures_ack_and_answer(
    fake: FakeDiscord, dapp: App
) -> None:
    result = await run_concurrent_asks(dapp, fake, n=8)
    assert result["n"] == 8 and len(result["ack_ms"]) == len(result["answer_ms"]) == 8
    assert result["deferred"] == 8 and result["rejected_callbacks"] == 0
    assert result["answers_with_sources"] == 8
    assert 0 < result["ack_p99_ms"] < 3000
    assert all(a < b for a, b in zip(result["ack_ms"], result["answer_ms"], strict=True))


# -- edge defects --------------------------------------------------------------------------------


async def test_a_503_on_send_is_retried(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp):
        fake.fail_next(MESSAGES, status=503, method="POST", times=2)
        asked = fake.message_create(GOLD)
        reply = await fake.wait_for_message(replies_to(asked), timeout=15)
    posts = channel_posts(fake)
    assert [r.status for r in posts[:3]] == [503, 503, 200]
    assert CSAT_URL in field_urls(reply["embeds"])


async def test_a_missing_permission_is_logged_once_naming_it_and_the_channel(
    fake: FakeDiscord, dapp: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_discord(dapp):
        fake.fail_next(MESSAGES, status=403, code=50013, message="Missing Permissions", times=6)

        def refused() -> int:
            return len([r for r in fake.requests if r.status == 403])

        for count in (1, 2):  # each answer is refused (an apology would be too: not tried)
            fake.message_create(GOLD)
            await fake.wait_until(lambda: refused() >= count, timeout=10)  # noqa: B023
    lines = [r.getMessage() for r in caplog.records if "missing permission" in r.getMessage()]
    assert lines == [
        f"discord: missing permission send_messages_in_threads, create_public_threads, "
        f"embed_links in #general ({fake.channel_id})"
    ]  # the fake's @everyone role allows view, send and history only
    # Found 9: no traceback, nor an error per message, for a refusal already named once.
    assert "Traceback" not in caplog.text and all(r.exc_info is None for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_first_message_in_a_thread_says_to_mention_the_bot_without_the_intent(
    fake: FakeDiscord, make_app: Callable[..., App]
) -> None:
    for intent in (False, True):
        app = make_app(**discord_settings(fake, DISCORD_MESSAGE_CONTENT_INTENT=str(intent).lower()))
        async with running_discord(app):
            asked = fake.message_create(GOLD)
            answer = await fake.wait_for_message(replies_to(asked), timeout=10)
            await fake.wait_for(("POST", rf"/messages/{answer['id']}/threads$"))
            if not intent:
                hint = await fake.wait_for_message(
                    lambda m: True, channel_id=int(answer["id"]), timeout=10
                )
                assert hint["content"] == message("thread_mention_hint")
            else:
                await asyncio.sleep(0.3)
                assert fake.bot_messages(int(answer["id"])) == []


async def test_with_the_content_intent_thanks_in_the_thread_is_not_answered(
    fake: FakeDiscord, make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(**discord_settings(fake, DISCORD_MESSAGE_CONTENT_INTENT="true"))
    asked_core = spy(monkeypatch, app.core, "ask")
    async with running_discord(app) as platform:
        first = fake.message_create(GOLD)
        answer = await fake.wait_for_message(replies_to(first), timeout=10)
        thread_id = int(answer["id"])
        client = platform.client
        assert client is not None
        await fake.wait_until(lambda: client.get_channel(thread_id), describe="thread cached")
        fake.message_create("thanks!", channel_id=thread_id, mentions_bot=False)
        follow = fake.message_create(FOLLOW_UP, channel_id=thread_id, mentions_bot=False)
        await fake.wait_for_message(replies_to(follow), channel_id=thread_id, timeout=10)
    assert [q.text for q in asked_core] == [GOLD, FOLLOW_UP]


async def test_start_up_configuration_errors_say_what_to_fix(
    fake: FakeDiscord, make_app: Callable[..., App]
) -> None:
    from bot.errors import ConfigError

    wrong = make_app(DISCORD_BOT_TOKEN="not-the-token")
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN was rejected by Discord"):
        async with running_discord(wrong):
            pass
    fake.content_intent = False
    intent = make_app(**discord_settings(fake, DISCORD_MESSAGE_CONTENT_INTENT="true"))
    with pytest.raises(ConfigError, match="the Message Content intent is not enabled"):
        async with running_discord(intent):
            pass
    from bot.config import load_settings

    with pytest.raises(
        ConfigError, match=r"DISCORD_GUILD_IDS='general': .*numeric .* not an id: 'general'"
    ):
        load_settings(**discord_settings(fake, DISCORD_GUILD_IDS="general"))
