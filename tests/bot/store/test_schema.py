"""Versioned migrations on both backends; a newer schema is refused; URLs and passwords."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from bot.config import load_settings
from bot.errors import ConfigError, StoreError
from bot.store import DatabaseUrl, NewDelivery, Recipient, open_store, parse_database_url
from bot.store.migrations import load_migrations
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.bot.store.test_contract import T0
from tests.postgres_server import PASSWORD, PostgresServer

Execute = Callable[[str], None]


@contextmanager
def raw(url: DatabaseUrl) -> Iterator[Execute]:
    """Plain SQL on the database, as an operator (or an older partnerbot) would run it."""
    if url.backend == "sqlite":
        assert url.path is not None
        db = sqlite3.connect(url.path, isolation_level=None)

        def run_sqlite(sql: str) -> None:
            db.executescript(sql)

        try:
            yield run_sqlite
        finally:
            db.close()
        return
    with psycopg.connect(url.url, autocommit=True) as conn:

        def run_postgres(sql: str) -> None:
            conn.execute(sql.encode())

        yield run_postgres


def open_at(url: DatabaseUrl, version: int) -> Any:
    """The store migrated only up to `version`."""
    if url.backend == "sqlite":
        assert url.path is not None
        return SqliteStore(url.path, migrations=load_migrations("sqlite")[:version])
    return PostgresStore(url, migrations=load_migrations("postgres")[:version])


LATEST = len(load_migrations("sqlite"))

# Version 1 rows: a rating, an acknowledgement, a posted notice and a posted digest.
VERSION_1_ROWS = """
INSERT INTO interactions(at, platform, asker, place, question, answer, abstained, confidence,
    sources) VALUES ('2026-11-01T09:00:00+00:00', 'slack', 'U1', 'C1', 'q?', 'a', 0, 0.5, '[]');
INSERT INTO feedback(at, interaction_id, platform, {user}, rating, question, answer, sources)
    VALUES ('2026-11-01T09:01:00+00:00', 1, 'slack', 'U9', -1, 'q?', 'a', '[]');
INSERT INTO comms(id, title, data, content_hash, send_at, status, revision, epoch, warnings,
    registered_at, updated_at) VALUES ('c1', 'T', '{{}}', 'h', '2027-01-19T22:00:00+00:00',
    'scheduled', 1, 1, '[]', '2026-11-01T09:00:00+00:00', '2026-11-01T09:00:00+00:00');
INSERT INTO comm_deliveries(id, key, comm_id, revision, platform, channel, kind, lead_days,
    due_at, status, attempts, message_id, posted_at, created_at) VALUES (41,
    'pb-comm:c1:r1:first-14d:slack:C0ANZ', 'c1', 1, 'slack', 'C0ANZ', 'first', 14,
    '2027-01-05T22:00:00+00:00', 'posted', 1, '171.0001', '2027-01-05T22:00:05+00:00',
    '2026-11-01T09:00:00+00:00');
INSERT INTO comm_acks(comm_id, platform, channel, {user}, at, delivery_key) VALUES ('c1',
    'slack', 'C0ANZ', 'U7', '2027-01-06T08:00:00+00:00', 'pb-comm:c1:r1:first-14d:slack:C0ANZ');
INSERT INTO program_change_deliveries(key, channel, message_id, at) VALUES
    ('changes:abc:slack:#partners', 'slack:#partners', '172.0002', '2026-11-02T00:00:00+00:00');
"""


def test_a_database_at_version_1_is_migrated_to_the_latest_with_its_data(
    database_url: DatabaseUrl,
) -> None:
    open_at(database_url, 1).close()
    user = '"user"' if database_url.backend == "postgres" else "user"
    with raw(database_url) as execute:
        execute(VERSION_1_ROWS.format(user=user))
    store = open_store(database_url)
    try:
        assert store.schema_version() == LATEST == 7
        [rating] = store.interactions.feedback()
        assert (rating.user, rating.rating) == ("U9", -1)
        [ack] = store.comms.acks("c1")
        assert ack.user == "U7"
        # The notice keeps its id: posted buttons carry it.
        notice = store.deliveries.get(41)
        assert notice is not None
        assert (notice.feature, notice.subject, notice.status, notice.message_id) == (
            "comms",
            "c1",
            "posted",
            "171.0001",
        )
        digest = store.deliveries.by_key("changes:abc:slack:#partners")
        assert digest is not None
        assert (digest.feature, digest.platform, digest.channel, digest.status) == (
            "changes",
            "slack",
            "#partners",
            "posted",
        )
        # New rows do not collide with the migrated ids.
        store.deliveries.plan(
            NewDelivery("k-new", "comms", "c1", "first", "slack", "C0EMEA", T0), now=T0
        )
        new = store.deliveries.by_key("k-new")
        assert new is not None and new.id > 41
        # Version 4: recipient lists and acknowledgements per partner, empty at first.
        assert store.recipients.counts("c1") == {} and store.comms.partner_acks("c1") == []
        store.recipients.replace("c1", [Recipient("C-1", "Bondi Bakery", "harbour-it")])
        assert store.recipients.counts("c1") == {"harbour-it": 1}
    finally:
        store.close()
    again = open_store(database_url)  # nothing left to apply
    assert again.schema_version() == LATEST
    again.close()


def test_a_schema_newer_than_this_partnerbot_is_refused(database_url: DatabaseUrl) -> None:
    open_store(database_url).close()
    with raw(database_url) as execute:
        execute(
            "INSERT INTO schema_version(version, name, applied_at) "
            "VALUES (99, 'from_the_future', '2030-01-01')"
        )
    with pytest.raises(StoreError) as refused:
        open_store(database_url)
    text = str(refused.value)
    assert f"schema version 99, newer than this partnerbot knows (version {LATEST})" in text
    assert "PARTNERBOT_DATABASE_URL" in text and PASSWORD not in text


def test_two_processes_starting_together_migrate_once(database_url: DatabaseUrl) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            open_store(database_url).close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = open_store(database_url)
    assert store.schema_version() == LATEST
    store.close()


# -- the URL setting -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("mysql://u:pw-123@h/db", "unknown scheme 'mysql'"),
        ("state.sqlite3", "no scheme given"),
        ("sqlite://", "needs a file path"),
        ("postgresql://u:pw-123@h:99999/db", "the port is not a number"),
        ("postgresql://u:pw-123@h:5432", "name the database"),
    ],
)
def test_a_bad_database_url_stops_at_start_naming_the_variable(value: str, why: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(PARTNERBOT_DATABASE_URL=value)
    text = str(refused.value)
    assert "PARTNERBOT_DATABASE_URL" in text and why in text
    assert "pw-123" not in text


def test_the_default_is_sqlite_in_the_data_dir_and_urls_are_parsed() -> None:
    settings = load_settings(PARTNERBOT_DATA_DIR="/srv/pb")
    assert settings.database == DatabaseUrl.sqlite_file(settings.data_dir / "state.sqlite3")
    assert parse_database_url("sqlite:////var/lib/pb/state.db").path is not None
    assert str(parse_database_url("sqlite:////var/lib/pb/state.db").path) == "/var/lib/pb/state.db"
    pg = load_settings(PARTNERBOT_DATABASE_URL="postgresql://pb:s3cr%40t@db:5432/pb").database
    assert pg.backend == "postgres"
    assert pg.redacted() == "postgresql://pb:***@db:5432/pb" == str(pg)
    assert "s3cr" not in repr(pg) and "s3cr" not in repr(load_settings())


def test_the_password_never_shows_when_postgresql_refuses(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng-Passw0rd-7781"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreError) as refused:
        open_store(parse_database_url(postgres_server.url("postgres", password=wrong)))
    text = str(refused.value)
    assert "password authentication failed" in text and "partnerbot:***@127.0.0.1" in text
    assert wrong not in text and wrong not in caplog.text
    assert refused.value.__cause__ is None  # the driver's error (and its URL) is not chained


def test_a_server_that_is_not_there_fails_fast_with_the_reason(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.url().replace(str(postgres_server.port), "1")
    with pytest.raises(StoreError, match="cannot use the state database") as refused:
        open_store(parse_database_url(url))
    assert PASSWORD not in str(refused.value)
