"""Markup inside Markdown, turned into the plain lines that chunking understands.

Program documents kept in docs repositories mix Markdown with HTML (tables whose
cells hold lists, alert boxes, links), site-generator shortcodes (`{{< img … >}}`,
`{% include %}`), admonition markers (`> [!NOTE]`, `:::note`) and reference-style
links. Left in, they cut tables into tag soup that no answer can quote and that
the lexical index scores as words. This keeps the text and its structure — a
table row stays one row, a list item one item — and drops the markup.
"""

from __future__ import annotations

import re
from functools import lru_cache

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SHORTCODE = re.compile(r"\{\{[<%].*?[%>]\}\}", re.DOTALL)
_TEMPLATE_TAG = re.compile(r"\{%.*?%\}", re.DOTALL)
_FENCED_DIRECTIVE = re.compile(r"^\s*:::.*$", re.MULTILINE)
_ADMONITION = re.compile(r"^\s*>\s*\[!(\w+)\]\s*$", re.MULTILINE | re.IGNORECASE)
_INCLUDE = re.compile(r"\[!INCLUDE[^\]]*\]\([^)]*\)\]?", re.IGNORECASE)
_REF_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s+\S+.*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_INLINE_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`([^`\n]+)`")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PIPE_ROW = re.compile(r"^\s*\|.*<[a-zA-Z/].*$", re.MULTILINE)
_ITEM_BREAK = re.compile(r"</li>\s*<li[^>]*>|<br\s*/?>", re.IGNORECASE)
_HTML_BLOCK = re.compile(
    r"<(table|ul|ol|div|p|dl|details|blockquote)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE
)


def plain_text(text: str) -> str:
    """Section text with markup removed; tables and lists keep their Markdown shape."""
    if not _looks_marked_up(text):
        return text
    text = _COMMENT.sub("", text)
    text = _SHORTCODE.sub("", text)
    text = _TEMPLATE_TAG.sub("", text)
    text = _INCLUDE.sub("", text)
    text = _ADMONITION.sub("", text)
    text = _FENCED_DIRECTIVE.sub("", text)
    text = _REF_DEFINITION.sub("", text)
    text = _unquote(text)
    text = _PIPE_ROW.sub(lambda m: _flat_html(m.group(0)), text)
    text = _HTML_BLOCK.sub(lambda m: _html_block(m.group(0)), text)
    text = _IMAGE.sub("", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _INLINE_LINK.sub(_link, text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _CODE.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _ESCAPE.sub(r"\1", text)  # Markdown backslash escapes: "1\\-2 days" → "1-2 days"
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _unquote(text: str) -> str:
    """Drop blockquote markers ("> "), but only where a quote starts a block: a wrapped
    line that happens to begin with ">" ("Support\n> New incident") keeps it."""
    lines = text.split("\n")
    quoting = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(">") and (quoting or i == 0 or not lines[i - 1].strip()):
            lines[i] = stripped[1:].lstrip()
            quoting = True
        else:
            quoting = quoting and bool(stripped)
    return "\n".join(lines)


def plain_inline(text: str) -> str:
    """A title or heading without markup ("Fees\\(ISV\\)<a name=…></a>" → "Fees(ISV)")."""
    if not _looks_marked_up(text):
        return text
    return _inline(_TAG.sub("", _ESCAPE.sub(r"\1", text)))


def _looks_marked_up(text: str) -> bool:
    return any(mark in text for mark in ("<", "{{", "{%", "[", ":::", "**", "__", "`", ">", "\\"))


def _link(m: re.Match[str]) -> str:
    label, target = m.group(1), m.group(2)
    if target.startswith(("http://", "https://")) and target.rstrip("/") not in label:
        return f"{label} ({target})"
    if target.startswith("mailto:") and target[7:] not in label:
        return f"{label} ({target[7:]})"
    return label


@lru_cache(maxsize=1024)
def _html_block(html: str) -> str:
    """An HTML table becomes Markdown table rows (list items in a cell joined by '; '),
    a list becomes '- item' lines, anything else its text, paragraph by paragraph."""
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    soup = BeautifulSoup(html, "html.parser")
    lines: list[str] = []
    root = soup.find(True)
    if not isinstance(root, Tag):
        return soup.get_text(" ", strip=True)
    if root.name == "table":
        for row in root.find_all("tr"):
            cells = [_cell_text(c) for c in row.find_all(["th", "td"], recursive=False)]
            if any(cells):
                lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        if len(lines) > 1:
            width = lines[0].count("|") - 1
            lines.insert(1, "|" + "---|" * width)
        return "\n\n" + "\n".join(lines) + "\n\n"
    if root.name in {"ul", "ol"}:
        for item in root.find_all("li"):
            text = _inline(item.get_text(" ", strip=True))
            if text:
                lines.append(f"- {text}")
        return "\n\n" + "\n".join(lines) + "\n\n"
    for block in root.find_all(["p", "li", "dt", "dd"]) or [root]:
        text = _inline(block.get_text(" ", strip=True))
        if text:
            lines.append(text)
    return "\n\n" + "\n\n".join(lines) + "\n\n"


def _flat_html(line: str) -> str:
    """A Markdown table row whose cells hold HTML lists: items joined by '; ', tags gone."""
    return _TAG.sub("", _ITEM_BREAK.sub("; ", line))


def _cell_text(cell: object) -> str:
    from bs4.element import Tag

    assert isinstance(cell, Tag)
    items = [_inline(li.get_text(" ", strip=True)) for li in cell.find_all("li")]
    if items:
        return "; ".join(i.rstrip(".;") for i in items if i)
    return _inline(cell.get_text(" ", strip=True))


def _inline(text: str) -> str:
    text = _SHORTCODE.sub("", text)
    text = _INLINE_LINK.sub(_link, _REF_LINK.sub(r"\1", text))
    text = re.sub(r"\s+", " ", _EMPHASIS.sub(r"\2", text)).strip()
    return re.sub(r" ([.,;:!?])(?=\s|$)", r"\1", text)  # "a@b.com ." from joined tags
