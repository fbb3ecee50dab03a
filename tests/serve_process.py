"""`partnerbot serve` as its own process, for tests that read what it logs: its stderr is
collected line by line in a thread (so a test can wait for a line, and count the lines of
one phase), and SIGTERM stops it. For Discord, discord.py's REST and gateway addresses
come from TEST_DISCORD_API / TEST_DISCORD_GATEWAY (as FakeDiscord.patch does in-process).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = """
import os, sys, yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
if os.environ.get("TEST_DISCORD_API"):
    Route.BASE = os.environ["TEST_DISCORD_API"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["TEST_DISCORD_GATEWAY"])
from bot.cli.main import app
sys.argv = ["partnerbot", *sys.argv[1:]]
app()
"""
LISTENING = re.compile(r"listening on (?P<host>[^\s:]+):(?P<port>\d+): (?P<routes>.*)")


class ServeProcess:
    """`partnerbot serve` (or another command: `args`) with this environment."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *(args or ("serve",))],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="serve-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, text: str, timeout: float = 120) -> str:
        """The first line holding `text` (waiting for it while the process runs)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                ended = self.process.poll() is not None and not self._reader.is_alive()
                if left <= 0 or ended:
                    raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.2))

    def listening(self) -> dict[int, list[tuple[str, str]]]:
        """The endpoints each of its web servers logged at start, by port."""
        servers: dict[int, list[tuple[str, str]]] = {}
        for line in list(self.lines):
            if found := LISTENING.search(line.split('"message": "')[-1].rstrip('"}')):
                words = found["routes"].split()
                servers[int(found["port"])] = list(zip(words[::2], words[1::2], strict=True))
        return servers

    def wait_ready(self, port: int, timeout: float = 120) -> None:
        """Until its /readyz answers 200 (every platform connected)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    if json.loads(r.read())["ready"]:
                        return
            except (OSError, urllib.error.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError("not ready:\n" + "\n".join(self.lines))
            time.sleep(0.2)

    def ended(self, timeout: float = 120) -> int:
        """Its exit code once it ends by itself (and all it wrote is read)."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(10)
        return code

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM; its exit code once it has ended (and all it wrote is read)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
            self._reader.join(10)
        return code

    @property
    def stdout(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.read()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
