"""Partner-channel notices on Discord: the ChannelPoster, its delivery key, and its buttons."""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.poster import footer_for, nonce_for
from bot.app import App
from bot.comms.dispatcher import DispatcherService
from bot.comms.registry import RegisterResult
from bot.errors import PartnerbotError
from bot.models import Notice, NoticeButton
from bot.posting import MeteredPoster
from bot.prompts import message
from tests.adapters.discord_harness import discord_settings, running_discord
from tests.conftest import SAMPLE_DOCS
from tests.fakes.discord_server import FakeDiscord, fake_discord
from tests.scenarios.test_comms import COMM_ID, Clock, before_send, write_comm, write_routes

MESSAGES = r"^/channels/\d+/messages$"
EPHEMERAL = 1 << 6

NOTICE = Notice(
    key="comms:renewal-2026:partner-news:first",
    title="Heads-up: Northwind writes to your small-business customers on 2026-09-01",
    text="**What is sent:** a renewal reminder.\n**Aims:** renewals through their partner.",
    buttons=(
        NoticeButton("acknowledge", "Acknowledge", "d:17"),
        NoticeButton("ask", "Ask about this", "d:17"),
        NoticeButton("ask", "Too long", "x" * 120),  # cannot fit a custom id: left out
    ),
    link="https://partners.northwind.example/comms/renewal-2026",
    fields=(("Sent to", "Small-business customers"), ("When", "2026-09-01 09:00 UTC")),
)


def webhook(fake: FakeDiscord, event: dict[str, Any]) -> tuple[str, str]:
    return ("POST", rf"^/webhooks/{fake.application_id}/{event['token']}$")


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with fake_discord() as server:
        yield server


@pytest.fixture
def dapp(make_app: Callable[..., App], fake: FakeDiscord) -> App:
    return make_app(**discord_settings(fake))


async def test_post_carries_the_key_and_find_locates_it(fake: FakeDiscord, dapp: App) -> None:
    channel = str(fake.partner_channel_id)
    async with running_discord(dapp) as platform:
        poster = platform.poster
        assert poster.platform == "discord"
        assert await asyncio.to_thread(poster.find, channel, NOTICE.key) is None

        message_id = await asyncio.to_thread(poster.post, channel, NOTICE)
        stored = fake.message(int(message_id))
        [embed] = stored["embeds"]
        assert embed["footer"]["text"] == footer_for(NOTICE.key)
        assert embed["title"] == NOTICE.title and embed["url"] == NOTICE.link
        assert [f["name"] for f in embed["fields"]] == ["Sent to", "When"]
        assert stored["nonce"] == nonce_for(NOTICE.key) and len(stored["nonce"]) <= 25
        buttons = [c["custom_id"] for c in stored["components"][0]["components"]]
        assert buttons == ["notice:acknowledge:d:17", "notice:ask:d:17"]

        # Someone else's message quoting the key does not count; the bot's own does.
        fake.message_create(
            "quoting it",
            channel_id=fake.partner_channel_id,
            mentions_bot=False,
            embeds=[{"type": "rich", "footer": {"text": footer_for(NOTICE.key)}}],
        )
        assert await asyncio.to_thread(poster.find, channel, NOTICE.key) == message_id
        assert await asyncio.to_thread(poster.find, channel, "comms:other") is None
        assert await asyncio.to_thread(poster.find, "#partner-news", NOTICE.key) == message_id
        assert await asyncio.to_thread(poster.permalink, channel, message_id) == (
            f"https://discord.com/channels/{fake.guild_id}/{channel}/{message_id}"
        )
        # A notice to one person: in their DM channel, with the same key.
        dm = await asyncio.to_thread(poster.post_direct, str(fake.user_id), NOTICE)
        [sent] = await fake.wait_for(("POST", r"^/users/@me/channels$"))
        assert str(sent.json["recipient_id"]) == str(fake.user_id)
        direct = fake.message(int(dm))
        assert direct["embeds"][0]["footer"]["text"] == footer_for(NOTICE.key)
        assert direct["channel_id"] != channel


async def test_post_honours_a_429(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp) as platform:
        fake.rate_limit_next(MESSAGES, retry_after=0.2, method="POST")
        message_id = await asyncio.to_thread(
            platform.poster.post, str(fake.partner_channel_id), NOTICE
        )
        posts = [r for r in fake.requests if r.method == "POST" and re.search(MESSAGES, r.path)]
        assert [r.status for r in posts] == [429, 200]
        assert fake.message(int(message_id))["embeds"][0]["title"] == NOTICE.title


async def test_poster_errors_are_partnerbot_errors(fake: FakeDiscord, dapp: App) -> None:
    unstarted = dapp.add_platform("discord")
    with pytest.raises(PartnerbotError, match="not connected"):
        unstarted.poster.post("1", NOTICE)
    async with running_discord(dapp) as platform:
        with pytest.raises(PartnerbotError, match="not found"):
            await asyncio.to_thread(platform.poster.post, "#no-such-channel", NOTICE)
        fake.fail_next(MESSAGES, status=403, code=50013, message="Missing Permissions")
        with pytest.raises(PartnerbotError, match="Missing Permissions"):
            await asyncio.to_thread(platform.poster.post, str(fake.partner_channel_id), NOTICE)
        with pytest.raises(PartnerbotError, match="worker thread"):
            platform.poster.find(str(fake.partner_channel_id), NOTICE.key)  # on the loop
        fake.fail_next(MESSAGES, status=503, method="POST")  # retried, then posted
        assert await asyncio.to_thread(platform.poster.post, str(fake.partner_channel_id), NOTICE)


async def test_running_platforms_post_change_digests(fake: FakeDiscord, dapp: App) -> None:
    async with running_discord(dapp) as platform:
        [(name, poster)] = dapp.posters().items()  # (counted for the metrics)
        assert name == "discord" and isinstance(poster, MeteredPoster)
        assert poster.poster is platform.poster


async def _click(fake: FakeDiscord, poster: Any, custom_id: str) -> dict[str, Any]:
    message_id = await asyncio.to_thread(poster.post, str(fake.partner_channel_id), NOTICE)
    click = fake.component_click(custom_id, message_id=int(message_id))
    [hook] = await fake.wait_for(("POST", rf"^/webhooks/{fake.application_id}/{click['token']}$"))
    [callback] = fake.interaction_responses()
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] == EPHEMERAL
    assert hook.json["flags"] == EPHEMERAL
    return dict(hook.json)


async def test_a_notice_button_goes_to_the_feature_that_owns_it(
    fake: FakeDiscord, dapp: App
) -> None:
    async with running_discord(dapp) as platform:
        reply = await _click(fake, platform.poster, "notice:acknowledge:d:17")
    assert reply["content"] == message("comms_button_unknown")  # the comms feature said so


async def test_changes_publish_posts_the_digest_through_the_discord_poster(
    fake: FakeDiscord, make_app: Callable[..., App], tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    csat = docs / "csat-requirement.md"
    csat.write_text(csat.read_text().replace("2027-03-31", "2027-06-30"))
    app = make_app(
        **discord_settings(
            fake,
            PARTNERBOT_DOCS_DIR=str(docs),
            PARTNERBOT_CHANGES_CHANNELS=f"discord:{fake.partner_channel_id}",
        )
    )
    async with running_discord(app):
        event = fake.interaction_create(
            "reindex", user_id=fake.user_id, role_ids=[fake.admin_role_id]
        )
        [hook] = await fake.wait_for(webhook(fake, event), timeout=20)
        assert "1 updated" in hook.json["content"]

        event = fake.interaction_create(
            "changes",
            [{"name": "publish", "type": 1, "options": []}],
            user_id=fake.user_id,
            role_ids=[fake.admin_role_id],
        )
        [hook] = await fake.wait_for(webhook(fake, event), timeout=10)
        [digest] = fake.bot_messages(fake.partner_channel_id)
    assert f"discord:{fake.partner_channel_id}" in hook.json["content"]
    [embed] = digest["embeds"]
    assert embed["footer"]["text"].startswith("partnerbot · changes:")
    assert "2027-06-30" in embed["description"]


async def test_ask_about_this_opens_a_thread_on_the_notice_and_answers_there(
    fake: FakeDiscord,
    make_app: Callable[..., App],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = fake.partner_channel_id
    folder = tmp_path / "comms"
    folder.mkdir()
    routes = {
        "tags": {
            "regions": ["ANZ", "EMEA"],
            "segments": ["smb"],
            "products": ["Northwind Books"],
            "tiers": ["Member", "Advanced"],
        },
        "routes": [{"match": {"regions": ["ANZ"]}, "discord": [str(channel)]}],
    }
    app = make_app(
        **discord_settings(fake), PARTNERBOT_COMMS_ROUTES=str(write_routes(folder, routes))
    )
    app.comms.clock = Clock(before_send(days=2))  # inside the lead window: first notice at once
    assert isinstance(app.comms.add_file(write_comm(folder)), RegisterResult)

    async with running_discord(app):
        [job] = [j for j in app.jobs() if isinstance(j, DispatcherService)]
        dispatcher = job.dispatcher
        report = await asyncio.to_thread(dispatcher.run_once)  # also indexes the communication
        [key] = report.posted
        [notice] = fake.bot_messages(channel)
        assert notice["embeds"][0]["footer"]["text"] == footer_for(key)
        ask_id = notice["components"][0]["components"][1]["custom_id"]
        assert ask_id.startswith("notice:ask:comm:")
        thread_id = int(notice["id"])  # a thread started from a message shares its id

        in_thread = message("discord_ask_in_thread", thread=f"<#{thread_id}>")
        # Two partners click before either thread exists, and the gateway's THREAD_CREATE
        # is late: both try to open the thread, Discord refuses the second, and that
        # click finds the first thread. The introduction is posted once.
        late: list[tuple[str, dict[str, Any], bool]] = []
        emit = fake._emit

        def hold_thread_events(event: str, data: dict[str, Any], *, filtered: bool) -> None:
            if event == "THREAD_CREATE":
                late.append((event, data, filtered))
            else:
                emit(event, data, filtered=filtered)

        monkeypatch.setattr(fake, "_emit", hold_thread_events)
        clicks = [
            fake.component_click(ask_id, message_id=thread_id, user_id=fake.user_id + i)
            for i in range(2)
        ]
        for click in clicks:
            [hook] = await fake.wait_for(webhook(fake, click))
            assert hook.json["flags"] == EPHEMERAL and hook.json["content"] == in_thread
        monkeypatch.setattr(fake, "_emit", emit)
        assert [event for event, _, _ in late] == ["THREAD_CREATE"]
        for event, data, filtered in late:  # delivered late, as the gateway may
            fake._call(functools.partial(emit, event, data, filtered=filtered))
        threads = [r for r in fake.requests if r.path.endswith("/threads")]
        assert sorted(r.status for r in threads) == [201, 400]
        assert {r.path for r in threads} == {f"/channels/{channel}/messages/{thread_id}/threads"}
        assert threads[0].json["name"].startswith("Heads-up: customer email on")
        [intro] = fake.bot_messages(thread_id)
        assert intro["content"].startswith("Ask me anything about “Northwind Books moves")
        # The bot's first message in the thread says how to follow up (no content intent).
        assert intro["content"].endswith(message("thread_mention_hint"))

        # A later click finds the thread on the notice: no new thread.
        click = fake.component_click(ask_id, message_id=thread_id, user_id=fake.user_id + 2)
        [hook] = await fake.wait_for(webhook(fake, click))
        assert hook.json["content"] == in_thread
        assert len([r for r in fake.requests if r.path.endswith("/threads")]) == 2
        assert len(fake.bot_messages(thread_id)) == 1  # still the one introduction

        # A question there is answered about the communication.
        asked = fake.message_create("can a customer switch early?", channel_id=thread_id)
        reply = await fake.wait_for_message(
            lambda m: m.get("message_reference", {}).get("message_id") == asked["id"],
            channel_id=thread_id,
            timeout=30,
        )
    assert reply["embeds"][0]["description"].startswith(
        f"About “Northwind Books moves to per-user licensing on 1 March 2027” (comms/{COMM_ID}):"
    )
    stored = app.store.interactions.get(1)
    assert stored is not None and app.store.interactions.get(2) is None
    assert stored.question == "can a customer switch early?"
    assert f"comms/{COMM_ID}" in {s["path"] for s in stored.sources}
