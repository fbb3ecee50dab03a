"""Persistent buttons: 👍/👎 under answers, and the action buttons of partner-channel notices.

They are `DynamicItem`s: the state lives in the custom id (``feedback:up:<interaction id>``,
``notice:acknowledge:<value>``) and the classes are registered with the client at
start-up, so a click on a message sent before a restart is still handled. "Ask about
this" opens a thread on the notice with the core's intro, which anchors the questions
asked there to the communication.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, cast

import discord

from adapters.discord.render import thread_name
from bot.comms.qa import opens_thread
from bot.core import PartnerBot
from bot.notify import Notice
from bot.prompts import message

logger = logging.getLogger(__name__)

CUSTOM_ID_LIMIT = 100
THREAD_EXISTS = 160004  # Discord: "A thread has already been created for this message"

Button = discord.ui.Button[discord.ui.View]


def core_of(interaction: discord.Interaction[Any]) -> PartnerBot:
    """The PartnerBot behind the client that received this interaction."""
    return cast(PartnerBot, interaction.client.bot)


async def ack_ephemeral(interaction: discord.Interaction[Any]) -> None:
    """Acknowledge at once with a private "thinking…" state; the reply follows as a follow-up."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)


async def reply_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """Reply privately, whether or not the interaction was already acknowledged."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


async def apologise(interaction: discord.Interaction[Any]) -> None:
    """The short generic apology after an unexpected failure (the traceback is logged)."""
    try:
        await reply_ephemeral(interaction, message("apology"))
    except discord.HTTPException:
        logger.warning("could not send the apology for interaction %s", interaction.id)


class FeedbackButton(
    discord.ui.DynamicItem[Button],
    template=r"feedback:(?P<rating>up|down):(?P<interaction_id>\d+)",
):
    """👍 or 👎 under an answer; a click is stored in the core's feedback store."""

    def __init__(self, rating: str, interaction_id: int) -> None:
        up = rating == "up"
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.secondary,
                emoji="👍" if up else "👎",
                custom_id=f"feedback:{rating}:{interaction_id}",
            )
        )
        self.rating = 1 if up else -1
        self.interaction_id = interaction_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> FeedbackButton:
        return cls(match["rating"], int(match["interaction_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await ack_ephemeral(interaction)
            text = await asyncio.to_thread(
                core_of(interaction).record_feedback,
                interaction_id=self.interaction_id,
                user=str(interaction.user.id),
                rating=self.rating,
                platform="discord",
            )
            await reply_ephemeral(interaction, text)
        except Exception:
            logger.exception("recording feedback for interaction %s failed", self.interaction_id)
            await apologise(interaction)


class NoticeActionButton(
    discord.ui.DynamicItem[Button],
    template=r"notice:(?P<kind>acknowledge|ask):(?P<value>.+)",
):
    """A button on a partner-channel notice; the click goes to the core's notice hook."""

    def __init__(self, kind: str, value: str, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.success
                if kind == "acknowledge"
                else discord.ButtonStyle.primary,
                label=label or kind.capitalize(),
                custom_id=f"notice:{kind}:{value}",
            )
        )
        self.kind = kind
        self.value = value

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> NoticeActionButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["kind"], match["value"], label or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await ack_ephemeral(interaction)
            hook = getattr(core_of(interaction), "handle_notice_button", None)
            if hook is None:
                await reply_ephemeral(interaction, message("button_unavailable"))
                return
            text = str(
                await asyncio.to_thread(
                    hook,
                    kind=self.kind,
                    value=self.value,
                    user=str(interaction.user.id),
                    channel=str(interaction.channel_id),
                    platform="discord",
                )
            )
            if self.kind == "ask" and opens_thread(text):
                thread = await post_in_notice_thread(interaction, text)
                if thread is not None:
                    text = message("discord_ask_in_thread", thread=thread.mention)
            await reply_ephemeral(interaction, text)
        except Exception:
            logger.exception("notice button %s:%s failed", self.kind, self.value)
            await apologise(interaction)


async def post_in_notice_thread(
    interaction: discord.Interaction[Any], text: str
) -> discord.Thread | None:
    """Post ``text`` in the thread on the clicked notice, opening it on the first click.

    None when there is no thread to be had (not a text channel, no permission to
    create threads): the caller then shows the text privately instead.
    """
    notice = interaction.message
    if notice is None or not isinstance(notice.channel, discord.TextChannel):
        return None
    try:
        thread = notice.thread
        if thread is None:
            title = notice.embeds[0].title if notice.embeds else None
            try:
                thread = await notice.create_thread(name=thread_name(title or notice.content))
            except discord.HTTPException as e:
                if e.code != THREAD_EXISTS:
                    raise
                # Opened by an earlier click that this client has not cached: same id.
                found = await interaction.client.fetch_channel(notice.id)
                thread = found if isinstance(found, discord.Thread) else None
        if thread is None:
            return None
        await thread.send(text)
        return thread
    except discord.HTTPException as e:
        logger.info("could not open a thread on notice %s: %s", notice.id, e)
        return None


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (FeedbackButton, NoticeActionButton)


def feedback_view(interaction_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton("up", interaction_id))
    view.add_item(FeedbackButton("down", interaction_id))
    return view


def notice_view(notice: Notice) -> discord.ui.View | None:
    """Buttons for a notice (one whose custom id would exceed 100 characters is left out)."""
    view = discord.ui.View(timeout=None)
    for button in notice.buttons[:25]:
        custom_id = f"notice:{button.kind}:{button.value}"
        if len(custom_id) > CUSTOM_ID_LIMIT or not button.value:
            logger.warning("notice button %r left out: its value does not fit a custom id", button)
            continue
        view.add_item(NoticeActionButton(button.kind, button.value, button.label[:80]))
    return view if view.children else None
