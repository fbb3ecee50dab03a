"""Private notices to partners, piece by piece: where a partner is told, and what its notice
shows — its own customers, made inert, at most a hundred listed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.comms.keys import PARTNER_FEATURE
from bot.comms.loading import Loaded, load_communication
from bot.comms.model import Communication
from bot.comms.partner_notices import MAX_LISTED, PartnerNotices, targets
from bot.comms.routing import load_routes
from bot.comms.settings import CommsSettings
from bot.config import SAMPLES_DIR
from bot.models import ChannelRef
from bot.partners import PartnersFile, load_partners
from bot.store import Delivery, NewDelivery, Recipient, Store
from bot.store.sqlite import SqliteStore

PLATFORMS = ("slack", "discord")
NOW = datetime(2027, 1, 5, 22, 0, tzinfo=UTC)
TEXT = """\
partners:
  - id: harbour-it
    name: Harbour IT
    slack: {contacts: [U0AMY], place: C0HARBOUR}
  - id: fjord-systems
    name: "Fjord <!channel> *Systems*"
    slack: {contacts: [U0LARS, U0INGA]}
  - id: wattle-msp
    name: Wattle
    discord: {contacts: ["311"], place: "321"}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = SqliteStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


@pytest.fixture
def notices(store: Store, tmp_path: Path) -> PartnerNotices:
    path = tmp_path / "partners.yml"
    path.write_text(TEXT, encoding="utf-8")
    settings = CommsSettings(folder=tmp_path, routes_path=tmp_path / "routes.yml")
    return PartnerNotices(
        store=store,
        partners=PartnersFile(path, platforms=PLATFORMS),
        settings=settings,
        now=lambda: NOW,
        platforms=PLATFORMS,
    )


def sample() -> Communication:
    routes = load_routes(SAMPLES_DIR / "comms" / "routes.yml")
    path = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
    loaded = load_communication(path, routes=routes, now=NOW - timedelta(days=30))
    assert isinstance(loaded, Loaded)
    return loaded.communication


def delivery(store: Store, kind: str, partner: str, **detail: object) -> Delivery:
    key = f"pb-partner:x:r1:{kind}:{partner}"
    new = NewDelivery(
        key,
        PARTNER_FEATURE,
        "smb-licensing-2027",
        kind,
        "slack",
        "C0HARBOUR",
        NOW,
        1,
        14,
        {"partner": partner, **detail},
    )
    store.deliveries.plan(new, now=NOW)
    found = store.deliveries.by_key(key)
    assert found is not None
    return found


def test_a_partner_is_told_in_its_place_else_each_contact_directly(tmp_path: Path) -> None:
    path = tmp_path / "partners.yml"
    path.write_text(TEXT, encoding="utf-8")
    partners = load_partners(path, platforms=PLATFORMS)
    harbour, fjord, wattle = (
        partners.get(i) for i in ("harbour-it", "fjord-systems", "wattle-msp")
    )
    assert harbour and fjord and wattle
    assert targets(harbour) == [ChannelRef("slack", "C0HARBOUR")]
    assert targets(fjord) == [ChannelRef("slack", "@U0LARS"), ChannelRef("slack", "@U0INGA")]
    assert targets(wattle, ("slack",)) == []  # its platform is not running here


def test_a_notice_lists_only_that_partners_customers_made_inert(
    notices: PartnerNotices, store: Store
) -> None:
    comm = sample()
    store.recipients.replace(
        comm.id,
        [
            Recipient("C-1", "Bondi <@U0BOSS> **Bakery**", "fjord-systems"),
            Recipient("C-2", "", "fjord-systems"),
            Recipient("C-3", "Manly Ferry Chandlery", "harbour-it"),
        ],
    )
    notice = notices.render(
        comm=comm,
        delivery=delivery(store, "first", "fjord-systems"),
        late=False,
        first_ref=None,
        button_value="comm:1",
    )
    assert notice is not None
    assert notice.title.startswith("For Fjord @\u200bchannel Systems: 2 customers of yours")
    assert "• Bondi @\u200bU0BOSS Bakery (C-1)" in notice.text
    assert "• C-2 (C-2)" in notice.text  # no name given: its id
    assert "Manly" not in notice.text and "<@" not in notice.text and "<!" not in notice.text
    assert [(b.kind, b.value) for b in notice.buttons] == [
        ("acknowledge", "comm:1"),
        ("ask", "comm:1"),
    ]
    assert notice.fields == (("Your customers on the list", "2"),)


def test_a_long_list_is_cut_at_a_hundred_and_counted(notices: PartnerNotices, store: Store) -> None:
    comm = sample()
    many = [Recipient(f"C-{i:03d}", f"Customer {i:03d}", "harbour-it") for i in range(130)]
    store.recipients.replace(comm.id, many)
    notice = notices.render(
        comm=comm,
        delivery=delivery(store, "first", "harbour-it"),
        late=False,
        first_ref=None,
        button_value="comm:1",
    )
    assert notice is not None
    assert notice.text.count("\n• Customer ") == MAX_LISTED == 100
    assert "• … and 30 more of your customers" in notice.text
    assert "130 customers of yours" in notice.title


def test_withdrawn_and_cancelled_notices_name_no_customer_and_have_no_buttons(
    notices: PartnerNotices, store: Store
) -> None:
    comm = sample()
    store.recipients.replace(comm.id, [Recipient("C-3", "Manly Ferry Chandlery", "harbour-it")])
    gone = notices.render(
        comm=comm,
        delivery=delivery(store, "cancelled", "harbour-it", withdrawn=True),
        late=False,
        first_ref=None,
        button_value="comm:1",
    )
    assert gone is not None and gone.title.startswith("No longer for your customers:")
    assert "none of the customers Harbour IT is partner of record for" in gone.text
    assert "Manly" not in gone.text and gone.buttons == () and gone.fields == ()
    # A partner with none of its customers on the list is not sent a notice listing nobody.
    missing = delivery(store, "reminder", "wattle-msp")
    assert (
        notices.render(
            comm=comm, delivery=missing, late=False, first_ref=None, button_value="comm:2"
        )
        is None
    )
