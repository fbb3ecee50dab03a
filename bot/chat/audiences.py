"""Who reads a reply: the audience of the place a question is answered in.

Documents say who may read them (knowledge/audience.py); this module says who reads a
reply, as a `Viewer`, so retrieval searches only what every reader may read:

- a DM (or a reply only the asker sees): the asker's partner profile from the partners
  file (`Partners.for_actor`), else the tags of the asker's mapped roles (a Discord role
  that stands for a tier), else the public;
- a partner's own place in the partners file, or a Slack Connect channel shared with
  partner workspaces, or a Teams channel or chat with members of partner tenants
  (`Partners.for_team` of each other organisation): those partners;
- a channel the `audiences:` section of routes.yml maps to tags: those tags;
- anything else (an unmapped channel, an unknown person, an external team nobody
  listed): the public, which sees untagged documents only.

The `audiences:` section uses routes.yml's tag vocabulary (`tags:`); a tag outside it
is refused, so a typo cannot quietly open or close a channel:

    audiences:
      - name: Elite partners
        tags: {tiers: [Elite]}
        slack: [C0ELITE]                       # channels every reader of holds the tags
        discord: ["1200000000000000003"]
        discord_roles: ["1300000000000000001"] # a person with this role holds them
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError, UserError
from bot.models import Actor
from bot.partners import Partner, Partners
from bot.watched import WatchedFile
from knowledge import bounded_yaml
from knowledge.audience import ANY, PARTNERS, PUBLIC, Audience, Viewer

logger = logging.getLogger(__name__)

SECTION = "audiences"
ROLES_SUFFIX = "_roles"
_ENTRY_KEYS = {"name", "tags"}


def partner_viewer(partner: Partner) -> Viewer:
    """One partner's people: its tier, region, each competency, and its id."""
    return Viewer.holding({**partner.tags(), PARTNERS: (partner.id,)}, name=partner.name)


@dataclass(frozen=True)
class PlaceMap:
    """The `audiences:` section of the routes file: channels and roles → tags."""

    channels: Mapping[tuple[str, str], Viewer] = field(default_factory=dict)
    roles: Mapping[tuple[str, str], Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def tags(self) -> dict[str, set[str]]:
        """Every tag the map gives someone, by dimension (for the vocabulary check)."""
        found: dict[str, set[str]] = {}
        for viewer in self.channels.values():
            for dimension, options in viewer.facts:
                found.setdefault(dimension, set()).update(options)
        for tags in self.roles.values():
            for dimension, values in tags.items():
                found.setdefault(dimension, set()).update(values)
        return found


def load_place_map(
    path: Path | None,
    *,
    vocabulary: Mapping[str, Iterable[str]] | None = None,
    platforms: Iterable[str] | None = None,
) -> PlaceMap:
    """Read the `audiences:` section of a routes file (none, or no file: nothing mapped).
    `vocabulary`: the known tags per dimension (routes.yml `tags`). A bad section raises
    ConfigError naming the entry and what is wrong."""
    if path is None or not path.is_file():
        return PlaceMap()
    try:
        data = bounded_yaml.load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read the audiences ({e})") from None
    raw = data.get(SECTION) if isinstance(data, dict) else None
    if raw is None:
        return PlaceMap()
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: '{SECTION}' must be a list of entries with tags and channels")
    known = {d: {t.casefold() for t in tags} for d, tags in (vocabulary or {}).items()}
    allowed = set(platforms) if platforms is not None else None
    channels: dict[tuple[str, str], Viewer] = {}
    roles: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for number, entry in enumerate(raw, start=1):
        where = f"{path}: {SECTION} entry {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: give a mapping with 'tags' and channels or roles")
        name = str(entry.get("name") or f"{SECTION} entry {number}")
        tags = _entry_tags(entry.get("tags"), known if vocabulary is not None else None, where)
        viewer = Viewer.of(tags.items(), name=name)
        for key, values in entry.items():
            if key in _ENTRY_KEYS:
                continue
            platform, is_roles = (
                str(key).removesuffix(ROLES_SUFFIX),
                str(key).endswith(ROLES_SUFFIX),
            )
            if allowed is not None and platform not in allowed:
                raise ConfigError(
                    f"{where}: unknown platform {platform!r} (known: {', '.join(sorted(allowed))})"
                )
            for value in _ids(values, f"{where}: {key}"):
                if is_roles:
                    roles[(platform, value)] = tags
                    continue
                if value.startswith("#"):
                    raise ConfigError(
                        f"{where}: {key}: {value!r} is a name; give the channel id "
                        "(messages name their channel by id)"
                    )
                if channels.setdefault((platform, value), viewer) is not viewer:
                    raise ConfigError(f"{where}: {platform} channel {value} is mapped twice")
    return PlaceMap(channels, roles)


def _entry_tags(
    value: Any, known: Mapping[str, set[str]] | None, where: str
) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: 'tags' must map dimensions to tags, e.g. {{tiers: [Elite]}}")
    tags: dict[str, tuple[str, ...]] = {}
    for dimension, values in value.items():
        listed = _ids(values, f"{where}: tags.{dimension}")
        if known is not None:
            vocabulary = known.get(str(dimension))
            if vocabulary is None:
                raise ConfigError(
                    f"{where}: unknown dimension {dimension!r} (routes.yml tags: "
                    f"{', '.join(sorted(known)) or 'none'})"
                )
            unknown = [t for t in listed if t.casefold() not in vocabulary]
            if unknown:
                raise ConfigError(
                    f"{where}: {', '.join(unknown)} not among the {dimension} in routes.yml tags"
                )
        if listed:
            tags[str(dimension)] = listed
    return tags


def _ids(value: Any, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in items
    ):
        raise ConfigError(f"{where}: expected a list of names or ids")
    return tuple(str(v).strip() for v in items if str(v).strip())


class Audiences:
    """Resolves who reads a reply from the partners file and the place map (both read
    again when they change)."""

    def __init__(
        self,
        *,
        partners: Callable[[], Partners] = Partners,
        places: Callable[[], PlaceMap] = PlaceMap,
    ) -> None:
        self._partners = partners
        self._places = places

    def of_asker(self, actor: Actor) -> Viewer:
        """The asker alone reads the reply (a DM, a reply only they see)."""
        partner = self._partners().for_actor(actor)
        if partner is not None:
            return partner_viewer(partner)
        mapped = self._places().roles
        # Each role's tags hold for its holder: one of them per dimension the role names.
        facts = [
            fact for role in actor.roles for fact in mapped.get((actor.platform, role), {}).items()
        ]
        return Viewer.of(facts, name=f"{actor.who} (by role)") if facts else PUBLIC

    def of_channel(self, platform: str, channel: str, *, shared_with: Iterable[str] = ()) -> Viewer:
        """Everyone who can read a channel: a partner's own place, a Slack Connect channel's
        partners (every external team must be a listed partner's), a mapped channel's tags;
        otherwise the public."""
        partners = self._partners()
        if (own := partners.for_place(platform, channel)) is not None:
            return partner_viewer(own)
        teams = sorted(set(shared_with))
        if teams:
            found = [partners.for_team(platform, team) for team in teams]
            if any(p is None for p in found):
                return PUBLIC  # someone we do not know reads it
            each = {p.id: p for p in found if p is not None}
            viewers = [partner_viewer(p) for p in each.values()]
            if len(viewers) == 1:
                return viewers[0]
            return Viewer.common(viewers, name=" and ".join(sorted(p.name for p in each.values())))
        return self._places().channels.get((platform, channel), PUBLIC)

    def of_place(
        self,
        actor: Actor,
        channel: str | None,
        *,
        direct: bool = False,
        shared_with: Iterable[str] = (),
    ) -> Viewer:
        """Who reads a reply posted in `channel` (a DM when `direct`; None: nowhere known)."""
        try:
            if direct:
                return self.of_asker(actor)
            if not channel:
                return PUBLIC
            return self.of_channel(actor.platform, channel, shared_with=shared_with)
        except ConfigError as e:  # a broken file keeps everyone to the public
            logger.warning("audiences: %s; answering for the public", e)
            return PUBLIC


class PlaceMapFile:
    """The place map as a running bot sees it: read again when the routes file changes
    (bot/watched.py). A broken `audiences:` section fails closed: while it is on disk no
    place or role has an audience (replies there are for the public), and the admin is
    told once per broken version."""

    def __init__(
        self,
        path: Callable[[], Path | None],
        *,
        vocabulary: Callable[[], Mapping[str, Iterable[str]] | None] = lambda: None,
        platforms: Iterable[str] | None = None,
    ) -> None:
        self._vocabulary = vocabulary
        self._platforms = tuple(platforms) if platforms is not None else None
        self._file = WatchedFile(path, self._load)
        self._reported: Hashable = None

    def _load(self, path: Path | None) -> PlaceMap:
        return load_place_map(path, vocabulary=self._vocabulary(), platforms=self._platforms)

    def check(self) -> PlaceMap:
        """Read it now; a bad section raises ConfigError."""
        return self._file.check()

    def get(self) -> PlaceMap:
        try:
            return self._file.get()
        except ConfigError as e:
            version = self._file.version()
            if self._reported != version:
                logger.warning(
                    "%s; no place has an audience until it is fixed: replies are for the public",
                    e,
                )
                self._reported = version
            return PlaceMap()


def viewer_for_cli(
    *,
    partners: Partners,
    as_partner: str | None = None,
    audience: Iterable[str] = (),
    vocabulary: Mapping[str, Iterable[str]] | None = None,
) -> Viewer:
    """Who `partnerbot ask` answers for: a partner of the partners file (`--as-partner`),
    explicit tags (`--audience tiers=Elite,Advanced`, one dimension each), else the public.
    UserError for an unknown partner, a malformed option or a tag outside the vocabulary."""
    given = list(audience)
    if as_partner and given:
        raise UserError("give --as-partner or --audience, not both")
    if as_partner:
        partner = partners.get(as_partner)
        if partner is None:
            ids = ", ".join(p.id for p in list(partners)[:10]) or "none: no partners file"
            raise UserError(f"no partner {as_partner!r} in the partners file (known: {ids})")
        return partner_viewer(partner)
    facts: list[tuple[str, tuple[str, ...]]] = []
    known = {d: {t.casefold() for t in tags} for d, tags in (vocabulary or {}).items()}
    for option in given:
        dimension, sep, values = option.partition("=")
        dimension = dimension.strip().casefold()
        tags = tuple(t.strip() for t in values.split(",") if t.strip())
        if not sep or not dimension or not tags:
            raise UserError(f"--audience {option!r}: write dimension=tag[,tag], e.g. tiers=Elite")
        if vocabulary is not None and dimension != PARTNERS:
            unknown = [t for t in tags if t.casefold() not in known.get(dimension, set())]
            if unknown:
                raise UserError(
                    f"--audience {option!r}: {', '.join(unknown)} is not among the "
                    f"{dimension} in routes.yml tags"
                )
        facts.append((dimension, tags))
    if not facts:
        return PUBLIC
    return Viewer.of(facts, name=" and ".join(given))


def unheld_tags(
    documents: Iterable[tuple[str, str]], partners: Partners, places: PlaceMap
) -> list[str]:
    """Warnings for document audience tags nobody holds — no partner of the partners file,
    no mapped channel or role (a typo, or a partner not yet listed): only admins' checks
    can read such a document. `documents`: (path, audience key) pairs."""
    held: dict[str, set[str]] = {d: {t.casefold() for t in ts} for d, ts in places.tags().items()}
    for partner in partners:
        for dimension, tags in {**partner.tags(), PARTNERS: (partner.id,)}.items():
            held.setdefault(dimension, set()).update(t.casefold() for t in tags)
    anywhere = set().union(*held.values()) if held else set()
    warnings = []
    for path, key in sorted(documents):
        for dimension, tags in Audience.from_key(key).clauses:
            pool = anywhere if dimension == ANY else held.get(dimension, set())
            for tag in tags:
                if tag.casefold() not in pool:
                    shown = tag if dimension == ANY else f"{dimension}: {tag}"
                    warnings.append(
                        f"{path}: audience {shown!r} is held by no partner, channel or role "
                        "(a typo?): nobody is shown it for that tag"
                    )
    return warnings
