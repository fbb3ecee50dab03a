"""Discord on discord.py: mentions, DMs, thread follow-ups, slash commands and buttons,
translated for the chat service (bot/chat/service.py).

Without the privileged message-content intent Discord still delivers mentions, DMs and
replies to the bot; follow-ups in its threads then need a mention, and the bot says so
in each thread it starts. With DISCORD_MESSAGE_CONTENT_INTENT=true they do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, TypeVar

import discord
from discord import app_commands

from adapters.discord import history
from adapters.discord.poster import DiscordPoster
from adapters.discord.render import Kwargs, PersistentButton, render, render_text, thread_name
from bot.chat.service import ButtonUI, ChatService, PlatformTraits
from bot.commands import Command
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Actor, ButtonClick, ChatMessage, CommandCall, Conversation, Place, Reply
from bot.platform import PlatformBase, retrying
from bot.prompts import message

logger = logging.getLogger(__name__)

# The permissions the bot needs in a channel (named when Discord refuses a call there).
NEEDED = (
    "view_channel",
    "send_messages",
    "send_messages_in_threads",
    "create_public_threads",
    "embed_links",
    "read_message_history",
)
Interaction = discord.Interaction[Any]
T = TypeVar("T")
# The bot never joins voice: no warnings about voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class DiscordPlatform(PlatformBase):
    name = "discord"

    def __init__(self, chat: ChatService, settings: Settings, *, token: str, **options: Any):
        super().__init__(chat, settings, listen=options.pop("listen", True))
        self.token = token
        self.ready_timeout = options.pop("ready_timeout", 10.0)
        self.options = options  # for the discord.py client (e.g. guild_ready_timeout)
        self.hears_unmentioned = settings.discord_message_content
        chat.add_platform(self.name, PlatformTraits(usage, self.hears_unmentioned))
        self.client: Client | None = None
        self.gateway: asyncio.Task[None] | None = None
        self.poster = DiscordPoster(lambda: self.client, self.call)

    async def connect(self) -> None:
        """Log in (bad token: ConfigError), connect; return once ready or after `ready_timeout`."""
        client = Client(self, **self.options)
        self.client = client
        try:
            await client.login(self.token)
        except BaseException as e:
            await client.close()  # (its HTTP session)
            if isinstance(e, discord.LoginFailure):
                raise ConfigError(message("config_discord_token_rejected")) from None
            raise
        if self.listen:
            gateway = asyncio.create_task(client.connect(reconnect=True))
            self.gateway = gateway
            ready = asyncio.create_task(client.wait_until_ready())
            await asyncio.wait(
                {ready, gateway}, timeout=self.ready_timeout, return_when="FIRST_COMPLETED"
            )
            ready.cancel()
            error = gateway.exception() if gateway.done() else None
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise ConfigError(message("config_discord_intent"))
            gateway.add_done_callback(_log_exit)
            self.connected = True  # and ready while the gateway is (`link_up`)

    def link_up(self) -> bool:
        """Connected to the gateway now (discord.py reconnects by itself)."""
        client = self.client
        if client is None or not client.is_ready() or client.ws is None:
            return False
        return bool(client.ws.open)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.gateway is not None:
            self.gateway.cancel()
            await asyncio.gather(self.gateway, return_exceptions=True)
        self.client = None
        self.gateway = None

    def actor(self, user: discord.abc.User, guild: discord.Guild | None) -> Actor:
        """Who did something: an admin by user id or by one of their roles."""
        roles = frozenset(str(r.id) for r in getattr(user, "roles", ()))
        admin_users = self.settings.discord_admin_user_ids
        admin_roles = self.settings.discord_admin_role_ids
        admin = str(user.id) in admin_users or not roles.isdisjoint(admin_roles)
        team = str(guild.id) if guild else None
        return Actor(self.name, str(user.id), admin, team, roles)

    async def call(self, channel: Any, make: Callable[[], Awaitable[T]]) -> T:
        """A REST call for `channel`: a 503 is retried (discord.py retries 500/502/504 itself);
        a refusal is logged once per channel, naming the permissions the bot lacks there."""
        try:
            return await retrying(make, transient=lambda e: getattr(e, "status", 0) == 503)
        except discord.Forbidden:
            guild = getattr(channel, "guild", None)
            perms = channel.permissions_for(guild.me) if guild and guild.me else None
            missing = ", ".join(p for p in NEEDED if perms and not getattr(perms, p))
            where = f"#{channel} ({getattr(channel, 'id', '?')})"
            self.log_refusal(where, f"missing permission {missing or '(unknown)'}")
            raise

    async def send(self, channel: Any, messages: list[Kwargs], reference: Any = None) -> list[Any]:
        """Send rendered messages in order; the first one replies to `reference`."""
        if reference is not None:
            first = {**messages[0], "reference": reference.to_reference(fail_if_not_exists=False)}
            messages = [first, *messages[1:]]
        return [await self.call(channel, partial(channel.send, **kwargs)) for kwargs in messages]

    async def on_message(self, msg: discord.Message, me: discord.ClientUser) -> None:
        self.inflight.track()
        text = history.strip_mention(msg.content, me.id)
        place = Place(str(msg.channel.id))
        actor = self.actor(msg.author, msg.guild)
        addressed = history.mentioned(msg, me)
        incoming = ChatMessage(text, actor, place, str(msg.id), addressed, msg.guild is None)

        async def send(reply: Reply) -> Place | None:
            sent = await self.send(msg.channel, render(reply), msg)
            if history.is_bot_thread(msg.channel, me):
                return place
            answered = reply.answer is not None and reply.answer.kind == "answer"
            if not answered:
                return None
            thread = await self.thread_on(sent[0], text)
            if thread is None:
                return None
            hint = self.chat.follow_up_hint(self.name)
            if hint:  # (its first message in the thread)
                await self.send(thread, render_text(hint))
            return Place(str(thread.id))

        async def earlier() -> Conversation:
            return await history.conversation(msg, me)

        def working() -> AbstractAsyncContextManager[None]:  # "partnerbot is typing…"
            return msg.channel.typing()

        await self.chat.respond(incoming, send=send, earlier=earlier, working=working)

    async def thread_on(self, msg: discord.Message, title: str) -> discord.Thread | None:
        """The thread on a message in a text channel: opened now or by an earlier click
        (None elsewhere, or if Discord refuses: replies to the message keep the context)."""
        if not isinstance(msg.channel, discord.TextChannel) or msg.thread is not None:
            return msg.thread
        try:
            return await self.call(msg.channel, lambda: msg.create_thread(name=thread_name(title)))
        except discord.HTTPException as e:
            if e.code != 160004:  # (160004: "A thread has already been created for this message")
                logger.info("could not open a thread on message %s: %s", msg.id, e)
                return None
        found = await msg.channel.guild.fetch_channel(msg.id)  # the thread shares the id
        return found if isinstance(found, discord.Thread) else None

    def install(self, tree: app_commands.CommandTree[Any]) -> None:
        """The command table as slash commands: "comms cancel" is /comms → cancel."""
        for command in (c for c in self.chat.commands if c.group is None):
            tree.add_command(self.slash(command))
        for name, members in self.chat.commands.groups().items():
            group = app_commands.Group(name=name, description=name)
            tree.add_command(group)
            for command in members:
                group.add_command(self.slash(command))

    def slash(self, command: Command) -> app_commands.Command[Any, ..., None]:
        """A callback whose signature carries the command's parameters (discord.py reads it)."""
        public = any(p.name == "private" for p in command.params)  # /ask: public unless private

        async def callback(interaction: Interaction, **values: Any) -> None:
            self.inflight.track()
            private = not public or bool(values.get("private"))
            await interaction.response.defer(thinking=True, ephemeral=private)
            args = {k: v for k, v in values.items() if v not in (None, False, "")}
            actor = self.actor(interaction.user, interaction.guild)
            place = Place(str(interaction.channel_id))
            reply = await self.chat.run(command, CommandCall(command.name, actor, args, place))
            await followups(interaction, render(reply), private=private or reply.private)

        first = inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        callback.__signature__ = command.signature(first)  # type: ignore[attr-defined]
        app_commands.describe(**{p.name: p.description[:100] for p in command.params})(callback)
        return app_commands.Command(
            name=command.leaf, description=command.description[:100], callback=callback
        )

    async def on_button(self, interaction: Interaction, action: str, value: str) -> None:
        self.inflight.track()
        if not interaction.response.is_done():  # ack at once, privately; the reply follows
            await interaction.response.defer(ephemeral=True, thinking=True)
        notice = interaction.message
        actor = self.actor(interaction.user, interaction.guild)
        clicked = str(notice.id) if notice else None
        click = ButtonClick(action, value, actor, str(interaction.channel_id), clicked)
        opened: list[discord.Thread] = []

        async def private(text: str) -> None:
            await followups(interaction, render_text(text), private=True)

        async def thread() -> Place | None:
            if notice is None:
                return None
            title = (notice.embeds[0].title or "") if notice.embeds else ""
            found = await self.thread_on(notice, title)
            opened[:] = [found] if found else []
            return Place(str(found.id)) if found else None

        async def post(place: Place, text: str) -> None:
            await self.send(opened[0], render_text(text))

        async def pointed(place: Place, first: bool) -> None:
            await private(message("discord_ask_in_thread", thread=f"<#{place.channel}>"))

        await self.chat.press(click, ButtonUI(private, thread=thread, post=post, pointed=pointed))


def usage(command: Command) -> str:  # "`/comms cancel id:`"
    return f"`/{' '.join([command.name, *(f'{p.name}:' for p in command.params)])}`"


async def followups(interaction: Interaction, messages: list[Kwargs], *, private: bool) -> None:
    """Rendered messages as interaction follow-ups (the first replaces "thinking…")."""
    for kwargs in messages:
        await interaction.followup.send(**kwargs, ephemeral=private, wait=True)


def _log_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the Discord client stopped: %r", task.exception())


class Client(discord.Client):
    """discord.py's client, holding the platform (composition, not inheritance of the core)."""

    def __init__(self, platform: DiscordPlatform, *, guild_ready_timeout: float = 2.0) -> None:
        intents = discord.Intents.default()  # no privileged intents …
        intents.message_content = platform.hears_unmentioned  # … unless asked for
        super().__init__(
            intents=intents,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=discord.AllowedMentions.none(),  # document text never pings anyone
        )
        self.platform = platform
        self.tree: app_commands.CommandTree[Client] = app_commands.CommandTree(self)
        self.tree.error(self.on_command_error)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(PersistentButton)  # buttons keep working across restarts
        if not self.platform.listen:
            return
        self.platform.install(self.tree)
        ids = self.platform.settings.discord_guild_ids
        guilds: list[discord.Object | None] = [discord.Object(id=int(g)) for g in ids]
        try:  # per configured guild (instant), else globally (can take an hour)
            for guild in guilds or [None]:
                if guild is not None:
                    self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                logger.info("synced %d slash commands to %s", len(synced), guild or "all guilds")
        except discord.HTTPException as e:  # mentions and DMs still work
            logger.error(message("discord_commands_not_synced", error=e))

    async def on_message(self, msg: discord.Message) -> None:
        if self.user is not None and history.is_addressed(msg, self.user):
            await self.platform.on_message(msg, self.user)

    async def on_command_error(self, interaction: Interaction, error: Exception) -> None:
        logger.error("slash command %s failed", interaction.command, exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            await interaction.followup.send(message("apology"), ephemeral=True)
