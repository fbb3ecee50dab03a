"""The Discord client: mentions, DMs, thread follow-ups and slash commands, answered by the core.

Intents: the default intents, without the privileged *message content* intent.
That is enough for everything partnerbot does by default, because Discord still
delivers the text of messages that mention the bot, of DMs, and of the bot's own
messages. Enable it (Developer Portal → Bot → Privileged Gateway Intents → Message
Content, then ``DISCORD_MESSAGE_CONTENT_INTENT=true``) only if members should be
able to follow up in the bot's threads, or reply to its answers, *without*
mentioning it again; without the intent those messages arrive empty and are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.commands import COMMANDS, CommandInstaller, install, reply_kwargs
from adapters.discord.components import DYNAMIC_ITEMS, apologise
from adapters.discord.questions import is_addressed, question_from_message
from adapters.discord.render import Reply, render_answer, thread_name
from bot import prompts
from bot.core import PartnerBot
from bot.models import Answer, Question

logger = logging.getLogger(__name__)

HELP_WORDS = frozenset({"help", "/help", "?"})


def intents_for(message_content: bool) -> discord.Intents:
    intents = discord.Intents.default()  # no privileged intents
    intents.message_content = message_content
    return intents


# partnerbot never joins voice: skip discord.py's start-up warnings about voice libraries.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False


class PartnerbotClient(discord.Client):
    """A discord.py client that holds the core (composition, not inheritance of the core)."""

    def __init__(
        self,
        bot: PartnerBot,
        *,
        guild_ready_timeout: float = 2.0,
        open_threads: bool = True,
        commands: Iterable[CommandInstaller] = COMMANDS,
        **options: Any,
    ) -> None:
        super().__init__(
            intents=intents_for(bot.settings.discord_message_content),
            guild_ready_timeout=guild_ready_timeout,
            # Document text must never ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.bot = bot
        self.open_threads = open_threads
        self.tree: app_commands.CommandTree[PartnerbotClient] = app_commands.CommandTree(self)
        self.tree.error(self._on_command_error)
        self._commands = tuple(commands)
        self.ready = asyncio.Event()

    # -- start-up -----------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        for item in DYNAMIC_ITEMS:
            self.add_dynamic_items(item)  # buttons keep working across restarts
        install(self.tree, self.bot, self._commands)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Register the slash commands: per configured guild (instant), else globally."""
        guild_ids = [int(g) for g in self.bot.settings.discord_guild_ids]
        try:
            if guild_ids:
                for guild_id in guild_ids:
                    guild = discord.Object(id=guild_id)
                    self.tree.copy_global_to(guild=guild)
                    synced = await self.tree.sync(guild=guild)
                    logger.info("synced %d slash commands to guild %s", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                logger.info("synced %d global slash commands", len(synced))
        except discord.HTTPException as e:
            # Mentions and DMs still work; the admin can fix the invite and restart.
            logger.error(
                "could not register slash commands (%s). Invite the bot with the "
                "'applications.commands' scope, or check DISCORD_GUILD_IDS.",
                e,
            )

    async def on_ready(self) -> None:
        logger.info("Discord connected as %s in %d guild(s)", self.user, len(self.guilds))
        self.ready.set()

    # -- messages -----------------------------------------------------------------------------
    async def on_message(self, msg: discord.Message) -> None:
        me = self.user
        if me is None or not is_addressed(msg, me):
            return  # ourselves, other bots, and chatter not meant for us
        try:
            await self.answer_message(msg, me)
        except Exception:
            logger.exception("answering Discord message %s failed", msg.id)
            with contextlib.suppress(discord.HTTPException):
                await msg.channel.send(
                    prompts.message("apology"),
                    reference=msg.to_reference(fail_if_not_exists=False),
                )

    async def answer_message(self, msg: discord.Message, me: discord.ClientUser) -> None:
        # A second replica on the same token (or a replayed event) must not answer twice.
        if not await asyncio.to_thread(
            self.bot.store.events.first_time, f"discord:message:{msg.id}"
        ):
            return
        question = await question_from_message(msg, me, self.bot.settings)
        if question.text.lower() in HELP_WORDS:
            await send_replies(msg.channel, [Reply(content=prompts.message("discord_help"))], msg)
            return
        answer = await self._ask_with_typing(msg.channel, question)
        sent = await send_replies(msg.channel, render_answer(answer), msg)
        if answer.kind == "answer" and sent:
            await self._open_thread(msg, sent[0], question)

    async def _ask_with_typing(
        self, channel: discord.abc.Messageable, question: Question
    ) -> Answer:
        answering = asyncio.ensure_future(asyncio.to_thread(self.bot.ask, question))
        with contextlib.suppress(discord.HTTPException):
            await channel.typing()  # "partnerbot is typing…" for up to 10 s
        return await answering

    async def _open_thread(
        self, question_msg: discord.Message, answer_msg: discord.Message, question: Question
    ) -> None:
        """In a text channel, start a thread on the answer so follow-ups keep their context."""
        if not self.open_threads or not isinstance(question_msg.channel, discord.TextChannel):
            return
        try:
            await answer_msg.create_thread(name=thread_name(question.text))
        except discord.HTTPException as e:
            # Missing "Create Public Threads": replies to the answer still carry context.
            logger.info("could not open a thread on answer %s: %s", answer_msg.id, e)

    # -- errors -------------------------------------------------------------------------------
    async def _on_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        name = interaction.command.name if interaction.command else "?"
        logger.error("slash command /%s failed", name, exc_info=error)
        await apologise(interaction)


async def send_replies(
    channel: discord.abc.Messageable, replies: list[Reply], reference: discord.Message | None
) -> list[discord.Message]:
    """Send rendered replies in order; the first one replies to ``reference``."""
    sent: list[discord.Message] = []
    for i, reply in enumerate(replies):
        kwargs = reply_kwargs(reply)
        if i == 0 and reference is not None:
            kwargs["reference"] = reference.to_reference(fail_if_not_exists=False)
        sent.append(await channel.send(**kwargs))
    return sent
