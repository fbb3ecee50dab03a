"""Audiences on Teams, real Teams SDK against FakeTeams: who reads a reply decides what it may
draw on. The shipped samples: an Elite-only incentive guide (docs/elite/), the sample
partners file (Harbour IT is Elite, its Entra tenant and its contact Hana; Fjord Systems is
Advanced, its tenant) and routes file (an Elite channel). A shared channel answers for what
every organisation among its members may read — one the partners file does not list, and it
is the public; a personal chat for the asker's partner; a mapped channel for its tags."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot.app import App
from tests.adapters.teams_harness import TeamsDriver, running_teams, teams_settings
from tests.fakes.teams_server import (
    ALICE,
    CHANNEL,
    FJORD,
    GROUP,
    HARBOUR,
    OUTSIDER,
    SHARED,
    FakeTeams,
    User,
    personal_chat,
)

QUESTION = "what incentive do we earn on a net-new customer deal?"
GUIDE = "Elite Partner Incentive Guide"
SECRET = "12% of the first-year subscription value"
ELITE = "19:partnerselite@thread.tacv2"  # mapped to the Elite tier in the sample routes.yml
WITH_STRANGER, WITH_BOTH = "19:shared1stranger@thread.skype", "19:shared2both@thread.skype"
HARBOUR_COLLEAGUE = User(
    "4a4b0000-0000-4000-8000-0000000000a2", "Hugo (Harbour IT)", HARBOUR.tenant
)


@pytest.fixture
def fake() -> Iterator[FakeTeams]:
    with FakeTeams() as server:
        server.members = {
            CHANNEL: [ALICE],  # a channel of the vendor's own team
            SHARED: [ALICE, HARBOUR, HARBOUR_COLLEAGUE],  # shared with Harbour IT
            WITH_STRANGER: [ALICE, HARBOUR, OUTSIDER],  # … and an organisation nobody listed
            WITH_BOTH: [ALICE, HARBOUR, FJORD],  # … and Fjord Systems (Advanced)
            GROUP: [ALICE, HARBOUR],  # a group chat
            ELITE: [ALICE],
        }
        yield server


@pytest.fixture
async def teams(make_app: Callable[..., App], fake: FakeTeams) -> AsyncIterator[TeamsDriver]:
    async with running_teams(make_app(**teams_settings()), fake) as driver:
        yield driver


async def shown(teams: TeamsDriver, where: dict[str, object]) -> str:
    """The reply to the question asked there; a personal chat is in the asker's tenant."""
    user = where.get("user", ALICE)
    assert isinstance(user, User)
    tenant = {"tenant": user.tenant} if where.get("kind") == "personal" else {}
    _, reply = await teams.ask(QUESTION, **where, **tenant)
    assert reply.card is not None and "Sources" in reply.text  # an answer, not an apology
    return reply.text


async def test_places_without_access_get_public_documents_and_partners_their_tier(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    nowhere: tuple[dict[str, object], ...] = (
        {"conversation": CHANNEL},
        {"kind": "personal", "conversation": personal_chat(OUTSIDER), "user": OUTSIDER},
        {"conversation": WITH_STRANGER, "user": HARBOUR},  # one unknown organisation: public
        {"conversation": WITH_BOTH, "user": HARBOUR},  # Fjord Systems may not read Elite's
    )
    for where in nowhere:
        text = await shown(teams, where)
        assert GUIDE not in text and SECRET not in text, (where, text)
    readers: tuple[dict[str, object], ...] = (
        {"conversation": SHARED, "user": ALICE},  # the vendor asks; Harbour IT reads
        {"conversation": SHARED, "user": HARBOUR_COLLEAGUE},
        {"kind": "groupChat", "conversation": GROUP, "user": HARBOUR},
        {"kind": "personal", "conversation": personal_chat(HARBOUR), "user": HARBOUR},
        # Not listed as a contact: Harbour IT's by the tenant the chat is in.
        {
            "kind": "personal",
            "conversation": personal_chat(HARBOUR_COLLEAGUE),
            "user": HARBOUR_COLLEAGUE,
        },
        {"conversation": ELITE},
    )
    for where in readers:
        text = await shown(teams, where)
        assert GUIDE in text and SECRET in text and "For Elite partners" in text, (where, text)
    # Each conversation's members are read from the connector once, then kept a while.
    asked = [path for method, path in fake.calls if path.endswith("/pagedMembers")]
    for conversation in (SHARED, WITH_STRANGER, WITH_BOTH):
        assert sum(f"/{conversation}/" in path for path in asked) == 1
