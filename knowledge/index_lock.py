"""One writer per data directory: an exclusive lock on DATA_DIR/index.lock.

Two `partnerbot index` runs on one data directory used to embed everything
twice and interleave their writes. Every write to the index (sync, rebuild,
check) holds this lock; a second writer waits for the first to finish, saying
so, and then finds the work done. The operating system releases the lock when
its holder exits, however it exits, so a killed run never leaves it stuck.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_FILE = "index.lock"
OPEN_LOCK_FILE = "open.lock"


@contextmanager
def index_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's index lock for the block, waiting for another holder."""
    path = Path(data_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            # Another thread of this process (a chat re-index, a comms sync) is not news.
            same = holder.startswith(f"pid {os.getpid()},")
            logger.log(
                logging.DEBUG if same else logging.WARNING,
                "another partnerbot run (%s) is writing the index in %s; waiting for it to "
                "finish, then only what it left undone is done",
                holder,
                data_dir,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        try:  # who holds it, for the message another writer prints; best effort
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, since {since}".encode(), 0)
        except OSError:
            pass
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def opening_lock(data_dir: Path) -> Iterator[None]:
    """Hold a short lock while the embedded index files are opened (and created).

    Two processes opening a fresh data directory at the same moment would both create
    the vector store's tables, and one fails. Opening is quick, so this lock is held
    only for that, never for a whole index run: a question never waits for a writer.
    """
    fd = os.open(Path(data_dir) / OPEN_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
