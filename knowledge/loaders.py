"""Loaders: a file in, a Document or a LoadFailure out. One bad file never aborts a run.

Every file is bounded: its size is checked before it is read, its YAML front
matter cannot expand without end, and the formats parsed by large libraries
(PDF, DOCX, HTML) are read in a child process with a time and memory limit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from knowledge import formats
from knowledge.documents import Document, LoadFailure
from knowledge.formats import LoadError
from knowledge.parser_process import ParserProcess

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 25 * 1024 * 1024
LOAD_SECONDS = 120.0  # per PDF, DOCX or HTML file
LOAD_MEMORY_BYTES = 1024 * 1024 * 1024  # address space of the process parsing them
MARKDOWN_SUFFIXES = {".md", ".markdown"}
SUFFIXES = MARKDOWN_SUFFIXES | {".txt", ".html", ".htm", ".pdf", ".docx"}


def discover(root: Path) -> Iterator[Path]:
    """Every loadable file under root (or root itself), sorted, skipping hidden ones."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            yield path


def read_file(path: Path) -> bytes:
    """The file's bytes; a file over the size limit is refused before it is read."""
    try:
        with path.open("rb") as f:
            _check_size(os.fstat(f.fileno()).st_size)
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise LoadError(f"could not be read ({e.strerror or e})") from None
    _check_size(len(data))  # it grew while being read
    return data


def _check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise LoadError(
            f"the file is {size / 2**20:,.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB"
        )


class FileLoader:
    """Loads files one at a time; PDF, DOCX and HTML go to one child process, started on
    first use and stopped by `close` (or the `with` block)."""

    def __init__(self) -> None:
        self._parser: ParserProcess | None = None

    def load(self, path: Path, rel: str, *, data: bytes | None = None) -> Document | LoadFailure:
        """Load one file (its bytes may be passed in when the caller already read them)."""
        try:
            if data is None:
                data = read_file(path)
            _check_size(len(data))
            if not data:
                raise LoadError("the file is empty")
            suffix = path.suffix.lower()
            if suffix in formats.ISOLATED_SUFFIXES:
                return self._parser_process().parse(suffix, data, rel)
            return formats.parse(suffix, data, rel)
        except LoadError as e:
            return LoadFailure(rel, str(e))
        except Exception as e:  # a library choked on a malformed file: report, don't abort
            logger.debug("loader failed for %s", rel, exc_info=True)
            return LoadFailure(rel, f"could not be read ({type(e).__name__}: {e})"[:300])

    def _parser_process(self) -> ParserProcess:
        if self._parser is None:
            self._parser = ParserProcess(seconds=LOAD_SECONDS, memory_bytes=LOAD_MEMORY_BYTES)
        return self._parser

    def close(self) -> None:
        if self._parser is not None:
            self._parser.close()
            self._parser = None

    def __enter__(self) -> FileLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_file(path: Path, rel: str, *, data: bytes | None = None) -> Document | LoadFailure:
    """Load one file on its own (a run of many uses one FileLoader)."""
    with FileLoader() as loader:
        return loader.load(path, rel, data=data)


def load_folder(root: Path) -> Iterator[Document | LoadFailure]:
    """Load every document under root; failures are yielded, never raised."""
    with FileLoader() as loader:
        for path in discover(root):
            rel = path.name if root.is_file() else path.relative_to(root).as_posix()
            yield loader.load(path, rel)


def partition(items: Iterable[Document | LoadFailure]) -> tuple[list[Document], list[LoadFailure]]:
    docs: list[Document] = []
    failures: list[LoadFailure] = []
    for item in items:
        (docs if isinstance(item, Document) else failures).append(item)  # type: ignore[arg-type]
    return docs, failures
