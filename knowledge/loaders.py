"""Loaders: a file in, a Document or a LoadFailure out. One bad file never aborts a run.

Every file is bounded: its size is checked before it is read, its YAML front
matter cannot expand without end, and the formats parsed by large libraries
(PDF, DOCX, HTML) are read in a child process with a time and memory limit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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


def discover(
    root: Path, *, suffixes: Iterable[str] = SUFFIXES, what: str = "documents folder"
) -> Iterator[Path | LoadFailure]:
    """Every file under root (or root itself) with one of these suffixes, sorted by path,
    and every such file skipped on the way as a failure saying why: hidden, a broken or
    looping link, a link out of the folder (`what` names it), not a regular file. Links
    are followed only to files inside root."""
    if not root.is_dir():
        yield root  # named on its own by the admin
        return
    walk = _Walk(root.resolve(), frozenset(s.lower() for s in suffixes), what)
    yield from _walk(root, walk, "")


@dataclass(frozen=True)
class _Walk:
    top: Path  # the folder, resolved
    suffixes: frozenset[str]
    what: str  # how a skipped link's reason names the folder


def _walk(folder: Path, walk: _Walk, prefix: str) -> Iterator[Path | LoadFailure]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        yield LoadFailure(prefix.rstrip("/") or ".", f"folder could not be read ({e.strerror})")
        return
    for entry in entries:
        rel = prefix + entry.name
        path = Path(entry.path)
        loadable = path.suffix.lower() in walk.suffixes
        if entry.is_symlink():
            problem = _link_problem(path, walk.top, loadable=loadable, what=walk.what)
            if problem:
                yield LoadFailure(rel, problem)
            elif loadable and path.is_file():
                yield path
            # a link to a folder inside root is not followed: its files are found where they are
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(path, walk, f"{rel}/")
        elif not loadable:
            continue
        elif _hidden(rel):
            yield LoadFailure(rel, "hidden (its name or a folder's starts with '.'); skipped")
        elif not entry.is_file(follow_symlinks=False):
            yield LoadFailure(rel, "not a regular file; skipped")
        else:
            yield path


def _hidden(rel: str) -> bool:
    return any(part.startswith(".") for part in rel.split("/"))


def link_problem(path: Path, root: Path) -> str | None:
    """Why a file in root may not be read when it is a symbolic link, or None."""
    if not path.is_symlink():
        return None
    return _link_problem(path, root.resolve(), loadable=True, what="documents folder")


def _link_problem(path: Path, top: Path, *, loadable: bool, what: str) -> str | None:
    """Why a symbolic link is skipped, or None to follow it (a file inside the folder)."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "a broken symbolic link (its target does not exist); skipped"
    except (RuntimeError, OSError):  # a loop ("Symlink loop", ELOOP)
        return "a symbolic link that loops back on itself; skipped"
    inside = target == top or top in target.parents
    if not inside and target.is_dir():
        return f"a symbolic link to a folder outside the {what}; not followed"
    if not loadable:
        return None  # not a document either way
    if not inside:
        return f"a symbolic link to a file outside the {what}; skipped"
    if _hidden(path.name):
        return "hidden (its name starts with '.'); skipped"
    if not target.is_file():
        return "a symbolic link to something that is not a regular file; skipped"
    return None


def read_file(path: Path) -> bytes:
    """The file's bytes; a file over the size limit is refused before it is read."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            _check_size(size)
            data = f.read(size + 1)  # one byte more tells whether it grew meanwhile
            if len(data) > size:
                data += f.read(MAX_FILE_BYTES + 1 - len(data))
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
        for found in discover(root):
            if isinstance(found, LoadFailure):
                yield found
                continue
            rel = found.name if root.is_file() else found.relative_to(root).as_posix()
            yield loader.load(found, rel)


def partition(items: Iterable[Document | LoadFailure]) -> tuple[list[Document], list[LoadFailure]]:
    docs: list[Document] = []
    failures: list[LoadFailure] = []
    for item in items:
        (docs if isinstance(item, Document) else failures).append(item)  # type: ignore[arg-type]
    return docs, failures
