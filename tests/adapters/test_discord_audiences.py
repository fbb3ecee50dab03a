"""Audiences on Discord, real discord.py against FakeDiscord (Found 7): the samples' routes
file maps a role of the partner server (1300000000000000401) to Elite. A member holding it
is answered for Elite in a DM as in the server (the README says so); a member without it,
and a DM from someone in no shared guild, for the public."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.app import App
from tests.adapters.discord_harness import discord_settings, running_discord
from tests.fakes.discord_server import FakeDiscord, fake_discord

ELITE_ROLE = 1_300_000_000_000_000_401
QUESTION = "what incentive do we earn on a net-new customer deal?"
GUIDE = "Elite Partner Incentive Guide"
SECRET = "12%"
HOLDER, OTHER, STRANGER = 900_000_000_000_000_101, 900_000_000_000_000_102, 900_000_000_000_000_103


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with fake_discord() as server:
        server.add_role("Elite", role_id=ELITE_ROLE)
        server.add_member(HOLDER, name="elite-eve", role_ids=(ELITE_ROLE,))
        server.add_member(OTHER, name="member-max", role_ids=(server.partner_role_id,))
        yield server


def shown(reply: dict[str, Any]) -> str:
    return f"{reply.get('content')}\n{reply.get('embeds')}"


async def dm_reply(fake: FakeDiscord, user: int) -> str:
    asked = fake.message_create(QUESTION, author_id=user, guild=False)
    reply = await fake.wait_for_message(
        lambda m: m.get("message_reference", {}).get("message_id") == asked["id"], timeout=30
    )
    return shown(reply)


async def test_a_dm_is_answered_for_the_roles_the_person_holds_in_the_server(
    fake: FakeDiscord, make_app: Callable[..., App]
) -> None:
    app = make_app(**discord_settings(fake))
    async with running_discord(app):
        holder = await dm_reply(fake, HOLDER)
        assert GUIDE in holder and SECRET in holder, holder
        for user in (OTHER, STRANGER):  # no Elite role; in no shared guild
            reply = await dm_reply(fake, user)
            assert GUIDE not in reply and "elite/" not in reply, reply
    asked = [r.path for r in fake.requests if "/members/" in r.path]
    assert any(str(HOLDER) in p for p in asked)  # the roles are read from the server
