"""The composition root: settings → store, index, answerer, features, chat, platforms, jobs.

The only module (besides the CLI entry, bot/cli/main.py) that names concrete platforms:
`PLATFORMS` maps each name to its adapter package, one line per platform. Adding a
platform is an adapter package exporting `PLATFORM`, a line here, its settings block in
bot/config.py, and its tests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from bot.changes import ChangesSettings, ProgramChanges
from bot.changes.visibility import DocumentAudiences
from bot.chat.audiences import Audiences, PlaceMapFile, unheld_tags
from bot.chat.service import ChatService
from bot.comms.feature import CommsFeature
from bot.comms.registry import Communications
from bot.comms.routing import parse_channel_refs
from bot.comms.settings import CommsSettings
from bot.config import Settings
from bot.core import PartnerBot
from bot.errors import ConfigError
from bot.features import Service
from bot.models import ChannelRef
from bot.monitoring.metrics import Metrics, Reading
from bot.partners import PartnersFile
from bot.platform import Platform, PlatformRegistry
from bot.posting import ChannelPoster, MeteredPoster
from bot.prompts import message
from bot.store import Store
from knowledge.index import KnowledgeIndex

logger = logging.getLogger(__name__)

PLATFORMS = PlatformRegistry(
    {
        "slack": "adapters.slack",
        "discord": "adapters.discord",
        "teams": "adapters.teams",
    }
)


class App:
    """One configured partnerbot: the core, its features, the chat service, the platforms."""

    def __init__(
        self,
        settings: Settings,
        *,
        index: KnowledgeIndex | None = None,
        registry: PlatformRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or PLATFORMS
        check_channels(settings, self.registry.names)
        self.metrics = Metrics()  # this process's counters (/metrics)
        self._documents: tuple[int, DocumentAudiences] | None = None
        self.core = core = PartnerBot(settings, index=index, metrics=self.metrics)
        self.metrics.add_readings(self.index_readings)
        self.platforms: list[Platform] = []
        # The features get narrow parts (repositories, callables), never the core.
        self.comms = Communications(
            store=core.store,
            settings=CommsSettings.from_settings(settings),
            index_documents=core.index_communications,
            platforms=self.registry.names,
            shared_place=self.shared_place,
            reserved=lambda: self.channels_in_use(),
        )
        self.changes = ProgramChanges(
            records=core.store.changes,
            deliveries=core.store.deliveries,
            settings=ChangesSettings.from_settings(settings),
            llm=lambda: core.llm_client,
            posters=self.posters,
            readers=lambda platform, channel: self.audiences.of_place(platform, channel),
            documents=self.document_audiences,
        )
        comms_feature = CommsFeature(
            self.comms,
            store=core.store,
            posters=self.posters,
            answer_documents=lambda question: core.answerer.answer(question),
        )
        self.core.features.extend([self.changes, comms_feature])
        # Who reads a reply: the partners file and the `audiences:` of the routes file.
        self.places = PlaceMapFile(
            lambda: self.comms.routes_path,
            vocabulary=self.vocabulary,
            platforms=self.registry.names,
        )
        self._in_use: tuple[object, dict[ChannelRef, str]] | None = None
        self.audiences = Audiences(
            partners=self.partners.get_or_none,
            places=self.places.get,
            reserved=self.channels_in_use,
        )
        core.tier_names = self.tier_names
        self.chat = ChatService(self.core, audiences=self.audiences)

    def document_audiences(self) -> DocumentAudiences:
        """Every indexed document's audience now (bot/changes/visibility.py), once per index
        generation."""
        generation = self.core.index.generation()
        kept = self._documents
        if kept is not None and kept[0] == generation:
            return kept[1]
        found = DocumentAudiences.of(
            (d["path"], d["title"], d["audience"] or "") for d in self.core.index.documents()
        )
        self._documents = (generation, found)
        return found

    def channels_in_use(self) -> dict[ChannelRef, str]:
        """Channels others read — route and admin channels, channels the routes file maps to
        tags — each with what it is: no partner's place may be one (bot/partners.py), and
        one that is anyway is not private (bot/chat/audiences.py). Read when routes change."""
        version = (self.comms.routes_file.version(), tuple(self.settings.admin_channels))
        if self._in_use is not None and self._in_use[0] == version:
            return self._in_use[1]
        found = self.comms.channels_in_use()
        for (platform, channel), viewer in self.places.get().channels.items():
            where = f"the {viewer.name} channel (the routes file's audiences)"
            found.setdefault(ChannelRef(platform, channel), where)
        self._in_use = (version, found)
        return found

    def shared_place(self, platform: str, channel: str, partner_id: str) -> str | None:
        """Why a partner's place may not receive its private notice now (someone else reads
        it, or it is not that partner's place any more), or None (bot/chat/audiences.py)."""
        readers = self.audiences.readers(platform, channel)
        if readers.private_to == partner_id:
            return None
        if readers.owner is None or readers.owner.id != partner_id:
            return message("place_not_partners", partner=partner_id)
        return message("place_shared_with", who=", ".join(readers.outsiders))

    @property
    def store(self) -> Store:
        return self.core.store

    def vocabulary(self) -> dict[str, frozenset[str]] | None:
        """The known audience tags per dimension (routes.yml `tags`), None without the file."""
        routes = self.comms.routes
        return {d: t for d, t in routes.known_tags.items() if t} if routes.exists else None

    def tier_names(self) -> set[str]:
        """The program's tiers: routes.yml `tags: tiers`, and every tier in the partners file."""
        known = set((self.vocabulary() or {}).get("tiers", ()))
        return known | {p.tier for p in self.partners.get_or_none() if p.tier}

    def audience_warnings(self) -> list[str]:
        """Document audience tags no partner, channel or role holds (bot/chat/audiences.py)."""
        documents = [(d["path"], d["audience"]) for d in self.core.index.documents()]
        restricted = [(path, key) for path, key in documents if key]
        if not restricted:
            return []
        return unheld_tags(restricted, self.partners.get_or_none(), self.places.get())

    @property
    def partners(self) -> PartnersFile:
        """Who is who among the partners (bot/partners.py): `app.partners.get().for_actor(a)`."""
        return self.comms.partners

    # -- platforms and jobs --------------------------------------------------------------------
    def posters(self) -> dict[str, ChannelPoster]:
        """The posters of this process's platforms that are connected now, by platform name
        (counted in the metrics): what is due on a platform not connected (yet) waits, or
        is posted by a replica that is."""
        return {
            p.name: MeteredPoster(p.poster, metrics=self.metrics)
            for p in self.platforms
            if p.connected
        }

    def add_platforms(self, options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Build every platform the settings configure (`options` per platform name)."""
        for spec in self.registry.configured(self.settings):
            self.add_platform(spec.name, **dict((options or {}).get(spec.name, {})))

    def add_platform(self, name: str, **options: Any) -> Platform:
        platform = self.registry.spec(name).build(self.chat, self.settings, **options)
        self.platforms.append(platform)
        return platform

    def jobs(self) -> list[Service]:
        return [job for feature in self.core.features for job in feature.jobs()]

    def index_readings(self) -> list[Reading]:
        """The index figures /metrics reports (read on each scrape)."""
        index = self.core.index
        return [
            Reading(
                "index_generation",
                "The index generation questions are answered from.",
                index.generation(),
            ),
            Reading("index_chunks", "Chunks in the index.", index.chunk_count()),
            Reading("index_documents", "Documents in the index.", index.document_count()),
        ]

    @asynccontextmanager
    async def connected(self, names: Iterable[str]) -> AsyncIterator[dict[str, ChannelPoster]]:
        """Start these platforms for a one-off job (e.g. `changes publish`), then stop them."""
        async with AsyncExitStack() as stack:
            posters: dict[str, ChannelPoster] = {}
            for name in sorted(set(names)):
                spec = self.registry.spec(name)
                if not spec.configured(self.settings):
                    raise ConfigError(
                        f"{name} is named in the channel settings but is not configured: "
                        f"set its token (see .env.example)"
                    )
                platform = spec.build(self.chat, self.settings, listen=False)
                await platform.start()
                stack.push_async_callback(platform.stop)
                posters[name] = platform.poster
            yield posters

    def close(self) -> None:
        self.core.close()


def check_channels(settings: Settings, platforms: Iterable[str]) -> None:
    """Every platform:channel in the settings names a known platform (syntax was checked
    when the settings were read)."""
    for variable, values in (
        ("PARTNERBOT_CHANGES_CHANNELS", settings.changes_channels),
        ("PARTNERBOT_ADMIN_CHANNELS", settings.admin_channels),
    ):
        parse_channel_refs(values, variable=variable, platforms=platforms)
