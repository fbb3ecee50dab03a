"""A file the running bot reads when it changes on disk, never per question.

`WatchedFile` holds a path and a parse function. `get()` looks at the file's identity and
size and time (device, inode, mtime, size: an edit in place or a new file moved over it)
and parses it again only when they changed, or when a file it depends on did (the
partners file and the place map are checked against the routes file's tags). One thread
parses; the others wait for its result.

A file that fails to parse is not read again until it changes either: `get()` raises its
error (ConfigError, naming the line) for every caller until then. What a caller makes of
that is its own rule, and for who may read what it is to fail closed: a broken partners
file knows no partner and a broken place map no audience, so replies are for the public
and no private notice goes out (bot/partners.py, bot/chat/audiences.py), never an
earlier version of the file.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

Stamp = tuple[int, int, int, int] | None  # device, inode, mtime (ns), size; None: no file


def stamp_of(path: Path | None) -> Stamp:
    """What tells one version of a file from another (None when there is no file)."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


class WatchedFile(Generic[T]):
    """A file parsed once per version: `get()` reads it again only when it changed."""

    def __init__(
        self,
        path: Path | Callable[[], Path | None] | None,
        parse: Callable[[Path | None], T],
        *,
        depends_on: Sequence[WatchedFile[Any]] = (),
    ) -> None:
        """`path`: the file (or a callable giving it, looked up on each `get`); `parse`: reads
        it (a missing file too: `path` may not exist); `depends_on`: files whose change
        makes this one be parsed again."""
        self._path = path if callable(path) else (lambda: path)
        self._parse = parse
        self._depends_on = tuple(depends_on)
        self._lock = threading.Lock()
        self._key: Hashable = object()  # matches no version: the first `get` parses
        self._value: T | None = None
        self._error: Exception | None = None

    @property
    def path(self) -> Path | None:
        return self._path()

    def version(self) -> Hashable:
        """Changes whenever the file, or a file it depends on, changes."""
        path = self._path()
        return (path, stamp_of(path), tuple(d.version() for d in self._depends_on))

    def check(self) -> T:
        """Parse it now, whatever was read before (its error raised)."""
        return self._parse(self._path())

    def get(self) -> T:
        """The parsed file, read again if it changed; its parse error, raised, while a
        broken version is on disk."""
        key = self.version()
        with self._lock:
            if key != self._key:
                try:
                    self._value, self._error = self._parse(self._path()), None
                except Exception as e:
                    self._value, self._error = None, e
                    logger.debug("%s could not be read: %s", self._path(), e)
                self._key = key
            if self._error is not None:
                raise copy.copy(self._error) from None  # (a copy: tracebacks do not pile up)
            return self._value  # type: ignore[return-value]  # (set with no error above)

    @property
    def problem(self) -> str | None:
        """Why the version read last was refused (None: it was read well, or not yet)."""
        return str(self._error) if self._error is not None else None
