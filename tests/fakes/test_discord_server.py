"""Real discord.py against FakeDiscord: proves the stand-in is faithful enough to test on."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord_server import FakeDiscord, FakeDiscordTimeout, fake_discord

pytestmark = pytest.mark.asyncio

MESSAGES = r"^/channels/\d+/messages$"


class ProbeClient(discord.Client):
    """A plain discord.Client with a command tree that records what it saw."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        # guild_ready_timeout: on_ready fires this long after the last GUILD_CREATE (default 2s).
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.ready_count = 0
        self.ready = asyncio.Event()
        self.seen: list[discord.Message] = []
        self.sync_commands = False

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5s before every non-initial IDENTIFY; skip that in tests."""

    async def setup_hook(self) -> None:
        if self.sync_commands:
            await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready_count += 1
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)
        if message.author.bot or self.user is None or self.user not in message.mentions:
            return
        embed = discord.Embed(title="Answer", description=f"You asked: {message.content}")
        embed.set_footer(text=f"q:{message.id}")
        await message.reply(embed=embed)


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    """A started, patched FakeDiscord; afterwards no fake or heartbeat thread may survive."""
    with fake_discord() as server:
        yield server
    assert Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        leaked = [
            t.name
            for t in threading.enumerate()
            if t.name == "fake-discord" or t.name.startswith("keep-alive-handler")
        ]
        if not leaked:
            break
        time.sleep(0.02)
    assert not leaked, f"leaked threads: {leaked}"


@contextlib.asynccontextmanager
async def running(client: ProbeClient, fake: FakeDiscord) -> AsyncIterator[ProbeClient]:
    """Start the client, wait for on_ready, and always close it cleanly."""
    task = asyncio.create_task(client.start(fake.token or "any-token"))
    ready = asyncio.create_task(client.ready.wait())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises what went wrong
            raise AssertionError("client stopped before on_ready")
        if ready not in done:
            raise AssertionError(f"on_ready never fired\n{fake.describe()}")
        yield client
    finally:
        ready.cancel()
        # Let in-flight handler requests (e.g. a reply the fake already stored) finish first.
        await asyncio.sleep(0.05)
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


def channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    found = client.get_channel(channel_id)
    assert isinstance(found, discord.TextChannel)
    return found


# 1 ---------------------------------------------------------------------------------------------


async def test_login_identify_and_ready(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        [identify] = fake.identify_payloads
        assert identify["token"] == fake.token
        assert identify["intents"] == client.intents.value
        assert identify["intents"] & (1 << 15)  # MESSAGE_CONTENT
        assert client.ready_count == 1
        assert client.user is not None and client.user.id == fake.bot_id and client.user.bot
        assert client.application_id == fake.application_id

        guild = client.get_guild(fake.guild_id)
        assert guild is not None and guild.name == "Partner Community"
        assert {c.name for c in guild.text_channels} == {"general", "partner-news"}
        admin = guild.get_role(fake.admin_role_id)
        assert admin is not None and admin.name == "admin" and admin.permissions.administrator
        assert guild.owner_id == fake.admin_user_id

        paths = [(r.method, r.path) for r in fake.requests]
        assert ("GET", "/users/@me") in paths
        assert ("GET", "/oauth2/applications/@me") in paths
        assert fake.requests[0].headers["Authorization"] == f"Bot {fake.token}"


async def test_wrong_token_fails_login(fake: FakeDiscord) -> None:
    client = ProbeClient()
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()


# 2 ---------------------------------------------------------------------------------------------


async def test_mention_gets_embed_reply(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        asked = fake.message_create("which tiers exist?")
        [post] = await fake.wait_for(("POST", MESSAGES))
        assert post.headers["Content-Type"] == "application/json"

        reply = await fake.wait_for_message(channel_id=fake.channel_id)
        assert reply["embeds"][0]["title"] == "Answer"
        assert reply["embeds"][0]["footer"]["text"] == f"q:{asked['id']}"
        assert reply["message_reference"]["message_id"] == asked["id"]
        assert reply["referenced_message"]["id"] == asked["id"]
        assert reply["type"] == 19

        # The bot also receives its own message back (Discord echoes it) and ignores it.
        await fake.wait_until(lambda: any(m.author.bot for m in client.seen), describe="echo")
        assert len(fake.bot_messages()) == 1

        # History (newest first) is what reconciliation reads after a restart.
        history = [m async for m in channel(client, fake.channel_id).history(limit=10)]
        assert [m.id for m in history] == [int(reply["id"]), int(asked["id"])]
        assert history[0].embeds[0].footer.text == f"q:{asked['id']}"


async def test_nonce_and_history(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        general = channel(client, fake.channel_id)
        sent = await general.send("notice", nonce="notice-42")
        assert sent.nonce == "notice-42"
        [stored] = fake.bot_messages(fake.channel_id)
        assert stored["nonce"] == "notice-42"
        later = await general.send("another")
        history = [m.id async for m in general.history(limit=10)]
        assert history == [later.id, sent.id]  # newest first


# 3 ---------------------------------------------------------------------------------------------


async def test_slash_command_defer_then_followup(fake: FakeDiscord) -> None:
    client = ProbeClient()
    client.sync_commands = True
    seen: dict[str, Any] = {}

    @client.tree.command(name="ask", description="Ask the partner bot")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        assert isinstance(interaction.user, discord.Member)
        seen["roles"] = [r.name for r in interaction.user.roles]
        seen["admin"] = interaction.permissions.administrator
        callback = await interaction.response.defer(thinking=True)
        seen["thinking"] = callback.is_thinking() if callback else None
        followup = await interaction.followup.send(f"answer to: {question}", wait=True)
        seen["followup_id"] = followup.id

    async with running(client, fake):
        [command] = fake.commands()
        assert command["name"] == "ask" and command["options"][0]["name"] == "question"

        event = fake.interaction_create(
            "ask", {"question": "tiers?"}, user_id=fake.admin_user_id, role_ids=[fake.admin_role_id]
        )
        assert event["data"]["id"] == command["id"]
        [callback] = await fake.wait_for(("POST", r"^/interactions/\d+/[^/]+/callback$"))
        assert callback.json["type"] == 5
        assert callback.query.get("with_response") == "1"
        [hook] = await fake.wait_for(("POST", rf"^/webhooks/{fake.application_id}/[^/]+$"))
        assert hook.json["content"] == "answer to: tiers?"

        messages = fake.bot_messages(fake.channel_id)
        assert [m["content"] for m in messages] == ["", "answer to: tiers?"]
        assert messages[0]["flags"] & 128  # "thinking…" until answered
        assert int(messages[1]["id"]) == seen["followup_id"]
        assert seen["roles"] == ["@everyone", "admin"] and seen["admin"] is True
        assert seen["thinking"] is True


async def test_followup_before_ack_is_rejected(fake: FakeDiscord) -> None:
    client = ProbeClient()
    errors: list[discord.NotFound] = []

    @client.tree.command(name="rude", description="answers without acknowledging")
    async def rude(interaction: discord.Interaction) -> None:
        try:
            await interaction.followup.send("too early")
        except discord.NotFound as exc:
            errors.append(exc)
        await interaction.response.send_message("ok", ephemeral=True)

    async with running(client, fake):
        fake.interaction_create("rude")
        [callback] = await fake.wait_for(("POST", r"/callback$"))
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] == 64
        assert len(errors) == 1 and errors[0].code == 10015
        assert [m for m in fake.bot_messages(fake.channel_id) if not m["flags"] & 64] == []


async def test_button_click_gets_a_private_reply(fake: FakeDiscord) -> None:
    client = ProbeClient()
    clicks: list[str] = []

    class Confirm(discord.ui.View):
        @discord.ui.button(label="Acknowledge", custom_id="ack")
        async def ack(
            self, interaction: discord.Interaction, button: discord.ui.Button[Any]
        ) -> None:
            clicks.append(interaction.user.name)
            await interaction.response.send_message("acknowledged", ephemeral=True)

    async with running(client, fake):
        sent = await channel(client, fake.partner_channel_id).send("Please ack", view=Confirm())
        stored = fake.message(sent.id)
        assert stored["components"][0]["components"][0]["custom_id"] == "ack"

        fake.component_click("ack", message_id=sent.id)
        [callback] = await fake.wait_for(("POST", r"/callback$"))
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] == 64
        assert clicks == ["partner-bob"]
        assert fake.bot_messages(fake.partner_channel_id)[-1]["content"] == "acknowledged"


# 4 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "invalidate"),
    [(4000, False), (None, False), (4000, True)],
    ids=["close-4000-resume", "tcp-abort-resume", "resume-refused-reidentify"],
)
async def test_dropped_gateway_recovers(
    fake: FakeDiscord, code: int | None, invalidate: bool
) -> None:
    client = ProbeClient()
    async with running(client, fake):
        if invalidate:
            fake.invalidate_next_resume()
        assert fake.drop_connection(code) == 1

        if invalidate:
            await fake.wait_for_ready(2)
            assert len(fake.identify_payloads) == 2
        else:
            await fake.wait_for_resume()
            [resume] = fake.resume_payloads
            assert resume["token"] == fake.token and resume["seq"] >= 2
        assert len(fake.resume_payloads) == 1

        asked = fake.message_create("still there?")
        reply = await fake.wait_for_message(
            lambda m: m.get("message_reference", {}).get("message_id") == asked["id"]
        )
        assert reply["embeds"][0]["footer"]["text"] == f"q:{asked['id']}"


async def test_events_sent_while_disconnected_are_delivered(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        fake.drop_connection(None)
        asked = fake.message_create("asked during the outage")
        reply = await fake.wait_for_message()
        assert reply["message_reference"]["message_id"] == asked["id"]


# 5 ---------------------------------------------------------------------------------------------


async def test_rate_limit_is_honoured(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        fake.rate_limit_next(MESSAGES, retry_after=0.3, method="POST")
        started = time.monotonic()
        sent = await channel(client, fake.channel_id).send("after the 429")
        elapsed = time.monotonic() - started

        posts = await fake.wait_for(("POST", MESSAGES), count=2)
        assert [r.status for r in posts] == [429, 200]
        assert elapsed >= 0.3
        assert [m["content"] for m in fake.bot_messages()] == ["after the 429"]
        assert fake.message(sent.id)["content"] == "after the 429"


async def test_injected_errors_surface_as_discord_exceptions(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        general = channel(client, fake.channel_id)
        fake.fail_next(MESSAGES, status=403, code=50013, message="Missing Permissions")
        with pytest.raises(discord.Forbidden) as info:
            await general.send("nope")
        assert info.value.code == 50013

        with pytest.raises(discord.NotFound):
            await client.http.request(Route("GET", "/voice/regions"))
        assert fake.unhandled == ["GET /voice/regions"]


# extras ----------------------------------------------------------------------------------------


async def test_threads_typing_and_dm(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        general = channel(client, fake.channel_id)
        starter = await general.send("Program change: tiers renamed")
        thread = await starter.create_thread(name="Tier rename")
        assert thread.id == starter.id  # Discord reuses the starter message id
        await thread.send("details in here")
        assert [m["content"] for m in fake.bot_messages(thread.id)] == ["details in here"]
        await fake.wait_until(lambda: client.get_channel(thread.id), describe="THREAD_CREATE")

        await general.typing()

        user = await client.fetch_user(fake.user_id)
        dm = await user.send("a direct note")
        assert isinstance(dm.channel, discord.DMChannel)
        assert fake.bot_messages(dm.channel.id)[0]["content"] == "a direct note"


async def test_without_message_content_intent_content_is_blank(fake: FakeDiscord) -> None:
    client = ProbeClient(message_content=False)
    async with running(client, fake):
        fake.message_create("plain chatter", mentions_bot=False)
        fake.message_create("direct question")
        await fake.wait_until(lambda: len(client.seen) >= 2, describe="two messages")
        assert client.seen[0].content == ""
        assert client.seen[1].content == f"<@{fake.bot_id}> direct question"


async def test_wait_for_timeout_lists_what_was_seen(fake: FakeDiscord) -> None:
    client = ProbeClient()
    async with running(client, fake):
        with pytest.raises(FakeDiscordTimeout) as info:
            await fake.wait_for(("DELETE", r"/nothing"), timeout=0.1)
        assert "GET /users/@me -> 200" in str(info.value)


async def test_rest_replies_carry_exact_json_content_type(fake: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{fake.api_base}/users/@me", headers={"Authorization": f"Bot {fake.token}"}
        ) as response,
    ):
        assert response.headers["Content-Type"] == "application/json"
        assert (await response.json())["id"] == str(fake.bot_id)
