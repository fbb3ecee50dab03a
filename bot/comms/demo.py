"""The per-partner notice in `make demo`: what one partner is told privately.

The sample communication, its recipient list and the sample partners file are
registered in a throwaway state store with the clock set 14 days before the send date;
one dispatcher pass then posts through a printing poster, exactly as `partnerbot
serve` would through Slack or Discord. The demo shows one partner's private notice
(its own customers, nobody else's), where every other notice went, and the admin's
count of customers without a known partner.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bot.comms.dispatcher import Dispatcher
from bot.comms.keys import PARTNER_FEATURE
from bot.comms.loading import FileRefused
from bot.comms.partner_notices import shown_target
from bot.comms.registry import Communications
from bot.comms.settings import CommsSettings
from bot.config import SAMPLES_DIR
from bot.models import ChannelRef, Notice
from bot.printable import shown
from bot.store.sqlite import SqliteStore

SAMPLE = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
SHOWN_PARTNER = "harbour-it"


@dataclass
class PrintingPoster:
    """A poster that keeps what it is given, to print (the demo's stand-in for a platform)."""

    platform: str
    posted: list[tuple[str, Notice]] = field(default_factory=list)

    def post(self, channel: str, notice: Notice) -> str:
        self.posted.append((channel, notice))
        return f"{self.platform}-{len(self.posted)}"

    def find(self, channel: str, key: str) -> str | None:
        return next(
            (f"{self.platform}-{i}" for i, (_, n) in enumerate(self.posted, 1) if n.key == key),
            None,
        )

    def permalink(self, channel: str, message_id: str) -> str | None:
        return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(f"@{user}", notice)


def demo_partner_notice(console: Console, *, settings: CommsSettings | None = None) -> None:
    """Register the sample in a throwaway store, post what is due 14 days ahead, print."""
    folder = SAMPLES_DIR / "comms"
    settings = settings or CommsSettings(
        folder=folder,
        routes_path=folder / "routes.yml",
        partners_path=folder / "partners.yml",
        partner_ack_reminder_days=2,
    )
    console.rule("[bold]Per-partner notices[/bold]: each partner is told of ITS OWN customers")
    with tempfile.TemporaryDirectory(prefix="partnerbot-demo-") as tmp:
        store = SqliteStore(Path(tmp) / "state.sqlite3")
        try:
            _run(store, settings, console)
        finally:
            store.close()


def _run(store: SqliteStore, settings: CommsSettings, console: Console) -> None:
    # The clock is the sample's own: 14 days before its send date, whatever day it is today.
    send_at = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))["send_at"]
    if not isinstance(send_at, datetime):
        send_at = datetime.fromisoformat(str(send_at))
    due = send_at.astimezone(UTC) - timedelta(days=14)
    comms = Communications(
        store=store, settings=settings, platforms=("slack", "discord", "teams"), clock=lambda: due
    )
    registered = comms.add_file(SAMPLE, who="demo")
    if isinstance(registered, FileRefused):
        console.print(f"[red]the sample communication is refused[/red]: {shown(str(registered))}")
        return
    comm_id = registered.record.id
    posters = {name: PrintingPoster(name) for name in ("slack", "discord", "teams")}
    Dispatcher(comms=comms, store=store, posters=posters).run_once()
    private = [
        (ChannelRef(name, channel), notice)
        for name, poster in posters.items()
        for channel, notice in poster.posted
        if notice.key.startswith("pb-partner:")
    ]
    partners = comms.partner_notices.partners
    table = Table(
        title="Posted 14 days before the send date: private notices", title_justify="left"
    )
    for col in ("partner", "where", "customers listed"):
        table.add_column(col)
    for ref, notice in private:
        partner = partners.get(notice.key.split(":")[4])
        count = dict(notice.fields).get("Your customers on the list", "—")
        table.add_row(partner.name if partner else "?", shown_target(ref), count)
    console.print(table)
    shown_notice = next((n for _, n in private if n.key.split(":")[4] == SHOWN_PARTNER), None)
    if shown_notice is not None:
        body = re.sub(
            r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", shown(shown_notice.text, keep_lines=True)
        )
        console.print(Panel(body, title=shown(shown_notice.title), title_align="left"))
    summary = comms.reports.status(comm_id).recipients
    if summary is not None:
        split = summary.split
        unlisted = ", ".join(f"{shown(p)} ({n})" for p, n in split.unlisted.items()) or "none"
        console.print(
            f"Admin view: {split.total} customers on the list; {split.unknown} without a known "
            f"partner ({split.blank} blank, not in the partners file: {unlisted}) — counted, "
            "not dropped. The list is deleted "
            f"{settings.retention_days} days after the send date.",
            highlight=False,
        )
    delivered = store.deliveries.for_subject(PARTNER_FEATURE, comm_id)
    console.print(
        f"[dim]{sum(d.status == 'posted' for d in delivered)} private notices posted once each "
        "through the outbox; reminders and acknowledgement reminders are planned.[/dim]"
    )
