from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import docx
import pytest

from knowledge import formats
from knowledge.documents import Document, LoadFailure
from knowledge.formats import LoadError
from knowledge.loaders import load_folder, read_file
from tests.hostile_files import alias_bomb_markdown, docx_bomb, docx_bytes
from tests.knowledge.pdfs import make_pdf


def load(tmp_path: Path) -> tuple[dict[str, Document], dict[str, str]]:
    docs: dict[str, Document] = {}
    failures: dict[str, str] = {}
    for item in load_folder(tmp_path):
        if isinstance(item, LoadFailure):
            failures[item.path] = item.reason
        else:
            docs[item.path] = item
    return docs, failures


def test_markdown_front_matter_and_heading_paths(tmp_path: Path) -> None:
    (tmp_path / "tiers.md").write_text(
        "---\ntitle: Tiers 2026\neffective_date: 2026-07-01\naudience: [msp, smb]\n"
        "url: https://example.test/tiers\n---\n# Tiers\nIntro.\n\n## Competencies\n"
        "### Software Development\n#### Requirements\nTwo certified people.\n",
        encoding="utf-8",
    )
    doc = load(tmp_path)[0]["tiers.md"]
    assert doc.title == "Tiers 2026"
    assert doc.effective_date is not None and doc.effective_date.isoformat() == "2026-07-01"
    assert doc.audience.tags("any") == ("msp", "smb")  # a list: anyone holding one of them
    assert doc.url == "https://example.test/tiers"
    paths = [s.path for s in doc.sections]
    assert ("Competencies", "Software Development", "Requirements") in paths


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><head><title>Benefits</title><style>body{color:red}</style></head><body>"
        "<script>alert('steal')</script><h2>MDF</h2><p>MDF is 2% of revenue.</p>"
        "<table><tr><th>Tier</th><th>MDF</th></tr><tr><td>Advanced</td><td>2%</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    doc = load(tmp_path)[0]["page.html"]
    assert doc.title == "Benefits"
    assert "MDF is 2% of revenue." in doc.text
    assert "alert" not in doc.text and "color:red" not in doc.text
    assert doc.sections[0].path == ("MDF",)


def test_pdf_and_docx(tmp_path: Path) -> None:
    (tmp_path / "guide.pdf").write_bytes(
        make_pdf(
            ["Deal registration protects a deal for 120 days.", "Page two text."], title="Guide"
        )
    )
    document = docx.Document()
    document.add_heading("Billing FAQ", level=1)
    document.add_paragraph("Invoices are issued on the 5th of each month.")
    buf = io.BytesIO()
    document.save(buf)
    (tmp_path / "faq.docx").write_bytes(buf.getvalue())

    docs, failures = load(tmp_path)
    assert not failures
    assert "120 days" in docs["guide.pdf"].text
    assert docs["guide.pdf"].sections[1].path == ("Page 2",)
    assert docs["faq.docx"].sections[0].path == ("Billing FAQ",)
    assert "5th of each month" in docs["faq.docx"].text


def test_bad_files_are_reported_and_never_abort_the_run(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\nAdvanced partners need 10 responses.\n")
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 partners".encode("latin-1"))
    (tmp_path / "notpdf.pdf").write_bytes(b"hello")

    docs, failures = load(tmp_path)
    assert set(docs) == {"good.md"}
    assert "binary" in failures["binary.md"] or "NUL" in failures["binary.md"]
    assert "empty" in failures["empty.txt"]
    assert "UTF-8" in failures["latin1.txt"]
    assert "PDF" in failures["corrupt.pdf"]
    assert "not a PDF" in failures["notpdf.pdf"]


def test_bad_front_matter_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_text("---\ntitle: [unclosed\n---\n# Body\ntext\n")
    _, failures = load(tmp_path)
    assert "front matter" in failures["bad.md"] and "line" in failures["bad.md"]


def test_huge_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    import knowledge.loaders as loaders

    monkeypatch.setattr(loaders, "MAX_FILE_BYTES", 1000)
    (tmp_path / "huge.txt").write_text("word " * 1000)
    _, failures = load(tmp_path)
    assert "limit" in failures["huge.txt"]


def test_an_alias_bomb_in_front_matter_is_refused_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "bomb.md").write_text(alias_bomb_markdown(), encoding="utf-8")
    (tmp_path / "good.md").write_text("# Good\nAdvanced partners need 10 responses.\n")
    docs, failures = load(tmp_path)
    assert set(docs) == {"good.md"}
    assert "front matter refused at line" in failures["bomb.md"]
    assert "alias" in failures["bomb.md"]


def test_a_list_where_one_value_belongs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "title.md").write_text("---\ntitle: [a, b]\n---\n# T\ntext\n")
    (tmp_path / "url.md").write_text("---\nurl: {x: 1}\n---\n# T\ntext\n")
    (tmp_path / "tags.md").write_text("---\naudience: [[msp]]\n---\n# T\ntext\n")
    _, failures = load(tmp_path)
    assert "'title' must be a single value, not a list" in failures["title.md"]
    assert "'url' must be a single value, not a mapping" in failures["url.md"]
    assert "'audience' must be a list of names" in failures["tags.md"]


def test_a_docx_zip_bomb_is_refused_quickly_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "bomb.docx").write_bytes(docx_bomb())  # ~360 KB holding 100 MB of XML
    (tmp_path / "good.docx").write_bytes(docx_bytes(["Invoices are issued on the 5th."]))
    (tmp_path / "good.md").write_text("# Good\nAdvanced partners need 10 responses.\n")
    docs, failures = load(tmp_path)
    assert set(docs) == {"good.docx", "good.md"}
    assert failures == {"bomb.docx": "the DOCX unpacks to 101 MB of XML; the limit is 20 MB"}


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.md"
    with huge.open("wb") as f:  # 210 MB, sparse: no disk needed
        f.truncate(210 * 2**20)
    tracemalloc.start()
    try:
        with pytest.raises(LoadError, match="210 MB; the limit is 25 MB"):
            read_file(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak:,} bytes allocated: the file was read"


def test_docx_paragraphs_pdf_pages_and_html_tags_are_bounded(monkeypatch) -> None:
    monkeypatch.setattr(formats, "MAX_PARAGRAPHS", 3)
    monkeypatch.setattr(formats, "MAX_PDF_PAGES", 1)
    monkeypatch.setattr(formats, "MAX_HTML_TAGS", 5)
    with pytest.raises(LoadError, match="4 paragraphs and table rows; the limit is 3"):
        formats.parse(".docx", docx_bytes(["a", "b", "c", "d"]), "long.docx")
    with pytest.raises(LoadError, match="2 pages; the limit is 1"):
        formats.parse(".pdf", make_pdf(["one", "two"]), "long.pdf")
    with pytest.raises(LoadError, match="6 tags; the limit is 5"):
        formats.parse(".html", b"<html><body>" + b"<p>x</p>" * 4 + b"</body></html>", "a.html")
    assert "c" in formats.parse(".docx", docx_bytes(["a", "b", "c"]), "ok.docx").text


def test_links_out_of_the_folder_are_not_followed_and_every_skip_is_reported(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\nThe admin password is hunter2.\n")
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / ".drafts").mkdir()
    (root / "good.md").write_text("# Good\nAdvanced partners need 10 responses.\n")
    (root / "sub" / "fees.md").write_text("# Fees\nThe annual fee is USD 495.\n")
    (root / "alias.md").symlink_to(root / "good.md")  # inside: followed
    (root / "subdir-link").symlink_to(root / "sub")  # a folder inside: found where it is
    (root / "out.md").symlink_to(outside / "secret.md")
    (root / "outdir").symlink_to(outside)
    (root / "dangling.md").symlink_to(root / "missing.md")
    (root / "loop.md").symlink_to(root / "loop.md")
    (root / ".hidden.md").write_text("# Hidden\ntext\n")
    (root / ".drafts" / "next.md").write_text("# Next\ntext\n")
    (root / "logo.png").write_bytes(b"\x89PNG")  # not a document: not reported
    os.mkfifo(root / "pipe.md")  # reading it would block for ever

    docs, failures = load(root)
    assert set(docs) == {"alias.md", "good.md", "sub/fees.md"}
    assert "hunter2" not in " ".join(d.text for d in docs.values())
    assert failures == {
        ".drafts/next.md": "hidden (its name or a folder's starts with '.'); skipped",
        ".hidden.md": "hidden (its name or a folder's starts with '.'); skipped",
        "dangling.md": "a broken symbolic link (its target does not exist); skipped",
        "loop.md": "a symbolic link that loops back on itself; skipped",
        "out.md": "a symbolic link to a file outside the documents folder; skipped",
        "outdir": "a symbolic link to a folder outside the documents folder; not followed",
        "pipe.md": "not a regular file; skipped",
    }
