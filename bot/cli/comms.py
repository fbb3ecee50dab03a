"""`partnerbot comms …` commands: register, inspect and change communications."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bot.cli.session import command_app, err
from bot.comms.loading import FileRefused
from bot.comms.model import Communication, format_when, in_days
from bot.comms.partner_notices import PartnerPlanRow, PartnerStatus, RecipientSummary
from bot.comms.registry import Communications, RegisterResult
from bot.comms.reports import Preview
from bot.printable import shown

comms_app = typer.Typer(
    help=(
        "Vendor-to-customer communications announced to partners.\n\n"
        "A communication file may name its recipient list: `recipients: recipients.csv` (a CSV "
        "beside the file with the columns customer_id, customer_name, partner_id) or an inline "
        "list of those. Each partner of record in the partners file (PARTNERBOT_PARTNERS_FILE) "
        "is then told privately which of its own customers get it; customers whose partner is "
        "blank or not in that file are counted in `preview` and `status`. The list is deleted "
        "PARTNERBOT_RECIPIENTS_RETENTION_DAYS after the send date."
    ),
    no_args_is_help=True,
)
console = Console()


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _when(dt: datetime | None, comm: Communication) -> str:
    return format_when(dt, comm.send_at) if dt is not None else "—"


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _header(comm: Communication, status: str, now: datetime) -> None:
    console.print(f"[bold]{shown(comm.title)}[/bold]  ({comm.id})", highlight=False)
    console.print(
        f"{shown(comm.channel)} from {shown(comm.sender)} · sends {format_when(comm.send_at)} "
        f"({in_days(comm.send_at_utc, now)}) · {status}",
        highlight=False,
    )
    console.print(f"audience: {comm.audience.describe()}", highlight=False)
    mark = (
        "[green]points to partner[/green]"
        if comm.points_to_partner
        else ("[yellow]does NOT point customers to their partner[/yellow]")
    )
    pointed = shown(comm.customer_pointed_to) or "no contact named"
    console.print(f"customers are pointed to: {pointed} ({mark})", highlight=False)


def _refused(refused: FileRefused) -> None:
    for p in refused.problems:
        err.print(
            f"[red]refused[/red] {shown(refused.path)}:{p.line}: {shown(p.reason)}",
            highlight=False,
        )


def _warnings(warnings: tuple[str, ...] | list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning[/yellow] {shown(w)}", highlight=False)


def print_recipients(summary: RecipientSummary | None, comm: Communication) -> None:
    """The recipient list in counts, the customers without a known partner included."""
    if summary is None:
        return
    if summary.deleted:
        console.print(
            f"recipients ({shown(summary.source)}): deleted after the send date "
            f"(kept until {_when(summary.keep_until, comm)})",
            highlight=False,
        )
        return
    split = summary.split
    console.print(
        f"recipients ({shown(summary.source)}): {split.total} customer(s), "
        f"{split.total - split.unknown} of them with one of {len(split.partners)} partner(s) "
        f"in the partners file; kept until {_when(summary.keep_until, comm)}",
        highlight=False,
    )
    if split.unknown:
        unlisted = ", ".join(f"{shown(p)} ({n})" for p, n in split.unlisted.items())
        err.print(
            f"[yellow]{split.unknown} customer(s) with no known partner[/yellow]: "
            f"{split.blank} blank"
            + (f"; not in the partners file: {unlisted}" if unlisted else "")
            + " — they are not told through a partner",
            highlight=False,
        )


def _partners_problem(comms: Communications) -> None:
    if comms.partners.problem:
        err.print(
            f"[yellow]warning[/yellow] {shown(comms.partners.problem)}; no partner is told "
            "privately until it is fixed",
            highlight=False,
        )


def print_partner_rows(rows: list[PartnerPlanRow], comm: Communication) -> None:
    if not rows:
        return
    table = Table(
        title="Private notices to partners (their own customers only)", title_justify="left"
    )
    for col in ("partner", "customers", "where", "notice", "when", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            shown(r.partner),
            str(r.customers),
            shown(r.target),
            r.notice,
            _when(r.when, comm),
            r.status,
        )
    console.print(table)


def print_preview(preview: Preview, now: datetime) -> None:
    comm = preview.comm
    _header(comm, preview.status, now)
    title = f"Notices (times in {format_when(comm.send_at).rsplit(' ', 1)[-1]})"
    if not preview.registered:
        title += " — dry run, nothing registered"
    table = Table(title=title, title_justify="left")
    for col in ("platform", "channel", "notice", "when", "status"):
        table.add_column(col)
    for r in preview.rows:
        table.add_row(r.platform, r.channel, r.notice, _when(r.when, comm), r.status)
    if preview.rows:
        console.print(table)
    else:
        console.print("[yellow]no partner channel matches this audience[/yellow]")
    print_partner_rows(preview.partner_rows, comm)
    print_recipients(preview.recipients, comm)
    if not preview.registered:
        console.print(
            "Register it with `partnerbot comms sync` (its folder) or `partnerbot comms add FILE`."
        )
    _warnings(preview.warnings)


def _registered(result: RegisterResult, comms: Communications) -> None:
    record = result.record
    verb = {
        "added": "Registered",
        "revived": "Registered again",
        "updated": "Updated",
        "unchanged": "Unchanged",
    }[result.action]
    console.print(f"{verb} {record.id} (revision {record.revision})", highlight=False)
    if result.changes:
        console.print(f"changed: {', '.join(result.changes)}", highlight=False)
    if result.updated_channels:
        console.print(
            f"{len(result.updated_channels)} channel(s) already told get an “Updated” notice",
            highlight=False,
        )
    _warnings(result.warnings)
    print_preview(comms.reports.preview(record.id), comms.now())


@comms_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="A communication file (YAML or Markdown).")],
    json_out: JsonOpt = False,
    over_console: Annotated[
        bool,
        typer.Option(
            "--over-console",
            help="Apply the file even though the communication was changed in the console.",
        ),
    ] = False,
) -> None:
    """Register a communication from a file (or apply a changed version of it)."""
    with command_app() as app:
        result = app.comms.add_file(file, over_console=over_console)
        if isinstance(result, FileRefused):
            if json_out:
                _print_json(result.as_json())
            else:
                _refused(result)
            raise typer.Exit(1)
        if json_out:
            preview = app.comms.reports.preview(result.record.id)
            _print_json({**result.as_json(), "preview": preview.as_json()})
            return
        _registered(result, app.comms)


@comms_app.command("list")
def list_command(
    include_all: Annotated[
        bool, typer.Option("--all", help="Include long-past and cancelled ones.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Upcoming communications (and recently sent or cancelled ones)."""
    with command_app() as app:
        now = app.comms.now()
        rows = app.comms.reports.listing(include_all=include_all)
        if json_out:
            _print_json([row.as_json() for row in rows])
            return
        if not rows:
            console.print("No communications registered. `partnerbot comms sync` or `comms add`.")
            return
        table = Table(title="Communications")
        for col in ("id", "title", "sends", "status", "channels", "next notice"):
            table.add_column(col)
        for row in rows:
            r, nxt = row.record, row.next_delivery
            next_text = "—"
            if nxt is not None:
                next_text = f"{row.next_notice}, {_when(nxt.due_at, r.comm)}"
            table.add_row(
                r.id,
                shown(r.comm.title),
                f"{format_when(r.comm.send_at)} ({in_days(r.comm.send_at_utc, now)})",
                r.status,
                str(row.channels),
                next_text,
            )
        console.print(table)


@comms_app.command("show")
def show(
    comm_id: Annotated[str, typer.Argument(help="Communication id.")], json_out: JsonOpt = False
) -> None:
    """Everything registered about one communication, and its history."""
    with command_app() as app:
        details = app.comms.reports.details(comm_id)
        record, history, comm = details.record, details.history, details.record.comm
        if json_out:
            _print_json(details.as_json())
            return
        _header(comm, record.status, app.comms.now())
        table = Table(show_header=False, box=None)
        table.add_column("field", style="bold")
        table.add_column("value")
        table.add_row("why (aims)", shown(comm.aims, keep_lines=True))
        table.add_row("what customers are told", shown(comm.customer_summary, keep_lines=True))
        if comm.full_text_url:
            table.add_row("full text", shown(comm.full_text_url))
        points = [f"• {shown(p)}" for p in comm.talking_points]
        table.add_row("talking points", "\n".join(points) or "—")
        table.add_row("FAQ", "\n".join(f"• {shown(f.q)}" for f in comm.faq) or "—")
        table.add_row("links", "\n".join(map(shown, comm.links)) or "—")
        table.add_row("lead days", ", ".join(str(d) for d in details.lead_days))
        table.add_row("revision", str(record.revision))
        table.add_row("source", shown(record.source or "—"))
        console.print(table)
        hist = Table(title="History", title_justify="left")
        for col in ("at (UTC)", "action", "by", "detail"):
            hist.add_column(col)
        for h in history:
            hist.add_row(h["at"], h["action"], h["who"], h["detail"])
        console.print(hist)
        _warnings(record.warnings)


@comms_app.command("reschedule")
def reschedule(
    comm_id: Annotated[str, typer.Argument(help="Communication id.")],
    when: Annotated[str, typer.Argument(help="New send date-time, e.g. 2027-02-03T09:00+11:00.")],
) -> None:
    """Move the send date: channels already told get an "Updated" notice; new lead times."""
    with command_app() as app:
        result = app.comms.reschedule(comm_id, when)
        _registered(result, app.comms)
        if result.record.source:
            _warnings(
                [
                    f"{result.record.source} still has the old send_at; a later edit of that "
                    "file (synced) replaces this date"
                ]
            )


@comms_app.command("cancel")
def cancel(comm_id: Annotated[str, typer.Argument(help="Communication id.")]) -> None:
    """Cancel: channels already told get a "Cancelled" notice; no further notices."""
    with command_app() as app:
        record, told = app.comms.cancel(comm_id)
        console.print(
            f"Cancelled {record.id}: {len(told)} channel(s) already told get a “Cancelled” "
            "notice; no further notices.",
            highlight=False,
        )


@comms_app.command("preview")
def preview(
    comm_id: Annotated[
        str, typer.Argument(help="Communication id (registered, or in the comms folder).")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Dry run: which channels get which notice, and when."""
    with command_app() as app:
        result = app.comms.reports.preview(comm_id)
        if json_out:
            _print_json(result.as_json())
            return
        print_preview(result, app.comms.now())
        _partners_problem(app.comms)


def print_partner_status(partners: list[PartnerStatus], comm: Communication) -> None:
    if not partners:
        return
    zone = format_when(comm.send_at).rsplit(" ", 1)[-1]
    table = Table(title=f"Partners told privately (times in {zone})", title_justify="left")
    for col in ("partner", "tier", "customers", "told", "acknowledged by", "next"):
        table.add_column(col)
    for p in partners:
        told = _when(p.told_at, comm) if p.told_at else "not yet"
        if not p.reachable and not p.told_at:
            told = "[yellow]no place or contact in the partners file[/yellow]"
        else:
            told += "".join(f"\n{shown(t)}" for t in dict.fromkeys(n["target"] for n in p.notices))
        acks = "\n".join(
            f"{shown(a['user'])} ({_when(datetime.fromisoformat(a['at']), comm)})" for a in p.acks
        )
        nxt = f"{p.next_notice}: {_when(p.next_at, comm)}" if p.next_notice else "—"
        customers = "—" if p.customers is None else str(p.customers)
        table.add_row(
            shown(p.name), shown(p.tier) or "—", customers, told, acks or "nobody yet", nxt
        )
    console.print(table)
    told_n = sum(1 for p in partners if p.told_at)
    acked = sum(1 for p in partners if p.acks)
    affected = sum(1 for p in partners if p.customers)
    console.print(
        f"partners affected {affected} · told {told_n} · acknowledged {acked}", highlight=False
    )


@comms_app.command("status")
def status(
    comm_id: Annotated[str, typer.Argument(help="Communication id.")], json_out: JsonOpt = False
) -> None:
    """Who was told, when, and who acknowledged."""
    with command_app() as app:
        report = app.comms.reports.status(comm_id)
        if json_out:
            _print_json(report.as_json())
            return
        comm = report.record.comm
        now = app.comms.now()
        console.print(f"[bold]{comm.title}[/bold]  ({comm.id})", highlight=False)
        console.print(
            f"{report.record.status} · sends {format_when(comm.send_at)} "
            f"({in_days(comm.send_at_utc, now)}) · revision {report.record.revision}",
            highlight=False,
        )
        zone = format_when(comm.send_at).rsplit(" ", 1)[-1]
        table = Table(title=f"Partner channels (times in {zone})", title_justify="left")
        for col in ("platform", "channel", "told", "notices posted", "acknowledged by", "next"):
            table.add_column(col)
        for c in report.channels:
            notices = "\n".join(
                f"{n['notice']}{' [late]' if n['late'] else ''}: {_when(n['posted_at'], comm)}"
                for n in c.notices
            )
            acks = "\n".join(
                f"{a['user']} ({_when(datetime.fromisoformat(a['at']), comm)})" for a in c.acks
            )
            nxt = f"{c.next_notice}: {_when(c.next_at, comm)}" if c.next_notice else "—"
            table.add_row(
                c.platform,
                c.channel,
                _when(c.told_at, comm) if c.told_at else "not yet",
                notices or "—",
                acks or "nobody yet",
                nxt,
            )
        console.print(table)
        told = sum(1 for c in report.channels if c.told_at)
        acked = sum(1 for c in report.channels if c.acks)
        console.print(
            f"told {told} of {len(report.channels)} channel(s) · acknowledged in {acked}",
            highlight=False,
        )
        print_partner_status(report.partners, comm)
        print_recipients(report.recipients, comm)
        _partners_problem(app.comms)
        for n in report.not_posted:
            err.print(
                f"[yellow]{n['status']}[/yellow] {n['notice']} to {n['platform']} "
                f"{n['channel']}: {n['note']}",
                highlight=False,
            )


@comms_app.command("partners")
def partners_command(json_out: JsonOpt = False) -> None:
    """The partners file, checked: each partner and where its private notices go."""
    with command_app() as app:
        report = app.comms.reports.partners()  # a broken file: each problem's line and reason
        if json_out:
            _print_json(report.as_json())
            return
        if report.path is None:
            console.print(
                "No partners file (PARTNERBOT_PARTNERS_FILE, or partners.yml in the "
                "communications folder): no partner is told privately."
            )
            return
        table = Table(title=f"Partners: {shown(str(report.path))}", title_justify="left")
        for col in ("id", "name", "tier", "region", "private notices go to", "teams"):
            table.add_column(col)
        for p in report.partners:
            nowhere = "[yellow]nowhere: no place or contact[/yellow]"
            where = "\n".join(map(shown, p.told_in)) or nowhere
            table.add_row(
                shown(p.partner),
                shown(p.name),
                shown(p.tier) or "—",
                shown(p.region) or "—",
                where,
                "\n".join(map(shown, p.teams)) or "—",
            )
        console.print(table)


@comms_app.command("sync")
def sync(
    folder: Annotated[
        Path | None,
        typer.Argument(help="Communications folder; default PARTNERBOT_COMMS_DIR or the samples."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Register new and changed communication files (by content hash); removed files cancel."""
    with command_app() as app:
        result = app.comms.sync_folder(folder)
        if json_out:
            _print_json(result.as_json())
        else:
            table = Table(title=f"Communications sync: {result.folder}")
            for col in ("added", "updated", "unchanged", "cancelled", "failed"):
                table.add_column(col, justify="right")
            table.add_row(*(str(v) for v in result.counts().values()))
            console.print(table)
            for label, ids in (
                ("added", result.added),
                ("updated", result.updated),
                ("cancelled (file removed)", result.cancelled),
            ):
                for comm_id in ids:
                    console.print(f"{label}: {comm_id}", highlight=False)
            for failure in result.failed:
                _refused(failure)
            _warnings(result.warnings)
        if not result.ok:
            raise typer.Exit(1)
