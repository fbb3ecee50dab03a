"""The child process that parses PDF, DOCX and HTML: a file past its time or memory fails
alone, and the next file is parsed by a fresh child."""

from __future__ import annotations

import pytest

from knowledge.documents import Document, LoadFailure
from knowledge.parser_process import ParserProcess

SMALL = b"<html><body><h2>Fees</h2><p>The annual fee is USD 495.</p></body></html>"
# bs4 needs several seconds and ~300 MB for this (200,000 paragraphs).
HEAVY = b"<html><body>" + b"<p>word word</p>" * 190_000 + b"</body></html>"


@pytest.mark.parametrize(
    ("seconds", "memory_mb", "reason"),
    [
        (0.5, 1024, "took longer than 0.5 s to read; refused"),
        (120, 160, "needs more than 160 MB of memory to read; refused"),
    ],
    ids=["time", "memory"],
)
def test_a_file_past_a_limit_is_refused_and_the_next_one_parses(
    seconds: float, memory_mb: int, reason: str
) -> None:
    with ParserProcess(seconds=seconds, memory_bytes=memory_mb * 2**20) as parser:
        heavy = parser.parse(".html", HEAVY, "heavy.html")
        assert heavy == LoadFailure("heavy.html", reason)
        after = parser.parse(".html", SMALL, "fees.html")
        assert isinstance(after, Document) and "USD 495" in after.text


def test_a_killed_child_fails_its_file_only() -> None:
    with ParserProcess(seconds=60, memory_bytes=2**30) as parser:
        assert isinstance(parser.parse(".html", SMALL, "one.html"), Document)
        assert parser._child is not None
        parser._child.kill()
        parser._child.wait()
        # A child that died between files is replaced before the next one is sent.
        assert isinstance(parser.parse(".html", SMALL, "two.html"), Document)
