"""The "v2" edit script over the sample documents, and the change demo."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from rich.console import Console

from bot.app import App
from bot.changes.demo import V2_EDITS, apply_edits, demo_changes, reformat_markdown
from bot.config import SAMPLES_DIR, Settings
from knowledge.changes import changes_from_sync, compare
from knowledge.documents import Document
from knowledge.formats import load_markdown
from knowledge.index import DocumentVersion, SyncReport
from knowledge.loaders import load_folder

DOCS = SAMPLES_DIR / "docs"
EXPECTED = {
    ("competency-requirements.md", ("Security", "Security requirements"), "changed"),
    ("competency-requirements.md", ("Summary table",), "changed"),
    ("csat-requirement.md", ("Requirements by tier",), "changed"),
    ("csat-requirement.md", ("Requirements by tier", "Member partners"), "changed"),
    (
        "csat-requirement.md",
        ("If you miss the requirement", "Member partners who miss it"),
        "changed",
    ),
    ("deal-registration.md", ("Registering from the partner app",), "added"),
    ("partner-locator.md", ("Keeping your listing current",), "removed"),
}


def documents(root: Path) -> dict[str, Document]:
    return {d.path: d for d in load_folder(root) if isinstance(d, Document)}


def sync_report(old: dict[str, Document], new: dict[str, Document]) -> SyncReport:
    """What an index run over `new` after `old` reports (renames by identical content)."""
    report = SyncReport()
    gone = {p: d for p, d in old.items() if p not in new}
    for path, doc in new.items():
        before = old.get(path)
        if before is None:
            report.added.append(path)
            report.changed.append((None, doc))
            match = next((p for p, d in gone.items() if d.content_hash == doc.content_hash), None)
            if match:
                report.renamed.append((match, path))
        elif before.content_hash != doc.content_hash:
            report.updated.append(path)
            v = DocumentVersion(
                path, before.content_hash, before.title, before.effective_date, before.sections
            )
            report.changed.append((v, doc))
        else:
            report.unchanged.append(path)
    for path, doc in gone.items():
        report.removed.append(path)
        report.removed_versions.append(
            DocumentVersion(path, doc.content_hash, doc.title, doc.effective_date, doc.sections)
        )
    return report


def test_the_v2_script_applies_cleanly_to_the_samples(tmp_path: Path) -> None:
    done = apply_edits(DOCS, tmp_path / "v2")
    assert len(done) == len(yaml.safe_load(V2_EDITS.read_text(encoding="utf-8")))
    assert not [line for line in done if "skipped" in line], done


def test_the_v2_samples_make_the_expected_changes_and_nothing_else(tmp_path: Path) -> None:
    apply_edits(DOCS, tmp_path / "v2")
    report = sync_report(documents(DOCS), documents(tmp_path / "v2"))
    assert ("msp-cloud-billing-faq.md", "msp-billing-faq.md") in report.renamed
    assert "training-enablement.md" in report.updated  # reformatted: re-embedded, no change
    found = {(c.doc_path, c.section, c.kind) for c in changes_from_sync(report)}
    assert found == EXPECTED


def test_reformatting_a_sample_changes_its_bytes_but_not_its_content() -> None:
    for path in DOCS.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        reformatted = reformat_markdown(text)
        assert reformatted != text
        new = load_markdown(reformatted.encode(), path.name)
        assert compare(documents(path)[path.name], new) == [], path.name


def test_a_failing_edit_is_reported_and_the_others_still_apply(tmp_path: Path) -> None:
    script = tmp_path / "edits.yml"
    script.write_text(
        "- file: deal-registration.md\n  replace: [{old: 'no such text', new: 'x'}]\n"
        "- file: missing.md\n  reformat: true\n"
        "- file: partner-locator.md\n  delete_section: '## Badges'\n",
        encoding="utf-8",
    )
    done = apply_edits(DOCS, tmp_path / "v2", script)
    assert "skipped" in done[0] and "no such text" in done[0]
    assert "skipped" in done[1]
    assert done[2] == "partner-locator.md: deleted section “Badges”"
    assert "## Badges" not in (tmp_path / "v2" / "partner-locator.md").read_text(encoding="utf-8")


SMALL_DOCS = {
    "security.md": "---\ntitle: Security Competency\neffective_date: 2026-10-01\n---\n"
    "# Security Competency\n## Security requirements\n"
    "- The partner must have at least 3 certified individuals who have passed NW-310.\n"
    "## Renewal\nThe Security competency is checked every 12 months.\n",
    "fees.md": "# Fees\n## Annual fee\nThe annual fee is USD 500.\n",
}
SMALL_SCRIPT = """
- file: security.md
  replace:
    - old: "at least 3 certified"
      new: "at least 4 certified"
- file: fees.md
  rename: program-fees.md
"""


def test_the_demo_shows_the_digest_and_leaves_the_bot_as_it_was(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in SMALL_DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    script = tmp_path / "edits.yml"
    script.write_text(SMALL_SCRIPT, encoding="utf-8")
    app = App(Settings(PARTNERBOT_DATA_DIR=tmp_path / "data"))  # type: ignore[call-arg]
    bot = app.core
    try:
        bot.reindex(docs)
        out = io.StringIO()
        demo_changes(bot, app.changes, Console(file=out, width=200), documents=docs, script=script)
        text = out.getvalue()
        assert "fees.md: renamed to program-fees.md, content unchanged" in text
        assert "1 renamed → 1 program changes recorded" in text
        assert "Partner program changes: 1 change" in text
        assert "**Changed** — Security Competency › Security requirements" in text
        assert "Yes." in text  # "did the requirements for the Security competency change?"
        assert "Note: [" in text  # the document answer notes the recent change
        assert {d["path"] for d in bot.index.documents()} == set(SMALL_DOCS)
        assert app.changes.records.count() == 0
    finally:
        bot.close()
