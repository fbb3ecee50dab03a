from __future__ import annotations

from knowledge.chunking import section_units
from knowledge.markup import plain_inline, plain_text


def test_an_html_table_in_markdown_becomes_rows_with_list_cells_joined() -> None:
    units = section_units(
        "<table><thead><tr><th>Program</th><th>Requirements</th></tr></thead><tbody>"
        "<tr><th>Reseller</th><td><ul><li>5 DPN Sales Specialists</li>"
        "<li>$100K in annual business</li></ul></td></tr></tbody></table>"
    )
    assert units == [
        "Program: Reseller; Requirements: 5 DPN Sales Specialists; $100K in annual business."
    ]


def test_shortcodes_links_escapes_and_alerts_leave_only_their_text() -> None:
    text = plain_text(
        "Go to {{< ui >}}Plan & Usage{{< /ui >}} and see [Trial Orgs][3].\n"
        '{{< img src="x.png" alt="diagram" >}}\n'
        '<div class="alert alert-info">Contact <a href="mailto:a@b.com">a@b.com</a>.</div>\n'
        "Takes 1\\-2 business days \\(ISV\\) and **must** be `enabled`.\n"
        "[3]: /partners/trial-orgs/\n"
    )
    assert "Go to Plan & Usage and see Trial Orgs." in text
    assert "Contact a@b.com." in text
    assert "Takes 1-2 business days (ISV) and must be enabled." in text
    assert "{{" not in text and "<" not in text and "/partners/" not in text


def test_a_wrapped_line_starting_with_a_greater_than_sign_is_not_a_quote() -> None:
    assert plain_text("Open Support\n> New incident in the portal.") == (
        "Open Support\n> New incident in the portal."
    )
    assert plain_text("> [!NOTE]\n> Fees are billed monthly.") == "Fees are billed monthly."


def test_headings_lose_anchors_and_escapes() -> None:
    assert plain_inline('Fees \\(ISV\\)<a name="fees"></a>') == "Fees (ISV)"
