"""The `/partner` slash command: a table of subcommands, each a small async handler.

Features add subcommands with `register_subcommand` (`comms` and `changes` call the
core's chat commands); an unknown subcommand shows the help.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from adapters.slack.render import render_answer, render_markdown
from bot.comms import chat as comms_chat
from bot.core import PartnerBot, reindex_summary
from bot.errors import NotAllowed, UserError
from bot.models import Answer, Question
from bot.prompts import message

logger = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]


class RecentAnswers:
    """Private (ephemeral) answers kept briefly so "Post to channel" can publish them.

    Slack does not send an ephemeral message's content with a button click, and
    ephemeral messages vanish on reload anyway, so a bounded in-memory map suffices.
    """

    def __init__(self, size: int = 500) -> None:
        self._size = size
        self._answers: OrderedDict[int, Answer] = OrderedDict()

    def remember(self, answer: Answer) -> None:
        if answer.interaction_id is None:
            return
        self._answers[answer.interaction_id] = answer
        self._answers.move_to_end(answer.interaction_id)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)

    def pop(self, interaction_id: int) -> Answer | None:
        return self._answers.pop(interaction_id, None)


@dataclass(frozen=True, kw_only=True)
class CommandContext:
    """Everything a subcommand needs: who asked where, the words after it, how to reply."""

    bot: PartnerBot
    user_id: str
    channel_id: str
    args: str
    is_admin: bool
    respond: Respond
    recent: RecentAnswers
    client: Any = None  # the AsyncWebClient, for subcommands that post to channels

    @property
    def who(self) -> str:
        """Who ran the command, for the core's admin log."""
        return f"slack:{self.user_id}"

    async def reply(self, text: str) -> None:
        """A private reply to the person who ran the command."""
        await self.respond(text=text, response_type="ephemeral", replace_original=False)

    async def reply_markdown(self, text: str) -> None:
        """A private reply from core Markdown (bold, links; long text in sections)."""
        await self.respond(
            response_type="ephemeral", replace_original=False, **render_markdown(text).as_kwargs()
        )


Subcommand = Callable[[CommandContext], Awaitable[None]]

SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(name: str) -> Callable[[Subcommand], Subcommand]:
    """Decorator: make `/partner <name> ...` call the handler."""

    def decorate(handler: Subcommand) -> Subcommand:
        SUBCOMMANDS[name] = handler
        return handler

    return decorate


def parse(text: str) -> tuple[str, str]:
    """`"ask what changed?"` → `("ask", "what changed?")`; empty text means help."""
    name, _, args = (text or "").strip().partition(" ")
    return name.lower() or "help", args.strip()


async def dispatch(ctx: CommandContext, name: str) -> None:
    handler = SUBCOMMANDS.get(name)
    if handler is None:
        await ctx.reply(message("slack_unknown_subcommand", name=name) + "\n" + message("help"))
        return
    await handler(ctx)


@register_subcommand("help")
async def help_command(ctx: CommandContext) -> None:
    await ctx.reply(message("help"))


@register_subcommand("ask")
async def ask_command(ctx: CommandContext) -> None:
    """A private answer with a button to post it to the channel."""
    question = Question(
        text=ctx.args,
        asker=ctx.user_id,
        place=ctx.channel_id,
        platform="slack",
        is_admin=ctx.is_admin,
    )
    answer = await asyncio.to_thread(ctx.bot.ask, question)
    ctx.recent.remember(answer)
    rendered = render_answer(answer, shareable=True)
    await ctx.respond(response_type="ephemeral", replace_original=False, **rendered.as_kwargs())


@register_subcommand("reindex")
async def reindex_command(ctx: CommandContext) -> None:
    """Admins only: sync the index off the event loop and report the counts."""
    who = ctx.who
    try:
        if ctx.is_admin:
            await ctx.reply(message("reindex_started"))
        report = await asyncio.to_thread(ctx.bot.reindex_as, is_admin=ctx.is_admin, who=who)
    except NotAllowed as e:
        await ctx.reply(str(e))
        return
    except UserError as e:
        logger.warning("re-index by %s failed: %s", who, e)
        await ctx.reply(str(e))
        return
    await ctx.reply(reindex_summary(report))


@register_subcommand("comms")
async def comms_command(ctx: CommandContext) -> None:
    """Admins only: `comms list` / `comms cancel <id>` (a non-admin gets the refusal text)."""
    text = await asyncio.to_thread(
        comms_chat.command, ctx.bot.comms, ctx.args, is_admin=ctx.is_admin, who=ctx.who
    )
    await ctx.reply_markdown(text)


@register_subcommand("changes")
async def changes_subcommand(ctx: CommandContext) -> None:
    """Admins only: publish (or `preview`) the digest of new program changes."""
    try:
        text = await asyncio.to_thread(
            ctx.bot.changes.command, ctx.args, is_admin=ctx.is_admin, who=ctx.who
        )
    except UserError as e:  # NotAllowed, a bad `since`, no channels configured
        text = str(e)
    await ctx.reply_markdown(text)
