"""The `partnerbot` command line: index, ask, chat, eval, report, serve, and admin tools.

With bot/app.py it is the composition root: the terminal chat (adapters/terminal.py) is
wired here; chat platforms come from the app's platform registry.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.terminal import print_answer, run_console
from bot.app import App
from bot.chat.audiences import partner_viewer, viewer_for_cli
from bot.cli.changes import changes_app
from bot.cli.comms import comms_app
from bot.cli.console import console_app
from bot.cli.session import Boundary, command_app, command_settings, err, fail
from bot.cli.teams import teams_app
from bot.config import SAMPLES_DIR
from bot.core import PartnerBot
from bot.errors import PartnerbotError, UserError
from bot.models import Actor, Answer, Question, Turn
from bot.printable import shown
from knowledge.audience import PUBLIC, Viewer
from knowledge.errors import KnowledgeError
from knowledge.index import CheckReport, SyncReport

app = typer.Typer(
    help="partnerbot: cited answers from partner-program documents, in Slack, Discord, "
    "Microsoft Teams and the terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Boundary,  # every command's failure: one line and an exit code (bot/cli/session.py)
)
console = Console()
logger = logging.getLogger("partnerbot")
app.add_typer(comms_app, name="comms")
app.add_typer(changes_app, name="changes")
app.add_typer(teams_app, name="teams")
app.add_typer(console_app, name="console")


# -- index --------------------------------------------------------------------------------
def _index_with_progress(
    bot: PartnerBot, path: Path | None, *, rebuild: bool = False
) -> SyncReport:
    """Re-index with a progress bar on the terminal (none when piped)."""
    with Progress(
        TextColumn("[bold]embedding[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("embed", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        return bot.reindex(path, on_progress=on_progress, rebuild=rebuild)


def print_sync_report(report: SyncReport) -> None:
    table = Table(title="Index run", show_header=True)
    for col in ("added", "updated", "removed", "unchanged", "failed", "chunks embedded"):
        table.add_column(col, justify="right")
    c = report.counts()
    table.add_row(
        *(str(c[k]) for k in ("added", "updated", "removed", "unchanged", "failed")),
        str(c["chunks_embedded"]),
    )
    console.print(table)
    # Names and reasons come from the documents folder: shown, never obeyed (bot/printable.py).
    for old, new in report.renamed:
        console.print(f"renamed: {shown(old)} → {shown(new)}", highlight=False)
    if report.repaired:
        console.print(
            f"repaired {len(report.repaired)} document(s) an interrupted run left half-written: "
            + ", ".join(map(shown, report.repaired)),
            highlight=False,
        )
    for failure in report.failed:
        console.print(
            f"[yellow]failed[/yellow] {shown(failure.path)}: {shown(failure.reason)}",
            highlight=False,
        )
    if report.generation is not None:
        console.print(f"index generation {report.generation} is live")
    console.print(f"took {report.seconds:.2f}s")


def print_check_report(report: CheckReport, *, json_out: bool) -> None:
    found = {  # chunks Chroma holds that the manifest does not, lacks, holds altered
        "half-written": len(report.pending),
        "orphans": report.orphans,
        "missing": report.missing,
        "altered": report.mismatched,
    }
    if json_out:
        console.print_json(
            data={
                "ok": report.ok,
                "documents": report.documents,
                "chunks": report.chunks,
                "pending": report.pending,
                "orphans": report.orphans,
                "missing": report.missing,
                "mismatched": report.mismatched,
                "seconds": round(report.seconds, 3),
            }
        )
        return
    table = Table(title="Index check", show_header=True)
    for col in ("documents", "chunks", *found):
        table.add_column(col, justify="right")
    table.add_row(str(report.documents), str(report.chunks), *(str(n) for n in found.values()))
    console.print(table)
    if report.ok:
        console.print("the index matches its manifest; nothing to repair")
    else:
        console.print("repaired: Chroma now holds exactly the manifest's chunks")
    console.print(f"took {report.seconds:.2f}s")


def _warn_unheld(app_: App) -> None:
    for warning in app_.audience_warnings():
        err.print(f"[yellow]warning:[/yellow] {shown(warning)}")


@app.command()
def index(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Documents folder(s); default PARTNERBOT_DOCS_DIR or the samples."),
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="Drop the index first (after changing PARTNERBOT_EMBEDDER).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare the index with its manifest and repair what differs (no documents "
            "are read).",
        ),
    ] = False,
) -> None:
    """(Admin) Index program documents: only new and changed ones are embedded."""
    with command_app() as app_:
        bot = app_.core
        if check:
            print_check_report(bot.index.check(), json_out=json_out)
            _warn_unheld(app_)
            return
        any_failed = False
        for number, path in enumerate(paths or [bot.settings.documents_dir]):
            if not path.exists():
                raise UserError(f"{path} does not exist")
            report = _index_with_progress(bot, path, rebuild=rebuild and number == 0)
            any_failed = any_failed or not report.ok
            if json_out:
                console.print_json(
                    data={
                        **report.counts(),
                        "path": str(path),
                        "generation": report.generation,
                        "failures": [{"path": f.path, "reason": f.reason} for f in report.failed],
                        "seconds": round(report.seconds, 3),
                    }
                )
            else:
                print_sync_report(report)
        _warn_unheld(app_)
    if any_failed:
        raise typer.Exit(1)


# -- ask ----------------------------------------------------------------------------------
def answer_json(answer: Answer) -> dict[str, Any]:
    """The stable machine-readable shape of an answer (docs/answering.md, "Machine-readable
    answers")."""
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "sources": [
            {
                "path": s.path,
                "title": s.title,
                "section": s.section,
                "score": s.score,
                "cited": s.cited,
                "text": s.text,
            }
            for s in answer.sources
        ],
        "as_of": answer.as_of.isoformat() if answer.as_of else None,
        # "answer", or what else the reply is ("rate_limited", "too_long", "empty",
        # "acknowledgement", "notice", "error"), so a script can tell a refusal from an answer.
        "kind": answer.kind,
    }


def _question(text: str, previous: list[str], audience: Viewer = PUBLIC) -> Question:
    history = tuple(Turn("user", p) for p in previous)
    actor = Actor("cli", "cli", is_admin=True)
    return Question(text, history=history, actor=actor, audience=audience)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    previous: Annotated[
        list[str] | None,
        typer.Option("--previous", help="An earlier question in the conversation (repeatable)."),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(help="JSON lines {question, previous} from a file, or - for stdin."),
    ] = None,
    as_partner: Annotated[
        str | None,
        typer.Option(
            "--as-partner",
            metavar="ID",
            help="Answer as this partner of the partners file sees it (its tier, region, "
            "competencies and its own documents).",
        ),
    ] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option(
            "--audience",
            metavar="DIMENSION=TAG[,TAG]",
            help="Answer for readers holding these tags, e.g. tiers=Elite or "
            "tiers=Elite,Advanced (one of them); repeat for more dimensions.",
        ),
    ] = None,
) -> None:
    """Answer a question from the program documents, with numbered sources.

    Answered for the public (documents without an audience) unless --as-partner or
    --audience says who reads it: being an admin does not widen what `ask` searches."""
    if batch is None and not question:
        raise fail(UserError("give a question, or --batch FILE"))
    with command_app() as app_:
        viewer = viewer_for_cli(
            partners=app_.partners.get(),
            as_partner=as_partner,
            audience=audience or (),
            vocabulary=app_.vocabulary(),
        )
        app_.core.ensure_indexed(notify=lambda m: err.print(f"[dim]{m}[/dim]"))
        if batch is not None:
            _ask_batch(app_.core, batch, viewer)
            return
        answer = app_.core.ask(_question(question or "", previous or [], viewer), raising=True)
    if json_out:
        print(json.dumps(answer_json(answer)))
    else:
        print_answer(answer, console)
    if answer.kind == "error":
        raise typer.Exit(1)


def _ask_batch(bot: PartnerBot, batch: str, viewer: Viewer) -> None:
    """Questions as JSON lines {question, previous} from a file (or - for stdin), one answer
    (or error) per line."""
    stream = sys.stdin if batch == "-" else open(batch, encoding="utf-8")  # noqa: SIM115
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                previous = [str(p) for p in item.get("previous", [])]
                q = _question(str(item["question"]), previous, viewer)
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
                print(json.dumps({"error": f"line {number}: {e}"}), flush=True)
                continue
            print(json.dumps(answer_json(bot.ask(q, raising=True))), flush=True)


@app.command()
def chat() -> None:
    """A terminal conversation; follow-ups use the earlier turns."""
    with command_app() as app_:
        app_.core.ensure_indexed(notify=lambda m: err.print(f"[dim]{m}[/dim]"))
        run_console(app_.chat, console=console)


@app.command()
def demo() -> None:
    """Index the sample documents, answer a few partner questions, show a change digest and
    one partner's private notice (no keys, no network)."""
    with command_app() as app_:
        _demo(app_)


def _demo(app: App) -> None:
    bot = app.core
    report = _index_with_progress(bot, SAMPLES_DIR / "docs")
    print_sync_report(report)
    questions = [
        ("whats the new CSAT rule for gold?? deadline?", []),
        ("and for member tier?", ["whats the new CSAT rule for gold?? deadline?"]),
        ("how many internal use licenses do advanced partners get now", []),
        ("which comps replaced app dev and devops", []),
        ("can i get free tickets to the summit in vegas", []),
    ]
    for text, previous in questions:
        console.rule(f"[bold]Q:[/bold] {text}" + (" (follow-up)" if previous else ""))
        print_answer(bot.ask(_question(text, previous)), console)

    from bot.changes.demo import demo_changes

    demo_changes(bot, app.changes, console)

    _demo_audiences(app)

    from bot.comms.demo import demo_partner_notice

    demo_partner_notice(console)


def _demo_audiences(app: App) -> None:
    """Questions asked by partners of two tiers (the sample partners file): each is answered
    from the documents its tier may read, and for its tier; the public sees neither guide."""
    partners = app.partners.get_or_none()
    askers = [partner_viewer(p) for p in partners if p.tier in ("Elite", "Advanced")]
    asked = [
        ("what incentive do we earn on a net-new customer deal?", (*askers, PUBLIC)),
        ("what are the requirements for our tier?", tuple(askers)),
    ]
    for text, viewers in asked:
        for viewer in viewers:
            console.rule(f"[bold]Q:[/bold] {text} [dim](asked as {viewer.name})[/dim]")
            print_answer(app.core.ask(_question(text, [], viewer)), console)


# -- eval ---------------------------------------------------------------------------------
@app.command("eval")
def eval_command(
    sets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Dev sets: folders (or names under knowledge/devsets/) holding corpus/ and "
            "questions.jsonl; or a questions .jsonl (about --docs, or the current index). "
            "Default: every dev set."
        ),
    ] = None,
    docs: Annotated[
        Path | None, typer.Option(help="With a .jsonl: the documents folder it asks about.")
    ] = None,
    baseline: Annotated[bool, typer.Option(help="Also run plain dense top-5.")] = True,
    loco: Annotated[
        bool, typer.Option(help="Also fit on all corpora but one and measure on that one.")
    ] = True,
    glossary: Annotated[
        bool, typer.Option(help="Use the corpora's glossary.yml (--no-glossary: without).")
    ] = True,
    fit: Annotated[
        bool,
        typer.Option(
            "--fit", help="Refit ranking and confidence on these sets and save the weights."
        ),
    ] = False,
    output: Annotated[Path, typer.Option(help="Where to write the JSON results.")] = Path(
        "bench/results/eval.json"
    ),
    calibrate_threshold: Annotated[
        bool, typer.Option("--calibrate", help="Print the per-corpus abstention trade-off.")
    ] = False,
    distractors: Annotated[
        int,
        typer.Option(
            help="Also measure over one index of every corpus plus this many generated "
            "off-topic documents (slow the first time: they are embedded).",
            min=0,
        ),
    ] = 0,
) -> None:
    """Measure retrieval and answers per corpus: recall@k, MRR, facts, abstention, latency."""
    from bot.evaluation.report import run_eval

    try:
        with command_settings() as settings:
            run_eval(
                settings,
                sets or [],
                docs=docs,
                baseline=baseline,
                loco=loco,
                glossary=glossary,
                fit=fit,
                output=output,
                calibrate=calibrate_threshold,
                console=console,
                distractors=distractors,
            )
    except (PartnerbotError, KnowledgeError) as e:
        raise fail(e) from None


# -- serve ---------------------------------------------------------------------------------
@app.command()
def serve() -> None:
    """Run every configured chat platform (Slack, Discord) and the background jobs."""
    from bot.serving.runner import run
    from bot.serving.services import services as served_services

    with command_app(log_level="INFO") as served:
        served.add_platforms()
        if not served.platforms:
            raise UserError(
                "No chat platform configured: set SLACK_BOT_TOKEN (+ SLACK_APP_TOKEN or "
                "SLACK_SIGNING_SECRET) and/or DISCORD_BOT_TOKEN. See README, 'Set up a chat "
                "platform'."
            )
        services = served_services(served)
        served.core.ensure_indexed()
        busy = run(services)
        if busy:
            # A platform call that has not timed out yet must not hold up the exit.
            logger.warning("exiting with %d platform call(s) unfinished", len(busy))
            served.close()
            logging.shutdown()
            os._exit(0)


@app.command("slack-manifest")
def slack_manifest(
    request_url: Annotated[
        str | None,
        typer.Option(help="HTTP mode: your public https://…/slack/events URL (no Socket Mode)."),
    ] = None,
) -> None:
    """Print the Slack app manifest (scopes, events, /partner) to paste into api.slack.com/apps."""
    # Only reads the YAML file: bot/ never imports the Slack SDK.
    from importlib.resources import files

    import yaml

    text = files("adapters").joinpath("slack/manifest.yml").read_text(encoding="utf-8")
    if request_url is None:
        print(text, end="")
        return
    manifest = yaml.safe_load(text)
    settings = manifest["settings"]
    settings["socket_mode_enabled"] = False
    settings["event_subscriptions"]["request_url"] = request_url
    settings["interactivity"]["request_url"] = request_url
    for command in manifest["features"].get("slash_commands", []):
        command["url"] = request_url
    print(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True), end="")


# -- report -------------------------------------------------------------------------------
@app.command()
def report(
    json_out: Annotated[bool, typer.Option("--json")] = False,
    since: Annotated[str | None, typer.Option(help="ISO date or datetime.")] = None,
) -> None:
    """(Admin) Knowledge gaps: recent abstentions and 👎 answers, with counts."""
    with command_app() as app_:
        data = app_.store.interactions.gap_report(since=since).as_json()
    if json_out:
        print(json.dumps(data, indent=2))
        return
    for key, title in (
        ("abstentions", "Questions the documents did not answer"),
        ("downvoted", "Answers rated 👎"),
    ):
        t = Table(title=f"{title} ({data['totals'][key]})")
        t.add_column("count", justify="right")
        t.add_column("question")
        t.add_column("last asked")
        for row in data[key]:
            t.add_row(str(row["n"]), row["question"], row["last"])
        console.print(t)


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
