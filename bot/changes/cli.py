"""`partnerbot changes …` commands: list the recorded program changes, publish the digest.

The command line is a composition root: only here, inside the publish command, are the
chat adapters imported (lazily), to connect the posters the configured channels need.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from bot.changes.digest import (
    DigestResult,
    parse_channels,
    preview_digest,
    publish_digest,
)
from bot.changes.periods import parse_since
from bot.changes.records import ChangeRecord
from bot.cli_session import command_bot
from bot.core import PartnerBot
from bot.errors import ConfigError
from bot.notify import ChannelPoster
from bot.prompts import message

changes_app = typer.Typer(help="Program changes detected when documents are re-indexed.")
console = Console()

logger = logging.getLogger(__name__)

T = TypeVar("T")

SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only changes detected on or after this date (YYYY-MM-DD)."),
]


def _kind_style(record: ChangeRecord) -> str:
    return {"added": "green", "removed": "red", "changed": "yellow"}[record.kind]


def print_records(records: Sequence[ChangeRecord], out: Console | None = None) -> None:
    """Readable listing: one heading line per change, then its sentences − before / + after."""
    out = out or console
    if not records:
        out.print("No program changes recorded.")
        return
    for r in records:
        effective = f", effective {r.effective_date.isoformat()}" if r.effective_date else ""
        published = f"  [dim](published {r.published_at[:10]})[/dim]" if r.published_at else ""
        out.print(
            f"[bold]{r.detected_on}[/bold]  [{_kind_style(r)}]{r.kind:<7}[/{_kind_style(r)}] "
            f"{escape(r.label)}  [dim]({escape(r.doc_path)}{effective})[/dim]{published}",
            highlight=False,
            soft_wrap=True,
        )
        for e in r.edits:
            if e.before:
                out.print(f"    [red]−[/red] {escape(e.before)}", highlight=False, soft_wrap=True)
            if e.after:
                out.print(
                    f"    [green]+[/green] {escape(e.after)}", highlight=False, soft_wrap=True
                )


@changes_app.callback(invoke_without_command=True)
def list_changes(
    ctx: typer.Context,
    since: SinceOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
    unpublished: Annotated[
        bool, typer.Option("--unpublished", help="Only changes not yet published.")
    ] = False,
) -> None:
    """(Admin) List the program changes detected by re-indexing, oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    with command_bot() as bot:
        records = bot.changes.records.list(
            since=parse_since(since) if since else None, unpublished_only=unpublished
        )
    if json_out:
        print(json.dumps([r.as_json() for r in records], indent=2, ensure_ascii=False))
    else:
        print_records(records)


@changes_app.command("publish")
def publish(
    since: SinceOption = None,
    again: Annotated[
        bool, typer.Option("--again", help="Include changes that were already published.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digest; post and mark nothing.")
    ] = False,
) -> None:
    """(Admin) Post one digest of new program changes to PARTNERBOT_CHANGES_CHANNELS."""
    with command_bot() as bot:
        start = parse_since(since) if since else None
        if dry_run:
            digest = preview_digest(bot, since=start, include_published=again)
            text = digest.text if digest else message("changes_nothing_to_publish")
            console.print(escape(text), highlight=False, soft_wrap=True)
            return
        platforms = sorted({p for p, _ in parse_channels(bot.settings.changes_channels)})

        def post(posters: list[ChannelPoster]) -> DigestResult:
            return publish_digest(bot, posters, since=start, include_published=again)

        result = with_posters(bot, platforms, post)
    if result.digest is not None:
        console.print(escape(result.digest.text), highlight=False, soft_wrap=True)
    console.print(escape(result.summary()), highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


# -- posters, from the adapters ------------------------------------------------------------
def with_posters(
    bot: PartnerBot, platforms: Sequence[str], fn: Callable[[list[ChannelPoster]], T]
) -> T:
    """Run fn with posters for these platforms (the adapters are imported only here).

    Slack posts through the Web API with the bot token. Discord needs a gateway
    connection, so its service is started as `partnerbot serve` would, used from a
    worker thread (posters block), and stopped again.
    """
    posters: list[ChannelPoster] = []
    if "slack" in platforms:
        posters.append(_slack_poster(bot))
    if "discord" in platforms:
        return asyncio.run(_with_discord(bot, posters, fn))
    return fn(posters)


def _slack_poster(bot: PartnerBot) -> ChannelPoster:
    from adapters.slack.poster import SlackPoster

    token = bot.settings.slack_bot_token
    if token is None or not token.get_secret_value().strip():
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set, but PARTNERBOT_CHANGES_CHANNELS names a Slack "
            "channel: set the bot token (xoxb-…) to post the digest there."
        )
    return SlackPoster.from_token(
        token.get_secret_value().strip(), base_url=bot.settings.slack_api_url
    )


async def _with_discord(
    bot: PartnerBot, posters: list[ChannelPoster], fn: Callable[[list[ChannelPoster]], T]
) -> T:
    from adapters.discord import build_discord

    service = build_discord(bot)
    await service.start()
    try:
        return await asyncio.to_thread(fn, [*posters, service.poster])
    finally:
        await service.stop()
