"""Program changes end to end: index a folder, edit it, re-index, publish, ask.

One module-scoped run indexes a three-document folder four times (v1, the edited v2,
v2 again, v2 with a file renamed); each test works on its own copy of the data.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import Settings
from bot.models import Question
from bot.store import ChangeRecord
from bot.store.sqlite import SqliteStore
from knowledge.changes import SectionChange
from tests.conftest import TEST_PLATFORMS
from tests.fakes.memory_platform import MemoryPlatform

CHANNEL = "C0PARTNERS"
_PREFIXES = ("PARTNERBOT_", "SLACK_", "DISCORD_", "OPENAI_", "CHROMA_")

COMPETENCY = """---
title: Competency Requirements
effective_date: 2026-10-01
---
# Competency Requirements

## Security

### Security requirements

- The partner must have at least 3 certified individuals who have passed NW-310.
- The partner must provide 4 customer references for Security projects.

## Data & AI

The Data & AI competency needs 5 certified individuals across NW-500 and NW-520.

## Keeping a competency

Northwind checks competency requirements at each membership anniversary.
A partner that falls below a requirement has 90 days to close the gap.
"""

DEALS = """---
title: Deal Registration Rules
effective_date: 2026-07-01
---
# Deal Registration Rules

## Protection period

An approved registration protects the deal for 120 days from the approval date.

## Additional discount

| Tier | Additional discount |
|---|---|
| Member | 5% |
| Advanced | 8% |
"""

FEES = """# Annual Fee

## Amount

The annual program fee is USD 500 for every tier.
"""

APP_SECTION = """
## Registering from the partner app

Partners can also register deals in the Northwind Partner app for iOS and Android.
"""


@dataclass(frozen=True)
class Run:
    """The data directory after all runs, and the records each run produced."""

    data_dir: Path
    docs: Path
    baseline: list[ChangeRecord]
    edited: list[ChangeRecord]
    identical: list[ChangeRecord]
    renamed: list[ChangeRecord]
    renamed_pairs: list[tuple[str, str]]


def _edit_v2(docs: Path) -> None:
    competency = docs / "competency.md"
    text = competency.read_text(encoding="utf-8")
    text = text.replace("at least 3 certified individuals", "at least 4 certified individuals")
    start, end = text.index("## Data & AI"), text.index("## Keeping a competency")
    competency.write_text(text[:start] + text[end:], encoding="utf-8")  # delete a section
    deals = docs / "deals.md"
    text = deals.read_text(encoding="utf-8")
    text = text.replace(
        "## Additional discount", APP_SECTION.strip() + "\n\n## Additional discount"
    )
    text = text.replace(  # reformat only: padding, alignment, emphasis, wrapping
        "| Tier | Additional discount |\n|---|---|\n| Member | 5% |\n| Advanced | 8% |",
        "|  Tier      |  Additional discount  |\n|:-----------|----------------------:|\n"
        "|  Member    |  **5%**               |\n|  Advanced  |  **8%**               |",
    ).replace(
        "An approved registration protects the deal for 120 days",
        "An approved registration protects\nthe deal for *120 days*",
    )
    deals.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("changes-scenario")
    docs = root / "docs"
    docs.mkdir()
    for name, text in (("competency.md", COMPETENCY), ("deals.md", DEALS), ("fees.md", FEES)):
        (docs / name).write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation is per test
        for key in list(os.environ):
            if key.startswith(_PREFIXES):
                mp.delenv(key)
        mp.chdir(root)
        app = App(Settings(PARTNERBOT_DATA_DIR=root / "data"))  # type: ignore[call-arg]
        try:
            app.core.reindex(docs)
            baseline = list(app.changes.last_run)
            _edit_v2(docs)
            app.core.reindex(docs)
            edited = list(app.changes.last_run)
            app.core.reindex(docs)
            identical = list(app.changes.last_run)
            (docs / "fees.md").rename(docs / "program-fees.md")
            report = app.core.reindex(docs)
            renamed = list(app.changes.last_run)
        finally:
            app.close()
    yield Run(root / "data", docs, baseline, edited, identical, renamed, report.renamed)


@pytest.fixture
def make_changed_app(run: Run, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def factory(**overrides: Any) -> App:
        data_dir = tmp_path / f"data-{len(apps)}"
        shutil.copytree(run.data_dir, data_dir)
        app = App(Settings(PARTNERBOT_DATA_DIR=data_dir, **overrides), registry=TEST_PLATFORMS)
        apps.append(app)
        if app.settings.database.backend != "sqlite":  # the state is not in the copied dir
            _copy_change_records(data_dir / "state.sqlite3", app)
        return app

    yield factory
    for app in apps:
        app.close()


def _copy_change_records(sqlite_file: Path, bot: App) -> None:
    """The run's change records (kept in its SQLite state) into the bot's own store."""
    source = SqliteStore(sqlite_file)
    try:
        for record in source.changes.list():
            change = SectionChange(
                record.doc_path,
                record.doc_title,
                record.section,
                record.kind,
                record.edits,
                record.effective_date,
            )
            bot.changes.records.add([change], detected_at=record.detected_at)
    finally:
        source.close()


# -- detection -----------------------------------------------------------------------------------
def test_the_first_index_is_the_baseline(run: Run) -> None:
    assert run.baseline == []


def test_edit_delete_add_and_reformat_make_exactly_three_changes(run: Run) -> None:
    found = {(r.doc_path, r.section, r.kind): r for r in run.edited}
    assert set(found) == {
        ("competency.md", ("Security", "Security requirements"), "changed"),
        ("competency.md", ("Data & AI",), "removed"),
        ("deals.md", ("Registering from the partner app",), "added"),
    }
    changed = found["competency.md", ("Security", "Security requirements"), "changed"]
    assert changed.before == (
        "The partner must have at least 3 certified individuals who have passed NW-310."
    )
    assert changed.after == (
        "The partner must have at least 4 certified individuals who have passed NW-310."
    )
    assert changed.effective_date is not None and changed.effective_date.isoformat() == "2026-10-01"
    removed = found["competency.md", ("Data & AI",), "removed"]
    assert removed.before.startswith("The Data & AI competency needs 5 certified individuals")
    assert removed.after == ""
    added = found["deals.md", ("Registering from the partner app",), "added"]
    assert added.after == (
        "Partners can also register deals in the Northwind Partner app for iOS and Android."
    )
    assert added.doc_title == "Deal Registration Rules"


def test_an_identical_reindex_records_nothing(run: Run) -> None:
    assert run.identical == []


def test_a_renamed_file_records_no_change(run: Run) -> None:
    assert run.renamed_pairs == [("fees.md", "program-fees.md")]
    assert run.renamed == []


# -- publishing ----------------------------------------------------------------------------------
async def test_publish_posts_one_digest_with_three_cited_lines(
    make_changed_app: Callable[..., App],
) -> None:
    app = make_changed_app(PARTNERBOT_CHANGES_CHANNELS=f"memory:{CHANNEL}")
    platform = app.add_platform("memory", admins={"U-admin"})
    assert isinstance(platform, MemoryPlatform)
    refused = await platform.command("changes", user="U-partner")
    assert refused.text.startswith("Sorry, only partnerbot admins can publish")
    preview = await platform.command("changes preview", user="U-admin")
    assert "Security requirements" in preview.text and not platform.in_place(CHANNEL)
    published = await platform.command("changes", user="U-admin")
    assert published.text == f"Published the digest of 3 changes to memory:{CHANNEL}."
    [posted] = platform.in_place(CHANNEL)
    assert posted.notice is not None and posted.notice.key.startswith("changes:")
    assert posted.notice.title == "Partner program changes: 3 changes"
    lines = [line for line in posted.notice.text.split("\n") if line[:2] in {"1.", "2.", "3."}]
    assert len(lines) == 3
    assert any(
        "**Changed** — Competency Requirements › Security › Security requirements:" in line
        and "at least 3 certified" in line
        and "at least 4 certified" in line
        and "(competency.md, effective 2026-10-01)" in line
        for line in lines
    )
    assert any(
        "**Removed** — Competency Requirements › Data & AI:" in line
        and "(competency.md, effective 2026-10-01)" in line
        for line in lines
    )
    assert any(
        "**Added** — Deal Registration Rules › Registering from the partner app:" in line
        and "(deals.md, effective 2026-07-01)" in line
        for line in lines
    )
    # Published once: a second publish has nothing to post.
    again = await platform.command("changes", user="U-admin")
    assert again.text == "No new program changes to publish."
    assert len(platform.in_place(CHANNEL)) == 1


# -- questions -----------------------------------------------------------------------------------
def test_what_changed_this_quarter_is_answered_from_the_records(
    make_changed_app: Callable[..., App],
) -> None:
    answer = make_changed_app().core.ask(Question("what changed in the program this quarter?"))
    assert "3 changes" in answer.text
    assert {(c.path, c.section) for c in answer.citations} == {
        ("competency.md", "Security › Security requirements"),
        ("competency.md", "Data & AI"),
        ("deals.md", "Registering from the partner app"),
    }
    assert "detected " in answer.text and "effective 2026-10-01" in answer.text


def test_did_the_security_requirements_change_is_answered_from_the_records(
    make_changed_app: Callable[..., App],
) -> None:
    answer = make_changed_app().core.ask(
        Question("did the requirements for the Security competency change?")
    )
    assert answer.text.startswith("Yes.")
    assert "at least 4 certified" in answer.text
    assert [(c.path, c.section) for c in answer.citations] == [
        ("competency.md", "Security › Security requirements")
    ]


def test_an_answer_from_a_changed_section_notes_the_change(
    make_changed_app: Callable[..., App],
) -> None:
    answer = make_changed_app().core.ask(
        Question("how many NW-310 certified individuals does the Security competency need?")
    )
    assert not answer.abstained
    assert "4 certified individuals" in answer.text
    note = answer.text.split("\n")[-1]
    assert note.startswith("Note: [")
    assert "Security › Security requirements changed on" in note
