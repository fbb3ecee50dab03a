"""Files the bot reads at run time are read when they change, never per question."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bot.chat.audiences as audiences_module
import bot.comms.registry as registry_module
import bot.partners as partners_module
from bot.app import App
from bot.config import SAMPLES_DIR
from bot.errors import ConfigError
from bot.models import Actor, Question
from bot.watched import WatchedFile


class Counting:
    """A parse function that counts its calls: the text of the file, or a ConfigError."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path | None) -> str:
        self.calls += 1
        assert path is not None
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if "broken" in text:
            raise ConfigError(f"{path}:1: broken")
        return text


def test_a_file_is_parsed_once_per_version(tmp_path: Path) -> None:
    path = tmp_path / "routes.yml"
    path.write_text("one", encoding="utf-8")
    parse = Counting()
    watched = WatchedFile(path, parse)
    assert [watched.get() for _ in range(3)] == ["one"] * 3
    assert parse.calls == 1

    path.write_text("two", encoding="utf-8")  # an edit in place
    assert watched.get() == "two" and parse.calls == 2

    replacement = tmp_path / "new.yml"  # a new file moved over it: same size, same time
    replacement.write_text("six", encoding="utf-8")
    stat = path.stat()
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replacement.replace(path)
    assert watched.get() == "six" and parse.calls == 3

    path.unlink()
    assert watched.get() == "" and parse.calls == 4  # no file: parsed as such, once
    assert watched.get() == "" and parse.calls == 4


def test_a_broken_version_raises_for_every_reader_until_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "partners.yml"
    path.write_text("broken", encoding="utf-8")
    parse = Counting()
    watched = WatchedFile(path, parse)
    for _ in range(3):
        with pytest.raises(ConfigError, match="broken"):
            watched.get()
    assert parse.calls == 1 and watched.problem is not None
    path.write_text("fixed", encoding="utf-8")
    assert watched.get() == "fixed" and watched.problem is None


def test_a_file_is_parsed_again_when_a_file_it_depends_on_changes(tmp_path: Path) -> None:
    routes, partners = tmp_path / "routes.yml", tmp_path / "partners.yml"
    routes.write_text("tiers", encoding="utf-8")
    partners.write_text("harbour-it", encoding="utf-8")
    parse = Counting()
    watched = WatchedFile(partners, parse, depends_on=(WatchedFile(routes, Counting()),))
    watched.get()
    watched.get()
    routes.write_text("tiers and regions", encoding="utf-8")
    watched.get()
    assert parse.calls == 2


def test_threads_asking_at_once_share_one_parse(tmp_path: Path) -> None:
    path = tmp_path / "routes.yml"
    path.write_text("one", encoding="utf-8")
    started = threading.Barrier(8)
    parse = Counting()
    watched = WatchedFile(path, parse)
    seen: list[str] = []

    def read() -> None:
        started.wait()
        seen.append(watched.get())

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["one"] * 8 and parse.calls == 1


def test_questions_parse_no_file(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routes, partners and the place map are read once for many questions."""
    calls: dict[str, int] = {}

    def counted(name: str, parse: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return parse(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        registry_module, "load_routes", counted("routes", registry_module.load_routes)
    )
    monkeypatch.setattr(
        partners_module, "load_partners", counted("partners", partners_module.load_partners)
    )
    monkeypatch.setattr(
        audiences_module, "load_place_map", counted("places", audiences_module.load_place_map)
    )
    app = make_app(
        PARTNERBOT_COMMS_ROUTES=str(SAMPLES_DIR / "comms" / "routes.yml"),
        PARTNERBOT_PARTNERS_FILE=str(SAMPLES_DIR / "comms" / "partners.yml"),
    )
    question = "what are the requirements for the Advanced tier?"
    first = app.core.ask(Question(question))
    readers = app.audiences.of_place(Actor("slack", "U0ASKER"), "C0ANZ")
    after_first = dict(calls)
    for _ in range(3):
        assert app.core.ask(Question(question)).text == first.text
        assert app.audiences.of_place(Actor("slack", "U0ASKER"), "C0ANZ") == readers
    assert calls == after_first
    assert set(after_first) == {"routes", "partners", "places"}
    assert max(after_first.values()) == 1
