"""Section-level comparison: content changes count; moves and formatting do not."""

from __future__ import annotations

from datetime import date

from knowledge.changes import (
    SectionChange,
    SentenceEdit,
    changes_from_sync,
    compare,
    section_sentences,
)
from knowledge.documents import Document
from knowledge.formats import load_markdown
from knowledge.index import DocumentVersion, SyncReport

V1 = """---
title: Competency Requirements
effective_date: 2026-10-01
---
# Competency Requirements

## Security

The Security competency covers Northwind Shield.

### Security requirements

- The partner must have at least 3 certified individuals who have passed NW-310.
- The partner must provide 4 customer references for Security projects.

## Data & AI

The Data & AI competency covers Northwind Insight. It needs 5 certified individuals.

## Summary table

| Competency | Certified individuals | Revenue |
|---|---|---|
| Security | 3 | USD 150,000 |
| Data & AI | 5 | USD 120,000 |

## Keeping a competency

Northwind checks competency requirements at each membership anniversary.
A partner that falls below a requirement has 90 days to close the gap.
"""


def doc(text: str, path: str = "competency.md") -> Document:
    return load_markdown(text.encode(), path)


def version(d: Document) -> DocumentVersion:
    return DocumentVersion(d.path, d.content_hash, d.title, d.effective_date, d.sections)


def changes(old: str, new: str) -> list[SectionChange]:
    return compare(doc(old), doc(new))


def test_identical_versions_have_no_changes() -> None:
    assert changes(V1, V1) == []


def test_an_edited_sentence_is_a_changed_section_with_before_and_after() -> None:
    new = V1.replace("at least 3 certified", "at least 4 certified")
    (change,) = changes(V1, new)
    assert change.kind == "changed"
    assert change.section == ("Security", "Security requirements")
    assert change.edits == (
        SentenceEdit(
            "The partner must have at least 3 certified individuals who have passed NW-310.",
            "The partner must have at least 4 certified individuals who have passed NW-310.",
        ),
    )
    assert change.effective_date == date(2026, 10, 1)
    assert change.title == "Competency Requirements"


def test_a_table_row_change_is_shown_as_header_value_pairs() -> None:
    new = V1.replace("| Security | 3 | USD 150,000 |", "| Security | 4 | USD 150,000 |")
    (change,) = changes(V1, new)
    assert change.section == ("Summary table",)
    assert change.before.startswith("Competency: Security; Certified individuals: 3")
    assert change.after.startswith("Competency: Security; Certified individuals: 4")


def test_added_and_removed_sentences_stand_alone_when_nothing_is_similar() -> None:
    new = V1.replace(
        "A partner that falls below a requirement has 90 days to close the gap.",
        "Partners get a reminder email 30 days before each anniversary.",
    )
    (change,) = changes(V1, new)
    assert change.section == ("Keeping a competency",)
    assert (
        SentenceEdit("A partner that falls below a requirement has 90 days to close the gap.", None)
        in change.edits
    )
    assert (
        SentenceEdit(None, "Partners get a reminder email 30 days before each anniversary.")
        in change.edits
    )


def test_sections_added_and_removed() -> None:
    new = V1.replace(
        "## Data & AI\n\nThe Data & AI competency covers Northwind Insight. "
        "It needs 5 certified individuals.\n\n",
        "",
    )
    new += "\n## Renewal\n\nCompetencies renew every 12 months.\n"
    by_kind = {c.kind: c for c in changes(V1, new)}
    assert set(by_kind) == {"added", "removed"}
    assert by_kind["added"].section == ("Renewal",)
    assert by_kind["added"].after == "Competencies renew every 12 months."
    assert by_kind["removed"].section == ("Data & AI",)
    assert by_kind["removed"].before.startswith("The Data & AI competency covers")


def test_a_removed_section_takes_its_subsections_with_it() -> None:
    start = V1.index("## Security")
    end = V1.index("## Data & AI")
    (change,) = changes(V1, V1[:start] + V1[end:])
    assert change.kind == "removed"
    assert change.section == ("Security",)
    assert len(change.edits) == 3  # the intro sentence and both requirements


def test_formatting_only_edits_are_not_changes() -> None:
    new = (
        V1.replace("- The partner must have", "* The partner **must** have")
        .replace(
            "- The partner must provide 4 customer references",
            "*   The partner must provide\n    4 customer references",
        )
        .replace("| Security | 3 | USD 150,000 |", "|  Security  |  3  |  USD 150,000  |")
        .replace("|---|---|---|", "|:--|:-:|--:|")
        .replace("covers Northwind Insight. It needs", "covers _Northwind Insight_.\nIt   needs")
        .replace("at each membership anniversary.", "at each membership   anniversary.  ")
        .replace("The Security competency", "The security competency")
    )
    assert changes(V1, new) == []


def test_reordered_sentences_and_moved_sections_are_not_changes() -> None:
    moved = V1.replace(
        "Northwind checks competency requirements at each membership anniversary.\n"
        "A partner that falls below a requirement has 90 days to close the gap.",
        "A partner that falls below a requirement has 90 days to close the gap.\n"
        "Northwind checks competency requirements at each membership anniversary.",
    )
    assert changes(V1, moved) == []
    # The whole "Keeping a competency" section moved to the top of the document.
    keep = V1[V1.index("## Keeping a competency") :]
    top = V1.replace(keep, "").replace("## Security\n", keep + "\n## Security\n")
    assert changes(V1, top) == []


def test_a_subtree_moved_under_another_parent_is_not_a_change() -> None:
    nested = V1.replace("## Security\n", "## Competencies\n\n### Security\n").replace(
        "### Security requirements", "#### Security requirements"
    )
    new_paths = {s.path for s in doc(nested).sections}
    assert ("Competencies", "Security", "Security requirements") in new_paths
    assert changes(V1, nested) == []


def test_a_new_title_is_a_document_level_change() -> None:
    new = V1.replace("title: Competency Requirements", "title: Competency Requirements 2027")
    (change,) = changes(V1, new)
    assert change.section == ()
    assert change.edits == (
        SentenceEdit("Title: Competency Requirements", "Title: Competency Requirements 2027"),
    )


def test_section_sentences_rejoin_wrapped_list_items() -> None:
    assert section_sentences("- a list item that is\n  wrapped onto two lines") == [
        "a list item that is wrapped onto two lines."
    ]


# -- over a whole index run ----------------------------------------------------------------
def report(**fields: object) -> SyncReport:
    r = SyncReport()
    for key, value in fields.items():
        setattr(r, key, value)
    return r


def test_the_first_index_run_is_the_baseline_not_a_change() -> None:
    d = doc(V1)
    assert changes_from_sync(report(added=[d.path], changed=[(None, d)])) == []


def test_a_new_and_a_removed_document_are_one_change_each() -> None:
    new, old = doc(V1, "new.md"), version(doc(V1.replace("Competency", "Tier"), "old.md"))
    found = changes_from_sync(
        report(
            added=["new.md"],
            removed=["old.md"],
            unchanged=["other.md"],
            changed=[(None, new)],
            removed_versions=[old],
        )
    )
    assert [(c.doc_path, c.kind, c.section) for c in found] == [
        ("new.md", "added", ()),
        ("old.md", "removed", ()),
    ]
    assert found[0].after.startswith("The Security competency covers")


def test_a_renamed_file_with_identical_content_is_no_change() -> None:
    new, old = doc(V1, "renamed.md"), version(doc(V1, "competency.md"))
    found = changes_from_sync(
        report(
            added=["renamed.md"],
            removed=["competency.md"],
            renamed=[("competency.md", "renamed.md")],
            changed=[(None, new)],
            removed_versions=[old],
        )
    )
    assert found == []


def test_a_renamed_and_edited_file_is_compared_section_by_section() -> None:
    new = doc(V1.replace("at least 3 certified", "at least 4 certified"), "renamed.md")
    old = version(doc(V1, "competency.md"))
    found = changes_from_sync(
        report(
            added=["renamed.md"],
            removed=["competency.md"],
            changed=[(None, new)],
            removed_versions=[old],
        )
    )
    assert [(c.doc_path, c.kind, c.section) for c in found] == [
        ("renamed.md", "changed", ("Security", "Security requirements"))
    ]


def test_updated_documents_are_compared_with_their_previous_version() -> None:
    old = version(doc(V1))
    new = doc(V1.replace("90 days", "60 days"))
    found = changes_from_sync(report(updated=[new.path], changed=[(old, new)]))
    assert [c.section for c in found] == [("Keeping a competency",)]
