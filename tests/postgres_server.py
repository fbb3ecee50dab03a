"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl, started once per session.

Debian's `postgresql` package (`make install` installs it when initdb is missing).
PostgreSQL refuses to run as root, so as root the server runs as the `postgres`
user (through `runuser`); otherwise as the current user. It listens on 127.0.0.1
on a free port with password authentication (so tests can check that a password
never shows), keeps its data in a temporary folder with fsync off, and is stopped
and removed at the end. Each test gets a fresh database from `create_database()`.

If PostgreSQL cannot start, `start()` raises: tests that need it fail, never skip.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import psycopg

USER = "partnerbot"
PASSWORD = "pg-test-secret-d41d8c"


def find_bindir() -> Path:
    """The newest installed PostgreSQL's bin folder (PARTNERBOT_PG_BINDIR overrides)."""
    configured = os.environ.get("PARTNERBOT_PG_BINDIR")
    if configured:
        return Path(configured)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no initdb): `make install` installs Debian's "
            "postgresql package, or set PARTNERBOT_PG_BINDIR"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="partnerbot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._run_as: list[str] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        return [*self._run_as, *args]

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            self._run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self._run_as:
            shutil.chown(pwfile, "postgres", "postgres")
        self._check(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ),
            "initdb",
        )
        return self.resume()

    def resume(self) -> PostgresServer:
        """Start the server (again, after `pause`), on the same port and data."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300 -c shared_buffers=32MB"
        )
        self._check(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            ),
            "pg_ctl start",
        )
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data (clients see it gone); `resume` starts it."""
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        self._check(self._cmd(*cmd), "pg_ctl stop")

    def _check(self, cmd: list[str], what: str) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"PostgreSQL {what} failed ({done.returncode}): {done.stderr.strip()}\n{log}"
            )

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                self._cmd(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------
    def url(self, dbname: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        with self._lock:
            name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.url(), autocommit=True) as conn,
        ):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
