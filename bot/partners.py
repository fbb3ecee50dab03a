"""Who is who among the partners: the partners file (YAML or CSV).

One entry per partner organisation: its id and name, tier, region and competencies,
and per chat platform its contacts (user ids; Entra object ids on Teams), its teams (a
Slack Connect external team id; a Discord guild id or role id; an Entra tenant id on
Teams) and its private place, if any (a Slack Connect or Teams shared channel, a private
channel, a Discord channel):

    partners:
      - id: harbour-it
        name: Harbour IT
        tier: Elite
        region: ANZ
        competencies: [Cloud Infrastructure, Security]
        slack:
          contacts: [U0HARBOUR1]
          teams: [T0HARBOUR]
          place: C0HARBOURIT
        discord:
          contacts: ["130000000000000001"]
          teams: ["130000000000000900"]   # a guild id or a role id
          place: "130000000000000101"

As CSV, one row per partner, with a header naming the columns: `id,name,tier,region,
competencies` and, per platform, `<platform>_contacts`, `<platform>_teams` and
`<platform>_place`; lists are separated by `;`.

`load_partners` refuses a bad file whole, naming the line and reason of every problem
(one partner's typo must not silently change who is who). `Partners` answers "which
partner is this id, this person, this team, this place?"; `PartnersFile` re-reads the
file when it changes (bot/watched.py) and fails closed when an edit breaks it: no partner
is known until it is fixed.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.models import Actor, ChannelRef
from bot.watched import WatchedFile
from knowledge import bounded_yaml

logger = logging.getLogger(__name__)

PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
FILE_NAMES = ("partners.yml", "partners.yaml", "partners.csv")
MAX_BYTES = 5_000_000
MAX_PARTNERS = 20_000
MAX_TEXT = 200  # characters in a name, tier, region, competency or id

FIELDS = ("id", "name", "tier", "region", "competencies")
PLATFORM_FIELDS = ("contacts", "teams", "place")
# Which audience dimension (routes.yml `tags`) each partner field is checked against.
VOCABULARY_OF = {"tier": "tiers", "region": "regions", "competencies": "competencies"}


@dataclass(frozen=True, slots=True)
class Presence:
    """A partner on one chat platform: its contacts, its teams and its private place."""

    platform: str
    contacts: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()  # Slack Connect external team ids; Discord guild or role ids
    place: str | None = None  # the partner's private channel


@dataclass(frozen=True, slots=True)
class Partner:
    """One partner organisation, as the partners file describes it."""

    id: str
    name: str
    tier: str = ""
    region: str = ""
    competencies: tuple[str, ...] = ()
    presence: tuple[Presence, ...] = ()
    line: int = 0  # where it is in the file

    def on(self, platform: str) -> Presence | None:
        return next((p for p in self.presence if p.platform == platform), None)

    @property
    def places(self) -> tuple[ChannelRef, ...]:
        """Its private places, one per platform that has one."""
        return tuple(ChannelRef(p.platform, p.place) for p in self.presence if p.place)

    @property
    def contacts(self) -> tuple[Actor, ...]:
        """Its contacts on every platform."""
        return tuple(Actor(p.platform, user) for p in self.presence for user in p.contacts)

    def tags(self) -> dict[str, tuple[str, ...]]:
        """Its audience tags by dimension (the names routes.yml uses): tiers, regions,
        competencies."""
        return {
            "tiers": (self.tier,) if self.tier else (),
            "regions": (self.region,) if self.region else (),
            "competencies": self.competencies,
        }


class Partners:
    """The partners file, read: lookups by id, person, team and place."""

    def __init__(self, partners: Iterable[Partner] = (), *, path: Path | None = None) -> None:
        self.partners = tuple(partners)
        self.path = path
        self._by_id = {p.id: p for p in self.partners}
        self._by_contact: dict[tuple[str, str], Partner] = {}
        self._by_team: dict[tuple[str, str], Partner] = {}
        self._by_place: dict[tuple[str, str], Partner] = {}
        for p in self.partners:
            for on in p.presence:
                self._by_contact.update({(on.platform, user): p for user in on.contacts})
                self._by_team.update({(on.platform, team): p for team in on.teams})
                if on.place:
                    self._by_place[(on.platform, on.place)] = p

    def __iter__(self) -> Iterator[Partner]:
        return iter(self.partners)

    def __len__(self) -> int:
        return len(self.partners)

    def get(self, partner_id: str) -> Partner | None:
        return self._by_id.get(partner_id.strip().lower())

    def for_contact(self, platform: str, user: str) -> Partner | None:
        return self._by_contact.get((platform, user))

    def for_team(self, platform: str, team: str) -> Partner | None:
        """The partner a Slack Connect team, Discord guild or Discord role belongs to."""
        return self._by_team.get((platform, team))

    def for_place(self, platform: str, channel: str) -> Partner | None:
        """The partner whose private place this channel is."""
        return self._by_place.get((platform, channel))

    def for_actor(self, actor: Actor) -> Partner | None:
        """The partner this person belongs to: listed as a contact, else by one listed team
        (the actor's team, or one of its roles on Discord). None when unknown — or when the
        teams point at two partners, since guessing could show one partner another's data."""
        if found := self.for_contact(actor.platform, actor.id):
            return found
        keys = [actor.team, *sorted(actor.roles)]
        matches = {p.id: p for k in keys if k and (p := self.for_team(actor.platform, k))}
        if len(matches) > 1:
            logger.debug("%s matches several partners by team: %s", actor.who, sorted(matches))
        return next(iter(matches.values())) if len(matches) == 1 else None


# -- loading ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Raw:
    """One entry before validation: its values and where each one is in the file."""

    values: Mapping[str, Any]
    line: int
    lines: Mapping[str, int]  # "tier", "slack", "slack.place", … → line

    def at(self, key: str) -> int:
        return self.lines.get(key, self.line)


def find_partners_file(folder: Path) -> Path | None:
    """The partners file in a folder (partners.yml, .yaml or .csv), if there is one."""
    return next((folder / n for n in FILE_NAMES if (folder / n).is_file()), None)


def load_partners(
    path: Path | None,
    *,
    platforms: Iterable[str] | None = None,
    vocabulary: Mapping[str, Iterable[str]] | None = None,
    reserved: Mapping[ChannelRef, str] | None = None,
) -> Partners:
    """Read and validate a partners file (YAML, or CSV by its suffix); no file: no partners.

    `platforms`: the platform names a partner may list (others are refused). `vocabulary`:
    known tags per audience dimension (routes.yml `tags`); a tier, region or competency
    outside it is refused. `reserved`: channels read by others (route, mapped and admin
    channels), each with what it is; a partner's place among them is refused. A bad file
    raises ConfigError naming every problem's line."""
    if path is None:
        return Partners()
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes; a partners file is at most {MAX_BYTES:,}")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise ConfigError(f"{path}: the partners file cannot be read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the partners file is not UTF-8 text") from None
    known = tuple(sorted(platforms)) if platforms is not None else None
    raws = (
        _csv_entries(path, text, known)
        if path.suffix.lower() == ".csv"
        else _yaml_entries(path, text)
    )
    if len(raws) > MAX_PARTNERS:
        raise ConfigError(f"{path}: {len(raws):,} partners; at most {MAX_PARTNERS:,}")
    problems: list[tuple[int, str]] = []
    words = {k: {str(v).casefold(): str(v) for v in vs} for k, vs in (vocabulary or {}).items()}
    checked = [_partner(raw, known, words, problems.append) for raw in raws]
    partners = [p for p in checked if p is not None]
    _check_unique(partners, problems.append)
    _check_places(raws, partners, reserved or {}, problems.append)
    if problems:
        listed = "; ".join(f"{path}:{line}: {reason}" for line, reason in sorted(problems))
        raise ConfigError(f"the partners file is refused — {listed}")
    return Partners(partners, path=path)


def _yaml_entries(path: Path, text: str) -> list[_Raw]:
    try:
        root, data = bounded_yaml.parse(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(
            f"{path}{where}: the partners file is not valid YAML ({problem})"
        ) from None
    if data is None:
        return []
    items = data.get("partners") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(items, list | type(None)):
        raise ConfigError(f"{path}:1: the partners file is a mapping with a `partners:` list")
    nodes = _partner_nodes(root)
    raws = []
    for i, item in enumerate(items or []):
        node = nodes[i] if i < len(nodes) else None
        line = node.start_mark.line + 1 if node is not None else 1
        if not isinstance(item, dict):
            raise ConfigError(f"{path}:{line}: each partner is a mapping (id: …, name: …)")
        raws.append(_Raw(item, line, _key_lines(node)))
    return raws


def _partner_nodes(root: yaml.Node | None) -> list[yaml.Node]:
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "partners" and isinstance(value, yaml.SequenceNode):
            return list(value.value)
    return []


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    """Line of each key of an entry, and of each key inside a platform block ('slack.place')."""
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        name = str(key.value)
        lines[name] = key.start_mark.line + 1
        if isinstance(value, yaml.MappingNode):
            for sub_key, _ in value.value:
                lines[f"{name}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


def _csv_entries(path: Path, text: str, platforms: tuple[str, ...] | None) -> list[_Raw]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as e:
        raise ConfigError(f"{path}:1: the partners file is not valid CSV ({e})") from None
    if "id" not in header or "name" not in header:
        raise ConfigError(f"{path}:1: the CSV header must name at least the columns id and name")
    columns: list[tuple[str, str | None]] = []  # (field, platform or None)
    for column in header:
        platform, _, what = column.rpartition("_")
        if column in FIELDS:
            columns.append((column, None))
        elif platform and what in PLATFORM_FIELDS and (platforms is None or platform in platforms):
            columns.append((what, platform))
        else:
            known = ", ".join([*FIELDS, *(f"<platform>_{f}" for f in PLATFORM_FIELDS)])
            raise ConfigError(f"{path}:1: unknown column {column!r} (known: {known})")
    raws = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            values: dict[str, Any] = {}
            for (name, on), cell in zip(columns, row, strict=False):
                text = cell.strip()
                value: Any = _split(text) if name in ("competencies", "contacts", "teams") else text
                if on is None:
                    values[name] = value
                elif text:
                    values.setdefault(on, {})[name] = value
            raws.append(_Raw(values, reader.line_num, {}))
    except csv.Error as e:
        raise ConfigError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None
    return raws


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _text(value: Any) -> str | None:
    """A short single-line value, or None when it is not one."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if len(text) <= MAX_TEXT and "\n" not in text else None


def _texts(value: Any) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str | int) and not isinstance(value, bool) else value
    if items is None:
        return ()
    if not isinstance(items, list):
        return None
    out = [_text(v) for v in items]
    return None if any(v is None for v in out) else tuple(v for v in out if v)


def _partner(
    raw: _Raw,
    platforms: tuple[str, ...] | None,
    words: Mapping[str, Mapping[str, str]],
    problem: Callable[[tuple[int, str]], None],
) -> Partner | None:
    """One entry validated, its problems reported; None without an id (an entry with other
    problems is still returned, so that duplicates are found in the same pass)."""
    found: list[tuple[int, str]] = []

    def bad(key: str, reason: str) -> None:
        found.append((raw.at(key), reason))

    values = raw.values
    partner_id = _text(values.get("id"))
    if not partner_id:
        bad("id", "missing id (a stable partner id, e.g. harbour-it)")
    elif not PARTNER_ID.match(partner_id.lower()):
        bad("id", f"id {partner_id!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    name = _text(values.get("name"))
    if not name:
        bad("name", f"missing or bad name (one line, at most {MAX_TEXT} characters)")
    singles: dict[str, str] = {}
    for key in ("tier", "region"):
        text = _text(values.get(key))
        if text is None:
            bad(key, f"{key} must be one name (e.g. {'Elite' if key == 'tier' else 'ANZ'})")
        singles[key] = text or ""
    competencies = _texts(values.get("competencies"))
    if competencies is None:
        bad("competencies", "competencies must be a list of names")
    for key, dimension in VOCABULARY_OF.items():
        if dimension not in words:
            continue
        given = (singles[key],) if key in singles else competencies or ()
        for tag in (t for t in given if t and t.casefold() not in words[dimension]):
            known = ", ".join(sorted(words[dimension].values())) or "none"
            bad(key, f"unknown {key} {tag!r} (known {dimension}: {known})")
    presence: list[Presence] = []
    for key, value in values.items():
        key = str(key)
        if key in FIELDS:
            continue
        if platforms is not None and key not in platforms:
            bad(
                key,
                f"unknown field or platform {key!r} (fields: {', '.join(FIELDS)} — "
                f"platforms: {', '.join(platforms)})",
            )
            continue
        if (on := _presence(key, value, raw, bad)) is not None:
            presence.append(on)
    for line, reason in found:
        problem((line, reason))
    if not partner_id:
        return None
    return Partner(
        id=partner_id.lower(),
        name=name or "",
        tier=singles["tier"],
        region=singles["region"],
        competencies=competencies or (),
        presence=tuple(presence),
        line=raw.line,
    )


def _presence(
    platform: str, value: Any, raw: _Raw, bad: Callable[[str, str], None]
) -> Presence | None:
    if not isinstance(value, dict):
        bad(platform, f"{platform}: give contacts, teams and/or place (a mapping)")
        return None
    for key in value:
        if key not in PLATFORM_FIELDS:
            bad(
                f"{platform}.{key}",
                f"{platform}: unknown field {key!r} (use {', '.join(PLATFORM_FIELDS)})",
            )
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("contacts", "teams"):
        ids = _texts(value.get(key))
        if ids is None or any(any(c.isspace() for c in i) for i in ids):
            bad(f"{platform}.{key}", f"{platform}.{key} must be a list of ids")
        lists[key] = ids or ()
    place = _text(value.get("place"))
    if place is None:
        bad(f"{platform}.place", f"{platform}.place must be one channel id")
    elif place.startswith("@"):
        bad(f"{platform}.place", f"{platform}.place {place!r} is a person: list people as contacts")
        place = ""
    elif place:
        try:
            ChannelRef.of(platform, place)
        except ConfigError as e:
            bad(f"{platform}.place", f"{platform}.place: {e}")
            place = ""
    return Presence(platform, lists["contacts"], lists["teams"], place or None)


def _check_unique(partners: list[Partner], problem: Callable[[tuple[int, str]], None]) -> None:
    """An id, contact, team or place belongs to one partner: otherwise "who is this?" has two
    answers, and one partner could be shown another's customers."""
    owners: dict[tuple[str, ...], Partner] = {}
    for p in partners:
        keys: list[tuple[str, ...]] = [("id", p.id)]
        for on in p.presence:
            keys += [("contact", on.platform, u) for u in on.contacts]
            keys += [("team", on.platform, t) for t in on.teams]
            keys += [("place", on.platform, on.place)] if on.place else []
        for key in dict.fromkeys(keys):
            first = owners.setdefault(key, p)
            if first is not p:
                what = f"{key[0]} {':'.join(key[1:])}"
                problem((p.line, f"{what} is also listed for {first.id} (line {first.line})"))


def _check_places(
    raws: list[_Raw],
    partners: list[Partner],
    reserved: Mapping[ChannelRef, str],
    problem: Callable[[tuple[int, str]], None],
) -> None:
    """A partner's place is read by that partner alone: never a channel others read too (a
    route's, a tier's or region's, the admins'), or its customers and documents reach them."""
    if not reserved:
        return
    folded = {_folded(ref): what for ref, what in reserved.items()}
    lines = {p.line: raw for raw in raws for p in partners if p.line == raw.line}
    for p in partners:
        for on in p.presence:
            if not on.place:
                continue
            what = folded.get(_folded(ChannelRef(on.platform, on.place)))
            if what is not None:
                raw = lines.get(p.line)
                line = raw.at(f"{on.platform}.place") if raw else p.line
                problem(
                    (
                        line,
                        f"{on.platform}.place {on.place} is also {what}: a partner's place "
                        "must be read by that partner alone (give it a channel of its own)",
                    )
                )


def _folded(ref: ChannelRef) -> tuple[str, str]:
    """Channel names (#name) are compared without regard to case, ids as they are."""
    name = ref.channel.casefold() if ref.channel.startswith("#") else ref.channel
    return (ref.platform, name)


class PartnersFile:
    """The partners file as a running bot sees it: read again when it changes on disk (or the
    routes file whose tags it is checked against does; bot/watched.py). A broken file fails
    closed: while it is on disk no partner is known — replies are for the public and no
    private notice goes out — and the admin is told once per broken version (at start a bad
    file is an error: `check`)."""

    def __init__(
        self,
        path: Path | None,
        *,
        platforms: Iterable[str] | None = None,
        vocabulary: Callable[[], Mapping[str, Iterable[str]] | None] = lambda: None,
        reserved: Callable[[], Mapping[ChannelRef, str]] = dict,
        depends_on: Sequence[WatchedFile[Any]] = (),
    ) -> None:
        """`vocabulary` and `reserved`: see `load_partners`; `depends_on`: the files they are
        read from (the routes file), so this one is checked again when they change."""
        self.path = path
        self.platforms = tuple(platforms) if platforms is not None else None
        self._vocabulary = vocabulary
        self._reserved = reserved
        self._file = WatchedFile(path, lambda _path: self._load(), depends_on=depends_on)
        self._reported: Hashable = None

    @property
    def problem(self) -> str | None:
        """Why the file on disk is refused, if it is."""
        try:
            self._file.get()
        except ConfigError as e:
            return str(e)
        return None

    def check(self) -> Partners:
        """Read it now; a bad file raises ConfigError naming the lines."""
        return self._file.check()

    def get(self) -> Partners:
        """The partners, read again if the file changed; a broken file raises ConfigError."""
        if self.path is None:
            return Partners()
        return self._file.get()

    def get_or_none(self) -> Partners:
        """Like `get`, but a broken file counts as no partners (warned once per version):
        who reads a reply falls back to the public, and no partner is told privately."""
        try:
            return self.get()
        except ConfigError as e:
            version = self._file.version()
            if self._reported != version:
                logger.warning(
                    "%s; no partner is known until it is fixed: replies are for the public "
                    "and no partner is told privately",
                    e,
                )
                self._reported = version
            return Partners()

    @property
    def version(self) -> Hashable | None:
        """Changes whenever another version of the file is taken into use (None: broken)."""
        try:
            self.get()
        except ConfigError:
            return None
        return self._file.version()

    def _load(self) -> Partners:
        return load_partners(
            self.path,
            platforms=self.platforms,
            vocabulary=self._vocabulary(),
            reserved=self._reserved(),
        )
