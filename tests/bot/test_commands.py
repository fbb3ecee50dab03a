"""The one command table: names and groups, parameters from words, usage."""

from __future__ import annotations

import pytest

from bot.commands import Command, CommandTable, CommandUsageError, Param
from bot.models import Actor, CommandCall, Place, Reply
from bot.prompts import message

ME = Actor("memory", "U1")


def noop(call: CommandCall) -> Reply:
    return Reply(text=f"{call.name} {dict(call.args)}")


TABLE = CommandTable(
    [
        Command(
            "ask",
            "Ask",
            noop,
            params=(Param("question", "q", "text", True), Param("private", "p", "flag")),
        ),
        Command("comms list", "List", noop, admin_only=True, action="list", aliases=("comms",)),
        Command("comms cancel", "Cancel", noop, params=(Param("id", "the id", "word", True),)),
        Command(
            "changes publish",
            "Publish",
            noop,
            params=(Param("again", "a", "flag"), Param("since", "s", "option")),
            aliases=("changes",),
        ),
    ]
)


@pytest.mark.parametrize(
    ("words", "name", "args"),
    [
        ("ask what changed for gold?", "ask", {"question": "what changed for gold?"}),
        ("ASK private tell me", "ask", {"private": True, "question": "tell me"}),
        ("comms", "comms list", {}),
        ("comms list", "comms list", {}),
        ("comms cancel smb-2027", "comms cancel", {"id": "smb-2027"}),
        ("changes", "changes publish", {}),
        (
            "changes again since 2026-10-01",
            "changes publish",
            {"again": True, "since": "2026-10-01"},
        ),
        ("changes publish since 2026-10-01", "changes publish", {"since": "2026-10-01"}),
    ],
)
def test_words_find_the_command_and_bind_its_parameters(
    words: str, name: str, args: dict[str, object]
) -> None:
    found = TABLE.parse_words(words, actor=ME, place=Place("C1"))
    assert found is not None
    command, call = found
    assert (command.name, call.name, dict(call.args)) == (name, name, args)
    assert call.actor == ME and call.place == Place("C1")


def test_unknown_words_are_none_and_bad_arguments_show_the_usage() -> None:
    assert TABLE.parse_words("frobnicate now", actor=ME) is None
    assert TABLE.parse_words("   ", actor=ME) is None
    with pytest.raises(CommandUsageError) as e:
        TABLE.parse_words("comms frobnicate", actor=ME)  # a group: its subcommands are shown
    assert str(e.value) == message("command_usage", usage="`comms list` or `comms cancel <id>`")
    with pytest.raises(CommandUsageError, match=r"changes publish \[again\] \[since <since>\]"):
        TABLE.parse_words("changes since", actor=ME)
    with pytest.raises(CommandUsageError, match="comms cancel <id>"):
        TABLE.parse_words("comms cancel", actor=ME)


def test_words_that_start_with_a_command_are_told_from_a_question() -> None:
    for words in ("comms", "Comms cancel", "comms frobnicate", "changes since", "ask"):
        assert TABLE.starts(words), words  # (a command, even with bad arguments)
    for words in ("what changed for gold?", "", "commsy", "cancel comms"):
        assert not TABLE.starts(words), words


def test_a_missing_free_text_parameter_is_left_to_the_handler() -> None:
    found = TABLE.parse_words("ask", actor=ME)
    assert found is not None and found[1].text("question") == ""


def test_groups_and_leaves_for_platforms_with_subcommands() -> None:
    groups = TABLE.groups()
    assert {g: [c.leaf for c in cs] for g, cs in groups.items()} == {
        "comms": ["list", "cancel"],
        "changes": ["publish"],
    }
    assert TABLE.get("ask") is not None and TABLE.get("ask").group is None  # type: ignore[union-attr]
    assert [c.name for c in TABLE][:2] == ["ask", "comms list"]  # help lists them in order


def test_a_name_or_alias_is_defined_once() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        TABLE.add(Command("comms", "again", noop))
    with pytest.raises(ValueError, match="defined twice"):
        CommandTable([Command("help", "a", noop), Command("help", "b", noop)])


def test_call_helpers_read_text_and_flags() -> None:
    call = CommandCall("x", ME, {"a": " word ", "b": True, "c": False})
    assert (call.text("a"), call.text("b"), call.text("missing")) == ("word", "", "")
    assert (call.flag("b"), call.flag("c"), call.flag("a")) == (True, False, False)
