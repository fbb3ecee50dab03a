"""The bot's durable state behind repository protocols: SQLite (embedded) or PostgreSQL.

    store = open_store(settings.database)      # migrated to the latest schema
    store.interactions.record(question, answer)
    with store.transaction() as tx:            # all or nothing
        tx.comms.update(...); tx.deliveries.plan(...)

Features receive the repository (or the outbox) they need, never the backend.
"""

from __future__ import annotations

from bot.models import ConversationRef
from bot.store.protocols import (
    ChangeRepository,
    CommunicationRepository,
    ConsoleRepository,
    ConversationRepository,
    DeliveryRepository,
    EventRepository,
    GapMarkRepository,
    IndexRunRepository,
    InteractionRepository,
    RecipientRepository,
    Repositories,
    Store,
    ThreadRepository,
)
from bot.store.types import (
    ROLES,
    Ack,
    ApiToken,
    AskedQuestion,
    AuditEntry,
    ChangeRecord,
    CommCounts,
    ConsoleSession,
    ConsoleUser,
    Delivery,
    Feedback,
    GapLine,
    GapMark,
    GapReport,
    HistoryEntry,
    IdempotentCall,
    IndexRun,
    Interaction,
    NewDelivery,
    PartnerAck,
    Recipient,
    StoredCommunication,
)
from bot.store.url import DatabaseUrl, parse_database_url

__all__ = [
    "ROLES",
    "Ack",
    "ApiToken",
    "AskedQuestion",
    "AuditEntry",
    "ChangeRecord",
    "ChangeRepository",
    "CommCounts",
    "CommunicationRepository",
    "ConsoleRepository",
    "ConsoleSession",
    "ConsoleUser",
    "ConversationRef",
    "ConversationRepository",
    "DatabaseUrl",
    "Delivery",
    "DeliveryRepository",
    "EventRepository",
    "Feedback",
    "GapLine",
    "GapMark",
    "GapMarkRepository",
    "GapReport",
    "HistoryEntry",
    "IdempotentCall",
    "IndexRun",
    "IndexRunRepository",
    "Interaction",
    "InteractionRepository",
    "NewDelivery",
    "PartnerAck",
    "Recipient",
    "RecipientRepository",
    "Repositories",
    "Store",
    "StoredCommunication",
    "ThreadRepository",
    "open_store",
    "parse_database_url",
]


def open_store(url: DatabaseUrl) -> Store:
    """Open (and migrate) the state database the URL names."""
    if url.backend == "postgres":
        from bot.store.postgres import PostgresStore  # psycopg only when PostgreSQL is used

        return PostgresStore(url)
    from bot.store.sqlite import SqliteStore

    assert url.path is not None
    return SqliteStore(url.path)
