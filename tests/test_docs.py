"""The documents a newcomer reads: a README short enough to read, and no link that leads
nowhere. Every relative link in the README, docs/, bench/results/ and the adapters' READMEs
must name a file or folder that exists, and its #anchor a heading of that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 300

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def documents() -> list[Path]:
    """The Markdown files whose links are checked."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found += sorted((ROOT / "bench" / "results").glob("*.md"))
    found += sorted((ROOT / "adapters").glob("*/README.md"))
    return found


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, inline code removed (links there are examples)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(INLINE_CODE.sub("", line))
    return lines


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (a repeated heading gets -1, -2, …)."""
    seen: dict[str, int] = {}
    result = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        if m := HEADING.match(line):
            slug = anchor(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def broken_links(path: Path, *, root: Path = ROOT) -> list[str]:
    """Each relative link of `path` that leads nowhere, as "file: link (why)"."""
    root = root.resolve()
    broken = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, …
                continue
            file_part, _, fragment = target.partition("#")
            where = (path.parent / file_part).resolve() if file_part else path
            shown = f"{path.relative_to(root)}: {target}"
            if not where.is_relative_to(root):
                broken.append(f"{shown} (outside the repository)")
            elif not where.exists():
                broken.append(f"{shown} (no such file)")
            elif fragment and (where.is_dir() or where.suffix != ".md"):
                broken.append(f"{shown} (an anchor on something that is not Markdown)")
            elif fragment and fragment not in anchors(where):
                broken.append(f"{shown} (no heading with that anchor)")
    return broken


def test_the_readme_is_short_enough_to_read() -> None:
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(path: Path) -> None:
    assert broken_links(path) == []


def test_every_page_of_docs_is_linked_from_the_readme() -> None:
    readme = "\n".join(prose_lines((ROOT / "README.md").read_text(encoding="utf-8")))
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in LINK.findall(readme)}
    pages = set((ROOT / "docs").glob("*.md"))
    assert pages, "docs/ holds the internals the README points to"
    assert sorted(p.name for p in pages - linked) == []


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Two words\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[fine](docs/page.md#two-words) [here](#top) [web](https://example.com/x)\n"
        "[gone](docs/missing.md) [no heading](docs/page.md#three-words)\n"
        "[up](../elsewhere.md) `[in code](docs/missing.md)`\n"
        "```\n[in a block](docs/missing.md)\n```\n"
        "# Top\n",
        encoding="utf-8",
    )
    assert broken_links(readme, root=tmp_path) == [
        "README.md: docs/missing.md (no such file)",
        "README.md: docs/page.md#three-words (no heading with that anchor)",
        "README.md: ../elsewhere.md (outside the repository)",
    ]


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("`partnerbot serve`", "partnerbot-serve"),
        ("Health, readiness, metrics", "health-readiness-metrics"),
        ("The vendor's web console", "the-vendors-web-console"),
        ("Who may read what: audiences", "who-may-read-what-audiences"),
        ("Chunks and content hashes", "chunks-and-content-hashes"),
    ],
)
def test_heading_anchors_are_those_github_makes(heading: str, expected: str) -> None:
    assert anchor(heading) == expected
