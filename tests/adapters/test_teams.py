"""The Teams platform end to end: the real Teams SDK against FakeTeams, through
`partnerbot serve`'s web server. What a partner does on Slack, done on Teams: questions in a
channel, a personal chat and a group chat, follow-ups, thanks, feedback, commands.

(The conversation rules themselves are tested on the in-memory platform, tests/scenarios/;
notices are in test_teams_notices.py, audiences in test_teams_audiences.py, the request
checks in test_teams_edge.py.)"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.errors import ConfigError
from bot.models import Answer, Question
from bot.prompts import message
from tests.adapters.teams_harness import SECRETS, TeamsDriver, running_teams, teams_settings
from tests.fakes.teams_server import (
    ADMIN,
    ALICE,
    CHANNEL,
    GROUP,
    FakeTeams,
    Fault,
    click,
    personal_chat,
)

GOLD = "whats the new CSAT rule for gold?? deadline?"
CSAT_URL = "https://partners.northwind.example/docs/csat-requirement"


@pytest.fixture
def fake() -> Iterator[FakeTeams]:
    with FakeTeams() as server:
        yield server


@pytest.fixture
async def teams(make_app: Callable[..., App], fake: FakeTeams) -> AsyncIterator[TeamsDriver]:
    app = make_app(**teams_settings(TEAMS_ADMIN_IDS=ADMIN.aad))
    async with running_teams(app, fake) as driver:
        yield driver


def cited(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("[")]


async def test_a_channel_mention_is_answered_in_its_thread_as_a_card_with_sources_and_feedback(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    asked, reply = await teams.ask(GOLD)
    assert reply.conversation == f"{CHANNEL};messageid={asked['id']}"  # the reply chain
    assert "2027-03-31" in reply.text
    sources = reply.text.split("**Sources**")[1]
    assert cited(sources)[0].startswith("[1] [Customer Satisfaction Survey (CSAT) Requirement ›")
    assert f"]({CSAT_URL})" in cited(sources)[0] and "as of 2026-08-15" in reply.text
    assert set(reply.buttons) == {"feedback_up", "feedback_down"}
    stored = teams.app.store.interactions.get(int(reply.buttons["feedback_up"]["value"]))
    assert stored is not None and (stored.platform, stored.asker) == ("teams", ALICE.aad)
    # The bot called the connector with its own token (from the tenant's token endpoint).
    assert reply.token.startswith("Bearer ey") and fake.tokens_issued == 1


async def test_a_personal_chat_is_answered_there_and_continues_there(teams: TeamsDriver) -> None:
    where = {"kind": "personal", "conversation": personal_chat(ALICE), "mention": False}
    _, first = await teams.ask(GOLD, **where)
    _, second = await teams.ask("and for member tier?", **where)
    assert first.conversation == second.conversation == personal_chat(ALICE)
    assert "2027-03-31" in first.text and "2027-06-30" in second.text


async def test_a_group_chat_question_is_answered_in_the_chat(teams: TeamsDriver) -> None:
    _, reply = await teams.ask(GOLD, kind="groupChat", conversation=GROUP)
    assert reply.conversation == GROUP and "2027-03-31" in reply.text


async def test_three_turns_in_the_reply_chain_keep_the_subject(teams: TeamsDriver) -> None:
    asked, _ = await teams.ask("whats the MDF rate for advanced partners now?")
    _, second = await teams.ask("is there a cap?", thread=asked["id"])
    _, third = await teams.ask("and for elite?", thread=asked["id"])
    assert third.thread == second.thread == asked["id"]
    assert "[Partner Benefits Update 2026 › Market development funds" in third.text  # MDF
    alone = teams.app.core.ask(Question("and for elite?", asker="control"))
    assert {c.path for c in alone.cited} == {"tiers-2026.md"}  # the words alone: about tiers


async def test_thanks_gets_the_short_reply_and_help_the_commands(teams: TeamsDriver) -> None:
    _, thanks = await teams.ask("thanks!")
    assert thanks.text == message("acknowledgement") and thanks.card is None
    _, help_ = await teams.ask("help")
    assert "`reindex`" in help_.text and "`comms status <id>`" in help_.text
    assert message("help_follow_up_mention") in help_.text  # follow-ups need a mention


async def test_feedback_click_is_recorded_and_thanked_in_the_invoke_answer(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    _, reply = await teams.ask(GOLD)
    status, answer = await teams.deliver(click(fake, reply, "feedback_down", user=ADMIN))
    assert status == 200
    assert answer == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": message("feedback_thanks_down"),
    }
    [row] = teams.app.store.interactions.feedback()
    assert (row.user, row.rating, row.platform) == (ADMIN.aad, -1, "teams")


async def test_admin_commands_in_the_personal_chat_with_the_same_admin_check(
    teams: TeamsDriver,
) -> None:
    admin = {"kind": "personal", "conversation": personal_chat(ADMIN), "user": ADMIN}
    alice = {"kind": "personal", "conversation": personal_chat(ALICE), "mention": False}
    _, refused = await teams.ask("reindex", **alice)
    assert refused.text == message("not_admin", action="re-index the documents")
    _, working = await teams.ask("reindex", **admin, mention=False)
    assert working.text == message("reindex_started")
    [done] = await teams.fake.wait_for(lambda p: "Re-index finished" in p.text)
    assert done.conversation == personal_chat(ADMIN) and "0 failed" in done.text
    _, listed = await teams.ask("comms list", **admin, mention=False)
    assert listed.text == message("comms_none")
    _, status = await teams.ask("comms status nope", **admin, mention=False)
    assert status.text == message("comms_unknown", id="nope").replace("`", "`")
    _, usage = await teams.ask("comms status", **alice)
    assert "Usage" in usage.text or "comms status" in usage.text


async def test_a_repeated_delivery_is_answered_once(teams: TeamsDriver, fake: FakeTeams) -> None:
    asked, _ = await teams.ask(GOLD)
    assert (await teams.deliver(asked))[0] == 200  # Teams sends it again
    await teams.settle()
    assert len(fake.messages(CHANNEL)) == 1


async def test_429_and_5xx_from_the_connector_are_retried_with_backoff(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    answers = iter([Fault(429, retry_after=0.2), Fault(503), Fault(502)])
    fake.faults = lambda conv, activity: (
        next(answers, None) if activity["type"] == "message" else None
    )
    _, reply = await teams.ask(GOLD)
    assert "2027-03-31" in reply.text and len(fake.messages()) == 1
    assert fake.attempts.count("message") == 4  # three refused, the fourth posted


async def test_a_failure_gets_the_apology_without_traceback_or_secret(
    teams: TeamsDriver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def explode(question: Question) -> Answer:
        raise RuntimeError("the index exploded")

    monkeypatch.setattr(teams.app.core.answerer, "answer", explode)
    _, reply = await teams.ask(GOLD)
    assert reply.text == message("apology") and reply.card is None
    assert "the index exploded" in caplog.text  # for the operator, in the log
    assert not any(secret in caplog.text for secret in SECRETS)


async def test_the_bot_added_to_a_team_knows_every_channel_and_removed_forgets_them(
    teams: TeamsDriver, fake: FakeTeams
) -> None:
    from tests.fakes.teams_server import TEAM, update

    fake.channels[TEAM] = [(TEAM, "General"), (CHANNEL, "Partners")]
    assert (await teams.deliver(update(fake)))[0] == 200
    conversations = teams.app.store.conversations
    for channel in (TEAM, CHANNEL):
        ref = conversations.get("teams", channel)
        assert ref is not None and ref.service_url == fake.service_url and ref.team == TEAM
    assert (await teams.deliver(update(fake, added=False)))[0] == 200
    removed = [conversations.get("teams", c) for c in (TEAM, CHANNEL)]
    assert all(r is not None and r.removed_at for r in removed)
    assert (await teams.deliver(update(fake)))[0] == 200  # added back
    back = conversations.get("teams", CHANNEL)
    assert back is not None and back.removed_at is None


# -- configuration -------------------------------------------------------------------------------
def test_missing_or_overridden_settings_fail_fast_naming_them(
    make_app: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = teams_settings()
    with pytest.raises(ConfigError, match="TEAMS_APP_PASSWORD"):
        make_app(**{**settings, "TEAMS_APP_PASSWORD": " "}).add_platform("teams")
    with pytest.raises(ConfigError, match="TEAMS_TENANT_ID"):
        make_app(**{k: v for k, v in settings.items() if k != "TEAMS_TENANT_ID"}).add_platform(
            "teams"
        )
    monkeypatch.setenv("CLIENT_SECRET", "another-secret")
    with pytest.raises(ConfigError, match="CLIENT_SECRET is set in the environment"):
        make_app(**settings).add_platform("teams")


async def test_refused_credentials_are_a_configuration_error(
    make_app: Callable[..., App], fake: FakeTeams
) -> None:
    from tests.adapters.teams_harness import teams_options

    app = make_app(**teams_settings(TEAMS_APP_PASSWORD="expired-secret"))
    platform = app.add_platform("teams", **teams_options(fake))
    with pytest.raises(
        ConfigError, match=r"refused the Teams bot's credentials \(invalid_client\)"
    ):
        await platform.start()
    await platform.stop()


def test_importing_the_sdk_leaves_the_environment_as_it_was(tmp_path: Path) -> None:
    """The SDK loads any .env up from the working directory when imported: with partnerbot
    it changes nothing (a CLIENT_SECRET there would replace the bot's own credentials)."""
    (tmp_path / ".env").write_text(
        "CLIENT_SECRET=from-dotenv\nDANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS=true\n"
    )
    code = (
        "import os\n"
        "from bot.config import Settings\n"
        "from bot.app import App\n"
        "app = App(Settings(TEAMS_APP_ID='9a1b2c3d-0000-4000-8000-0000000000b1', "
        "TEAMS_APP_PASSWORD='x', TEAMS_TENANT_ID='72f988bf-0000-4000-8000-00000000f00d'))\n"
        "app.add_platform('teams', listen=False)\n"
        "import microsoft_teams.apps\n"
        "print(os.environ.get('CLIENT_SECRET'), "
        "os.environ.get('DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS'))\n"
        "app.close()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["None", "None"]


async def test_bench_harness_measures_acks_and_answers(
    make_app: Callable[..., App], fake: FakeTeams
) -> None:
    from tests.adapters.teams_harness import run_questions

    result = await run_questions(make_app(**teams_settings()), fake, n=4)
    assert result["statuses"] == [200] and result["all_answered"]
    assert result["answers_with_sources"] == 4
