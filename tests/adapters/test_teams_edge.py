"""The Teams webhook's edge: every request is checked before the SDK sees it. A token that
is not Microsoft's, for this bot, unexpired and for the activity's service URL gets 401 and
posts nothing; oversized and malformed bodies get 413 / 400 without a traceback; the signing
keys are fetched at start and again on rotation without stalling questions."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import pytest

from bot.app import App
from tests.adapters.teams_harness import TeamsDriver, running_teams, teams_settings
from tests.fakes.teams_server import ALICE, FakeTeams, message

GOLD = "whats the new CSAT rule for gold?? deadline?"


@pytest.fixture
def fake() -> Iterator[FakeTeams]:
    with FakeTeams() as server:
        yield server


@pytest.fixture
async def teams(make_app: Callable[..., App], fake: FakeTeams) -> AsyncIterator[TeamsDriver]:
    async with running_teams(make_app(**teams_settings()), fake) as driver:
        yield driver


def bad_tokens(fake: FakeTeams) -> dict[str, str | None]:
    now = int(time.time())
    forger = fake.rotate(publish=False)  # a key Microsoft never published
    return {
        "forged (a key nobody published)": fake.token(kid=forger),
        "forged (a published key's id, another key's signature)": fake.token(signer=forger),
        "expired": fake.token(exp=now - 3600, nbf=now - 7200, iat=now - 7200),
        "without exp": fake.token(exp=None),
        "for another bot": fake.token(aud="00000000-0000-4000-8000-000000000bad"),
        "from another issuer": fake.token(iss="https://sts.windows.net/evil/"),
        "alg=none": fake.token(alg="none"),
        "HS256 with the public key": fake.token(alg="HS256"),
        "missing": None,
        "for another service URL": fake.token(serviceurl="https://smba.evil.example/amer/"),
        "not a token": "not.a.jwt",
    }


async def test_every_bad_token_gets_401_and_posts_nothing(
    teams: TeamsDriver, fake: FakeTeams, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for name, token in bad_tokens(fake).items():
        status, body = await teams.deliver(message(fake, GOLD), token=token)
        assert (status, body) == (401, "refused"), name
    await teams.settle()
    assert fake.messages() == [] and fake.attempts == []
    refusals = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refusals) == 11 and not any(r.exc_info for r in caplog.records)
    # The same activity with a good token is answered: the checks above were the tokens'.
    _, reply = await teams.ask(GOLD)
    assert "2027-03-31" in reply.text


async def test_a_valid_token_for_another_service_url_than_the_activity_is_refused(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    moved = message(fake, GOLD) | {"serviceUrl": "https://smba.evil.example/amer/"}
    assert (await teams.deliver(moved))[0] == 401  # (the token names the fake's service URL)
    await teams.settle()
    assert fake.attempts == []


async def test_oversized_and_malformed_bodies_get_4xx_without_a_traceback(
    teams: TeamsDriver, fake: FakeTeams, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    huge = json.dumps(message(fake, "x" * 5_000_000)).encode()
    assert (await teams.deliver(huge))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:  # (no Content-Length: sent in chunks)
        for _ in range(50):
            yield b" " * 100_000

    headers = {"Authorization": f"Bearer {fake.token()}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(teams.url, data=chunks(), headers=headers) as r,
    ):
        assert r.status == 413
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'{"serviceUrl": 7}'):
        status, answer = await teams.deliver(body)
        assert (status, answer) == (400, "refused"), body
    await teams.settle()
    assert fake.attempts == [] and "Traceback" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)


async def test_keys_are_fetched_at_start_and_on_rotation_without_stalling_questions(
    make_app: Callable[..., App], fake: FakeTeams
) -> None:
    app = make_app(**teams_settings())
    async with running_teams(app, fake, keys_min_gap=0.2) as teams:
        assert fake.key_fetches == 1  # at start, before any request
        _, first = await teams.ask(GOLD)
        assert fake.key_fetches == 1  # the SDK's own check read our copy, not Microsoft's
        await asyncio.sleep(0.3)  # (past the gap between fetches for an unknown key)
        new = fake.rotate()
        fake.keys_held.set()  # Microsoft's key endpoint is slow to answer
        rotated = message(fake, "what is the annual fee for member partners", user=ALICE)
        pending = asyncio.create_task(teams.deliver(rotated, token=fake.token(kid=new)))
        while fake.key_fetches == 1 and not [c for c in fake.calls if c[1].endswith("/keys")][1:]:
            await asyncio.sleep(0.01)  # (its fetch has started and waits)
        _, meanwhile = await teams.ask("how does deal registration work?")
        assert not pending.done()  # a question was answered while the keys were fetched
        fake.keys_held.clear()
        assert (await pending)[0] == 200
        [answer] = await fake.wait_for(
            lambda p: p.conversation == rotated["conversation"]["id"], timeout=60
        )
        assert "annual fee" in answer.text.lower() and fake.key_fetches == 2
        assert first.text and meanwhile.text


async def test_unknown_key_ids_fetch_the_keys_at_most_once_a_minute(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    fetched = fake.key_fetches
    for _ in range(5):
        forged = fake.token(kid=fake.rotate(publish=False))
        assert (await teams.deliver(message(fake, GOLD), token=forged))[0] == 401
    assert fake.key_fetches == fetched  # fetched at start, less than a minute ago
