"""`partnerbot changes …` commands: list the recorded program changes, publish the digest.

Publishing connects the platforms the digest channels are on through the app (the
platform registry), posts, and disconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.app import App
from bot.changes.digest import DigestResult, parse_channels
from bot.changes.periods import parse_since
from bot.cli.session import command_app
from bot.prompts import message
from bot.store import ChangeRecord

changes_app = typer.Typer(help="Program changes detected when documents are re-indexed.")
console = Console()

logger = logging.getLogger(__name__)

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
    with command_app() as app:
        records = app.changes.records.list(
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
    with command_app() as app:
        start = parse_since(since) if since else None
        if dry_run:
            digest = app.changes.preview(since=start, include_published=again)
            text = digest.text if digest else message("changes_nothing_to_publish")
            console.print(escape(text), highlight=False, soft_wrap=True)
            return
        result = asyncio.run(_publish(app, start, again))
    if result.digest is not None:
        console.print(escape(result.digest.text), highlight=False, soft_wrap=True)
    console.print(escape(result.summary()), highlight=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


async def _publish(app: App, since: str | None, again: bool) -> DigestResult:
    """Connect the platforms the digest channels are on, post, disconnect."""
    names = {platform for platform, _ in parse_channels(app.changes.settings.channels)}
    async with app.connected(names) as posters:
        return await asyncio.to_thread(
            app.changes.publish, list(posters.values()), since=since, include_published=again
        )
