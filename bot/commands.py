"""The one command table: name, parameters, admin-only, handler.

Platforms map it to their own syntax: Slack to `/partner <name> …` words (parsed by
`CommandTable.parse_words`), Discord to slash commands and subcommand groups (a name
with a space, "comms cancel", is subcommand "cancel" of group "comms"), the terminal to
`/name …` lines. Features add their commands to the table; the chat service runs them
(admin check, errors) so no platform writes that twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bot.errors import UserError
from bot.models import Actor, CommandCall, Place, Reply
from bot.prompts import message

ParamKind = Literal["text", "word", "flag", "option"]


@dataclass(frozen=True, slots=True)
class Param:
    """A command parameter. In words: "text" takes the rest of the line, "word" the next
    word, "flag" is its own name ("again"), "option" its name and a value ("since 2026-10-01")."""

    name: str
    description: str
    kind: ParamKind = "word"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "ask", or "group sub" for a subcommand ("comms cancel")
    description: str
    handler: Callable[[CommandCall], Reply]
    params: tuple[Param, ...] = ()
    admin_only: bool = False
    action: str = ""  # what a refused non-admin was not allowed to do ("re-index the documents")
    aliases: tuple[str, ...] = ()  # other names in words (e.g. "comms" for "comms list")
    working: str | None = None  # message key shown before a slow command runs

    @property
    def group(self) -> str | None:
        head, sep, _ = self.name.partition(" ")
        return head if sep else None

    @property
    def leaf(self) -> str:
        return self.name.rpartition(" ")[2]

    def signature(self, *first: inspect.Parameter) -> inspect.Signature:
        """The parameters as a Python signature after `first` (text → `str`, a flag → `bool`),
        for platforms that read a command's options from a callback (discord.py)."""
        params = list(first)
        for p in self.params:
            kind: Any = bool if p.kind == "flag" else str if p.required else str | None
            default = inspect.Parameter.empty if p.required else (False if kind is bool else None)
            keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
            params.append(inspect.Parameter(p.name, keyword, default=default, annotation=kind))
        return inspect.Signature(params)

    def usage(self) -> str:
        """`comms cancel <id>`, `changes publish [again] [since <since>]`: the words form."""
        parts = [self.name]
        for p in self.params:
            shown = {
                "text": f"<{p.name}>",
                "word": f"<{p.name}>",
                "flag": p.name,
                "option": f"{p.name} <{p.name}>",
            }[p.kind]
            parts.append(shown if p.required else f"[{shown}]")
        return " ".join(parts)


class CommandUsageError(UserError):
    """Words that do not fit a command; the message shows its usage."""


class CommandTable:
    """The commands, in the order help lists them."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self._commands: dict[str, Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        for name in (command.name, *command.aliases):
            if name in self._by_word_names():
                raise ValueError(f"command {name!r} is defined twice")
        self._commands[command.name] = command

    def _by_word_names(self) -> dict[str, Command]:
        names: dict[str, Command] = {}
        for command in self._commands.values():
            for name in (command.name, *command.aliases):
                names[name] = command
        return names

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def groups(self) -> dict[str, list[Command]]:
        """Subcommands by group name (Discord command groups)."""
        groups: dict[str, list[Command]] = {}
        for command in self:
            if command.group:
                groups.setdefault(command.group, []).append(command)
        return groups

    def parse_words(
        self, text: str, *, actor: Actor, place: Place | None = None, direct: bool = False
    ) -> tuple[Command, CommandCall] | None:
        """`"comms cancel smb-1"` → the command and its call; None for unknown words.

        The longest command name (or alias) the words start with wins. Raises
        CommandUsageError when the rest does not fit the command's parameters.
        """
        words = text.split()
        if not words:
            return None
        names = self._by_word_names()
        for size in (2, 1):
            name = " ".join(words[:size]).lower()
            if len(words) >= size and name in names:
                command = names[name]
                try:
                    args = _bind(command, words[size:])
                except CommandUsageError:
                    if command.group is None:
                        raise
                    raise CommandUsageError(self.group_usage(command.group)) from None
                call = CommandCall(command.name, actor=actor, args=args, place=place, direct=direct)
                return command, call
        return None

    def starts(self, text: str) -> bool:
        """Whether the words start with a command's name or alias, whatever follows (where
        questions and commands share one box: Teams' personal chat)."""
        words, names = text.lower().split(), self._by_word_names()
        return any(" ".join(words[:size]) in names for size in (2, 1) if len(words) >= size)

    def group_usage(self, group: str) -> str:
        usages = [f"`{c.usage()}`" for c in self.groups().get(group, [])]
        return message("command_usage", usage=" or ".join(usages))


def _bind(command: Command, words: list[str]) -> dict[str, str | bool]:
    args: dict[str, str | bool] = {}
    params = {p.name: p for p in command.params}
    positional = [p for p in command.params if p.kind in ("text", "word")]
    rest = list(words)
    while rest:
        word = rest[0].lower()
        param = params.get(word)
        if param is not None and param.kind == "flag":
            args[param.name] = True
            rest.pop(0)
        elif param is not None and param.kind == "option":
            if len(rest) < 2:
                raise CommandUsageError(_usage(command))
            args[param.name] = rest[1]
            del rest[:2]
        elif positional:
            param = positional.pop(0)
            if param.kind == "text":
                args[param.name] = " ".join(rest)
                rest = []
            else:
                args[param.name] = rest.pop(0)
        else:
            raise CommandUsageError(_usage(command))
    missing = [p for p in command.params if p.required and p.name not in args]
    if missing and not (len(missing) == 1 and missing[0].kind == "text"):
        raise CommandUsageError(_usage(command))
    return args


def _usage(command: Command) -> str:
    return message("command_usage", usage=f"`{command.usage()}`")
