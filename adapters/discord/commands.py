"""Slash commands: `/ask`, `/reindex`, `/help`, and the admin groups `/comms` and `/changes`.

Each command is one small function that adds itself to the tree; `COMMANDS` lists
them. A new command is one more such function appended to `COMMANDS`: acknowledge
first (`defer`), run the core call with `asyncio.to_thread`, then answer with
`interaction.followup` (`admin_reply` does all three for admin commands).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

import discord
from discord import app_commands

from adapters.discord.components import feedback_view
from adapters.discord.questions import is_admin, question_from_interaction
from adapters.discord.render import CONTENT_LIMIT, Reply, render_answer, split_text
from bot.comms import chat as comms_chat
from bot.core import PartnerBot, reindex_summary
from bot.errors import UserError
from bot.models import Answer
from bot.prompts import message

logger = logging.getLogger(__name__)

Tree = app_commands.CommandTree[Any]
CommandInstaller = Callable[[Tree, PartnerBot], None]


def add_ask(tree: Tree, bot: PartnerBot) -> None:
    @tree.command(name="ask", description="Ask about the partner program (answered with sources)")
    @app_commands.describe(
        question="Your question about the partner program",
        private="Only you see the answer (default: everyone in the channel)",
    )
    async def ask(
        interaction: discord.Interaction[Any], question: str, private: bool = False
    ) -> None:
        # Acknowledge inside Discord's 3 s window before any work; the answer follows.
        await interaction.response.defer(thinking=True, ephemeral=private)
        asked = question_from_interaction(interaction, question, bot.settings)
        answer = await asyncio.to_thread(bot.ask, asked)
        await send_followups(interaction, answer, ephemeral=private)


def add_reindex(tree: Tree, bot: PartnerBot) -> None:
    @tree.command(name="reindex", description="Admins: re-index the program documents")
    async def reindex(interaction: discord.Interaction[Any]) -> None:
        await admin_reply(
            interaction,
            bot,
            lambda admin, who: reindex_summary(bot.reindex_as(is_admin=admin, who=who)),
        )


def add_help(tree: Tree, bot: PartnerBot) -> None:
    @tree.command(name="help", description="What partnerbot can do")
    async def help_(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message(message("discord_help"), ephemeral=True)


def add_comms(tree: Tree, bot: PartnerBot) -> None:
    group = app_commands.Group(
        name="comms", description="Admins: upcoming vendor-to-customer communications"
    )

    @group.command(name="list", description="Admins: list upcoming communications")
    async def list_(interaction: discord.Interaction[Any]) -> None:
        await admin_reply(
            interaction,
            bot,
            lambda admin, who: comms_chat.list_text(bot.comms, is_admin=admin, who=who),
        )

    @group.command(name="cancel", description="Admins: cancel a communication")
    @app_commands.rename(comm_id="id")
    @app_commands.describe(comm_id="The communication id, as shown by /comms list")
    async def cancel(interaction: discord.Interaction[Any], comm_id: str) -> None:
        await admin_reply(
            interaction,
            bot,
            lambda admin, who: comms_chat.cancel_as(bot.comms, comm_id, is_admin=admin, who=who),
        )

    tree.add_command(group)


def add_changes(tree: Tree, bot: PartnerBot) -> None:
    group = app_commands.Group(name="changes", description="Admins: recent program changes")

    def run(words: str) -> Callable[[bool, str], str]:
        return lambda admin, who: bot.changes.command(words, is_admin=admin, who=who)

    @group.command(name="publish", description="Admins: post the digest of new program changes")
    @app_commands.describe(
        since="Only changes since this date (YYYY-MM-DD)",
        again="Include changes already published",
    )
    async def publish(
        interaction: discord.Interaction[Any], since: str | None = None, again: bool = False
    ) -> None:
        words = " ".join(["publish", *(["again"] if again else []), *_since(since)])
        await admin_reply(interaction, bot, run(words))

    @group.command(name="preview", description="Admins: show the digest without posting it")
    @app_commands.describe(since="Only changes since this date (YYYY-MM-DD)")
    async def preview(interaction: discord.Interaction[Any], since: str | None = None) -> None:
        await admin_reply(interaction, bot, run(" ".join(["preview", *_since(since)])))

    tree.add_command(group)


def _since(value: str | None) -> list[str]:
    return ["since", value.strip()] if value and value.strip() else []


COMMANDS: tuple[CommandInstaller, ...] = (add_ask, add_reindex, add_help, add_comms, add_changes)


async def admin_reply(
    interaction: discord.Interaction[Any], bot: PartnerBot, run: Callable[[bool, str], str]
) -> None:
    """Acknowledge privately, run ``run(is_admin, who)`` off the loop, reply with its text.

    A UserError (e.g. NotAllowed for a non-admin) is shown as its message.
    """
    await interaction.response.defer(thinking=True, ephemeral=True)
    admin = is_admin(bot.settings, interaction.user)
    try:
        text = await asyncio.to_thread(run, admin, who_of(interaction))
    except UserError as e:
        text = str(e)
    for chunk in split_text(text, CONTENT_LIMIT):
        await interaction.followup.send(chunk, ephemeral=True)


def who_of(interaction: discord.Interaction[Any]) -> str:
    return f"discord user {interaction.user.id}"


def install(tree: Tree, bot: PartnerBot, commands: Iterable[CommandInstaller] = COMMANDS) -> None:
    for add in commands:
        add(tree, bot)


async def send_followups(
    interaction: discord.Interaction[Any], answer: Answer, *, ephemeral: bool = False
) -> list[discord.WebhookMessage]:
    """Send a rendered answer as interaction follow-ups (the first replaces "thinking…")."""
    sent = []
    for reply in render_answer(answer):
        sent.append(
            await interaction.followup.send(**reply_kwargs(reply), ephemeral=ephemeral, wait=True)
        )
    return sent


def reply_kwargs(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for `send`: only what the reply has (discord.py treats None as a value)."""
    kwargs: dict[str, Any] = {}
    if reply.content:
        kwargs["content"] = reply.content
    if reply.embeds:
        kwargs["embeds"] = list(reply.embeds)
    if reply.feedback_for is not None:
        kwargs["view"] = feedback_view(reply.feedback_for)
    return kwargs
