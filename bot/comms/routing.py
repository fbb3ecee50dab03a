"""Which partner channels hear about which communications: the routes file.

A route matches a communication when, for every dimension the route names, the
communication's audience shares a tag with it (or the communication does not
restrict that dimension). A communication goes to every channel of every matching
route, once per (platform, channel). The routes file also declares the known
audience tags; a communication using any other tag is refused.

    tags:
      regions: [ANZ, EMEA]
      segments: [smb, enterprise]
    routes:
      - name: ANZ small business
        match: {regions: [ANZ], segments: [smb]}
        slack: ["#partners-anz"]
        discord: ["1200000000000000001"]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.comms.model import DIMENSIONS, Communication
from bot.errors import ConfigError
from bot.models import ChannelRef
from knowledge import bounded_yaml

logger = logging.getLogger(__name__)

_ROUTE_KEYS = {"name", "match"}


@dataclass(frozen=True)
class Route:
    name: str
    match: dict[str, frozenset[str]]  # dimension -> casefolded tags
    channels: tuple[ChannelRef, ...]

    def matches(self, comm: Communication) -> bool:
        for dimension, wanted in self.match.items():
            have = {t.casefold() for t in comm.audience.tags(dimension)}
            if have and not have & wanted:
                return False
        return True


@dataclass(frozen=True)
class Routes:
    """The parsed routes file (empty when there is none)."""

    path: Path | None
    routes: tuple[Route, ...] = ()
    known_tags: dict[str, frozenset[str]] = field(default_factory=dict)  # casefolded
    exists: bool = False

    def channels_for(self, comm: Communication) -> list[ChannelRef]:
        seen: dict[ChannelRef, None] = {}
        for route in self.routes:
            if route.matches(comm):
                for ref in route.channels:
                    seen.setdefault(ref, None)
        return list(seen)

    def is_known(self, dimension: str, tag: str) -> bool:
        return tag.casefold() in self.known_tags.get(dimension, frozenset())

    def known(self, dimension: str) -> list[str]:
        return sorted(self.known_tags.get(dimension, frozenset()))


def _as_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    raise ConfigError(f"{where}: expected a list of names, got {value!r}")


def _channel_lines(root: yaml.Node | None) -> dict[tuple[int, str], list[int]]:
    """(route number, platform) → the line of each channel listed there (1-based)."""
    lines: dict[tuple[int, str], list[int]] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value != "routes" or not isinstance(value, yaml.SequenceNode):
            continue
        for number, route in enumerate(value.value, start=1):
            if not isinstance(route, yaml.MappingNode):
                continue
            for k, v in route.value:
                items = v.value if isinstance(v, yaml.SequenceNode) else [v]
                lines[(number, str(k.value))] = [
                    i.start_mark.line + 1 for i in items if isinstance(i, yaml.Node)
                ] or [k.start_mark.line + 1]
    return lines


def load_routes(path: Path | None, *, platforms: Iterable[str] | None = None) -> Routes:
    """Read a routes file; a missing file is an empty config, a broken one a ConfigError.
    With `platforms`, a channel on a platform not among them is refused too, naming the line."""
    if path is None or not path.is_file():
        return Routes(path=path)
    try:
        root, data = bounded_yaml.parse(path.read_text(encoding="utf-8"))
        data = data or {}
        lines = _channel_lines(root)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            f"{path}{line}: the routes file is not valid YAML ({problem}); "
            "fix it or point PARTNERBOT_COMMS_ROUTES at another file"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the routes file must be a mapping with 'tags' and 'routes'")
    known: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    tags = data.get("tags") or {}
    if not isinstance(tags, dict):
        raise ConfigError(f"{path}: 'tags' must map dimensions ({', '.join(DIMENSIONS)}) to lists")
    for dimension, values in tags.items():
        if dimension not in known:
            raise ConfigError(
                f"{path}: unknown tag dimension {dimension!r} (use {', '.join(DIMENSIONS)})"
            )
        known[dimension].update(v.casefold() for v in _as_list(values, f"{path}: tags"))
    routes: list[Route] = []
    raw_routes = data.get("routes") or []
    if not isinstance(raw_routes, list):
        raise ConfigError(f"{path}: 'routes' must be a list")
    for number, raw in enumerate(raw_routes, start=1):
        where = f"{path}: route {number}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping with 'match' and platform channels")
        match_raw = raw.get("match") or {}
        if not isinstance(match_raw, dict):
            raise ConfigError(f"{where}: 'match' must map dimensions to lists of tags")
        match: dict[str, frozenset[str]] = {}
        for dimension, values in match_raw.items():
            if dimension not in known:
                raise ConfigError(
                    f"{where}: unknown dimension {dimension!r} (use {', '.join(DIMENSIONS)})"
                )
            folded = frozenset(v.casefold() for v in _as_list(values, where))
            known[dimension].update(folded)
            if folded:
                match[dimension] = folded
        channels: list[ChannelRef] = []
        for platform, values in raw.items():
            if platform in _ROUTE_KEYS:
                continue
            at = lines.get((number, str(platform)), [])
            for i, channel in enumerate(_as_list(values, where)):
                try:
                    channels.append(ChannelRef.of(str(platform), channel, platforms=platforms))
                except ConfigError as e:
                    line = f":{at[min(i, len(at) - 1)]}" if at else ""
                    raise ConfigError(f"{path}{line}: route {number}: {e}") from None
        if not channels:
            logger.warning("%s names no channels", where)
        routes.append(Route(str(raw.get("name") or f"route {number}"), match, tuple(channels)))
    return Routes(
        path=path,
        routes=tuple(routes),
        known_tags={d: frozenset(v) for d, v in known.items()},
        exists=True,
    )


def parse_channel_refs(
    values: Iterable[str], *, variable: str, platforms: Iterable[str] | None = None
) -> list[ChannelRef]:
    """'slack:C0ADMIN' → ChannelRef('slack', 'C0ADMIN'); a bad entry names the variable."""
    refs: list[ChannelRef] = []
    for value in values:
        try:
            refs.append(ChannelRef.parse(value, platforms=platforms))
        except ConfigError as e:
            raise ConfigError(f"{variable}: {e}") from None
    return refs
