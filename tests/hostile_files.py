"""Hostile files for the tests: a YAML alias bomb, a DOCX zip bomb, and friends."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def alias_bomb_yaml(*, key: str = "title", levels: int = 9) -> str:
    """The "billion laughs": each level lists the previous one nine times (9**levels values)."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        ref = f"*l{level - 1}"
        lines.append(f"l{level}: &l{level} [{','.join([ref] * 9)}]")
    lines.append(f"{key}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def alias_bomb_markdown() -> str:
    """About 470 bytes of Markdown whose front matter expands to 387 million strings."""
    return f"---\n{alias_bomb_yaml()}---\n# Bomb\nSome text.\n"


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bytes(paragraphs: list[str] | None = None, *, repeat: int = 0) -> bytes:
    """A minimal valid .docx; `repeat` adds that many copies of one paragraph (a zip bomb
    when large: 100 MB of XML compresses to a few hundred KB)."""
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs or [])
    filler = "<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body>'.encode())
            part.write(body.encode())
            chunk = (filler * 1000).encode()
            for _ in range(repeat // 1000):
                part.write(chunk)
            part.write(b"</w:body></w:document>")
    return buf.getvalue()


def docx_bomb() -> bytes:
    """About 300 KB of .docx holding 100 MB of paragraph XML."""
    return docx_bytes(repeat=1_400_000)


def hostile_folder(root: Path, outside: Path) -> dict[str, str]:
    """A documents folder holding both bombs, a link out of it and two good files; returns
    the good files' questions and the words their answers must contain."""
    root.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.md").write_text("# Secret\nThe admin password is hunter2.\n")
    (root / "bomb.md").write_text(alias_bomb_markdown(), encoding="utf-8")
    (root / "bomb.docx").write_bytes(docx_bomb())
    (root / "secret-link.md").symlink_to(outside / "secret.md")
    (root / "fees.md").write_text(
        "---\ntitle: Annual fees\n---\n# Annual fees\n## Member\n"
        "The Member annual fee is USD 495, invoiced every January.\n",
        encoding="utf-8",
    )
    (root / "deals.docx").write_bytes(
        docx_bytes(["Deal registration protects an approved deal for 120 days."])
    )
    return {
        "how much is the member annual fee": "USD 495",
        "how long does deal registration protect a deal": "120 days",
    }
