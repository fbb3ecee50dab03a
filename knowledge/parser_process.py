"""PDF, DOCX and HTML are parsed in a child process with a time and a memory limit.

A hostile file can keep a parser busy for minutes or make it allocate gigabytes
(a zip bomb, a PDF that draws one glyph a billion times); a thread cannot be
stopped, a process can. One child parses files in turn; when a file runs past
its time it is killed and the next file gets a fresh one. The child also runs
under an address-space limit, so a file that needs too much memory fails alone.

Run as `python -m knowledge.parser_process MEMORY_BYTES`: requests and replies
are pickles, length-prefixed, over its stdin and stdout.
"""

from __future__ import annotations

import logging
import os
import pickle
import selectors
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from knowledge import formats
from knowledge.documents import Document, LoadFailure

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("!Q")
READY = "ready"  # the child's first message, once its parsers are loaded
# How long a new child may take to start (imports on a busy machine); a file's own time
# limit starts once it is ready.
START_SECONDS = 120.0


class ParserProcess:
    """A child process that parses files one at a time, within a time and memory limit."""

    def __init__(self, *, seconds: float, memory_bytes: int) -> None:
        self.seconds = seconds
        self.memory_bytes = memory_bytes
        self._child: subprocess.Popen[bytes] | None = None

    def parse(self, suffix: str, data: bytes, rel: str) -> Document | LoadFailure:
        """The document, or a failure saying which limit the file ran into. The time limit
        is the file's own: a child's start-up is not counted."""
        try:
            child = self._start()
        except (TimeoutError, EOFError, OSError, pickle.UnpicklingError):
            code = self.close()
            return LoadFailure(rel, f"the reader could not start (exit code {code}); refused")
        deadline = time.monotonic() + self.seconds
        try:
            assert child.stdin is not None and child.stdout is not None
            _send(child.stdin, (suffix, data, rel))
            reply = _receive(child.stdout, deadline)
        except TimeoutError:
            self.close()
            return LoadFailure(rel, f"took longer than {self.seconds:g} s to read; refused")
        except (EOFError, OSError, pickle.UnpicklingError):
            code = self.close()
            return LoadFailure(rel, f"the reader stopped on this file (exit code {code}); refused")
        if not isinstance(reply, Document | LoadFailure):
            raise TypeError(f"unexpected reply from the parser process: {type(reply).__name__}")
        return reply

    def _start(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            # The child imports this package from where the parent found it.
            here = str(Path(__file__).resolve().parent.parent)
            path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
            self._child = subprocess.Popen(
                [sys.executable, "-m", "knowledge.parser_process", str(self.memory_bytes)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
            assert self._child.stdout is not None
            if _receive(self._child.stdout, time.monotonic() + START_SECONDS) != READY:
                raise EOFError
        return self._child

    def close(self) -> int | None:
        """Stop the child (it is idle or past its time); its exit code."""
        child, self._child = self._child, None
        if child is None:
            return None
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
        if child.poll() is None:
            child.kill()
        return child.wait()

    def __enter__(self) -> ParserProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _send(stream: IO[bytes], message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive(stream: IO[bytes], deadline: float | None = None) -> Any:
    size = _HEADER.unpack(_read_exactly(stream, _HEADER.size, deadline))[0]
    return pickle.loads(_read_exactly(stream, size, deadline))


def _read_exactly(stream: IO[bytes], size: int, deadline: float | None) -> bytes:
    """Read size bytes; EOFError if the other side is gone, TimeoutError past the deadline."""
    parts: list[bytes] = []
    fd = stream.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while size > 0:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise TimeoutError
            part = os.read(fd, min(size, 1 << 20))
            if not part:
                raise EOFError
            parts.append(part)
            size -= len(part)
    return b"".join(parts)


def _serve(memory_bytes: int) -> None:
    """The child: parse each request and reply, until the parent closes the pipe."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ValueError, OSError) as e:  # not every system allows it; the time limit still holds
        logger.warning("parsing without a memory limit: %s", e)
    # Replies go over the original stdout; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    logging.basicConfig(level=logging.ERROR)  # pypdf warns about every odd object
    # Every parser is loaded before the first file, so its time limit is for reading it.
    import bs4  # noqa: F401
    import docx  # noqa: F401
    import pypdf  # noqa: F401

    _send(replies, READY)
    while True:
        try:
            suffix, data, rel = _receive(requests)
        except EOFError:
            return
        result: Document | LoadFailure
        try:
            result = formats.parse(suffix, data, rel)
        except formats.LoadError as e:
            result = LoadFailure(rel, str(e))
        except MemoryError:
            result = LoadFailure(
                rel, f"needs more than {memory_bytes // 2**20} MB of memory to read; refused"
            )
        except RecursionError:
            result = LoadFailure(rel, "is nested too deeply to read; refused")
        except Exception as e:  # a library choked on a malformed file: report, don't abort
            result = LoadFailure(rel, f"could not be read ({type(e).__name__}: {e})"[:300])
        del data
        _send(replies, result)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
