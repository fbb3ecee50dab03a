"""The program-change demo: re-index a "v2" of the sample documents, show the digest.

`apply_edits` applies knowledge/samples/v2/edits.yml to a copy of a documents folder
(one failed edit is reported and skipped, never fatal); `demo_changes` re-indexes the
copy on a bot, prints the digest and answers change questions, then restores the
original folder without recording it, so the demo can run again and again.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from bot.changes.digest import build_digest
from bot.config import SAMPLES_DIR
from bot.models import Answer, Question

if TYPE_CHECKING:
    from bot.changes.service import ProgramChanges
    from knowledge.index import SyncReport

V2_EDITS = SAMPLES_DIR / "v2" / "edits.yml"
DEMO_QUESTIONS = (
    "what changed in the program this quarter?",
    "did the requirements for the Security competency change?",
    "how many NW-310 certified people does the Security competency need?",
)

_HEADING = re.compile(r"^(#{1,6})\s+\S")
_LIST_ITEM = re.compile(r"^(\s*)[-*+]\s+")
_AMOUNT = re.compile(r"\b(USD [\d,]+)")


class EditError(ValueError):
    """An edit in the script does not fit the document (e.g. its text is not there)."""


# -- applying the edit script --------------------------------------------------------------
def _section_span(lines: list[str], heading: str) -> tuple[int, int]:
    """[start, end) of the lines of a heading's section, subsections included."""
    matches = [i for i, line in enumerate(lines) if line.strip() == heading.strip()]
    if len(matches) != 1:
        raise EditError(f"heading {heading!r} found {len(matches)} times (need exactly 1)")
    start = matches[0]
    level = len(heading.strip()) - len(heading.strip().lstrip("#"))
    end = len(lines)
    for i in range(start + 1, len(lines)):
        m = _HEADING.match(lines[i])
        if m and len(m.group(1)) <= level:
            end = i
            break
    return start, end


def _replace(text: str, pairs: Sequence[dict[str, str]]) -> str:
    for pair in pairs:
        old, new = str(pair["old"]), str(pair["new"])
        count = text.count(old)
        if count != 1:
            raise EditError(f"{old[:60]!r} found {count} times (need exactly 1)")
        text = text.replace(old, new)
    return text


def _add_section(text: str, after: str, markdown: str) -> str:
    lines = text.split("\n")
    _, end = _section_span(lines, after)
    block = markdown.strip("\n").split("\n")
    return "\n".join([*lines[:end], *block, "", *lines[end:]])


def _delete_section(text: str, heading: str) -> str:
    lines = text.split("\n")
    start, end = _section_span(lines, heading)
    return "\n".join(lines[:start] + lines[end:])


def _wrap(text: str, width: int) -> list[str]:
    # Never inside a word or at a hyphen: that would change the text, not its layout.
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def reformat_markdown(text: str, width: int = 60) -> str:
    """Change only the formatting: wrap lines, `*` bullets, bold amounts, padded tables."""
    out: list[str] = []
    in_front_matter = text.startswith("---\n")
    for number, line in enumerate(text.split("\n")):
        if in_front_matter:
            out.append(line)
            if number > 0 and line.strip() == "---":
                in_front_matter = False
            continue
        stripped = line.strip()
        if not stripped or _HEADING.match(line):
            out.append(line)
        elif stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            out.append("|  " + "  |  ".join(cells) + "  |")
        elif m := _LIST_ITEM.match(line):
            item = _AMOUNT.sub(r"**\1**", line[m.end() :])
            wrapped = _wrap(item, width - 2)
            out.append(f"{m.group(1)}* {wrapped[0]}")
            out.extend(f"{m.group(1)}  {w}" for w in wrapped[1:])
        else:
            out.extend(_wrap(_AMOUNT.sub(r"**\1**", stripped), width))
    return "\n".join(out)


def _apply_one(root: Path, edit: dict[str, Any]) -> str:
    name = str(edit["file"])
    path = root / name
    if not path.is_file():
        raise EditError(f"{name} is not in {root}")
    text = path.read_text(encoding="utf-8")
    if "replace" in edit:
        path.write_text(_replace(text, edit["replace"]), encoding="utf-8")
        return f"{name}: {len(edit['replace'])} text edit(s)"
    if "add_section" in edit:
        spec = edit["add_section"]
        path.write_text(_add_section(text, spec["after"], spec["text"]), encoding="utf-8")
        heading = str(spec["text"]).strip().split("\n")[0].lstrip("# ")
        return f"{name}: added section “{heading}”"
    if "delete_section" in edit:
        path.write_text(_delete_section(text, edit["delete_section"]), encoding="utf-8")
        return f"{name}: deleted section “{str(edit['delete_section']).lstrip('# ')}”"
    if edit.get("reformat"):
        path.write_text(reformat_markdown(text), encoding="utf-8")
        return f"{name}: reformatted only (wrapping, bullets, bold, table spacing)"
    if "rename" in edit:
        path.rename(root / str(edit["rename"]))
        return f"{name}: renamed to {edit['rename']}, content unchanged"
    raise EditError(f"no known action in the edit for {name}")


def apply_edits(source: Path, dest: Path, script: Path = V2_EDITS) -> list[str]:
    """Copy `source` to `dest` and apply the edit script; one line per edit (or why skipped)."""
    shutil.copytree(source, dest)
    edits = yaml.safe_load(script.read_text(encoding="utf-8")) or []
    done: list[str] = []
    for edit in edits:
        try:
            done.append(_apply_one(dest, edit))
        except (EditError, KeyError, TypeError, OSError) as e:
            done.append(f"{edit.get('file', '?')}: skipped ({e})")
    return done


# -- the demo ------------------------------------------------------------------------------
def _print_answer(console: Console, answer: Answer) -> None:
    console.print(escape(answer.text), highlight=False, soft_wrap=True)
    for c in answer.citations:
        dated = f", {c.effective_date.isoformat()}" if c.effective_date else ""
        console.print(f"  \\[{c.number}] {escape(c.label)} ({c.path}{dated})", highlight=False)


class DemoHost(Protocol):
    """What the demo drives: re-index a folder, ask a question (the core)."""

    def reindex(self, path: Path) -> SyncReport: ...

    def ask(self, question: Question) -> Answer: ...


def demo_changes(
    bot: DemoHost,
    changes: ProgramChanges,
    console: Console,
    *,
    documents: Path = SAMPLES_DIR / "docs",
    script: Path = V2_EDITS,
) -> None:
    """Show change detection on a bot that has `documents` indexed (as `partnerbot demo` does)."""
    console.rule("[bold]Program changes[/bold]: the vendor publishes a v2 of the documents")
    records = []
    try:
        with tempfile.TemporaryDirectory(prefix="partnerbot-v2-") as tmp:
            v2 = Path(tmp) / "docs"
            for line in apply_edits(documents, v2, script):
                console.print(f"  • {escape(line)}", highlight=False)
            report = bot.reindex(v2)
        records = list(changes.last_run)
        c = report.counts()
        console.print(
            f"re-indexed: {c['updated']} updated, {c['added']} added, {c['removed']} removed, "
            f"{len(report.renamed)} renamed → {len(records)} program changes recorded",
            highlight=False,
        )
        if records:
            digest = build_digest(records, llm=changes.llm())
            console.print(
                Panel(escape(digest.text), title=escape(digest.title), title_align="left"),
                highlight=False,
            )
        for text in DEMO_QUESTIONS:
            console.rule(f"[bold]Q:[/bold] {escape(text)}")
            _print_answer(console, bot.ask(Question(text, asker="demo-changes")))
    finally:
        # Back to the original documents, unrecorded, so the next demo starts the same.
        with changes.paused():
            bot.reindex(documents)
        changes.records.delete([r.id for r in records])
