"""Audiences end to end: nothing restricted reaches a place outside its audience.

A corpus with four restricted documents — one per kind of audience: a tier (by a folder's
`_audience.yml`), a region, a competency and one named partner (by front matter) — next to
public ones. Places: an unmapped channel, channels the routes file maps to a tier, a region
and a competency, a partner's own place, and DMs of three partners of the partners file
and of a stranger. Several hundred probing questions (direct, paraphrased, follow-ups in
threads, "what changed", the `ask` command, questions in a communication's "Ask about
this" thread, the change digest) are asked through the real chat core on the in-memory
platform, and a few through the Slack stand-in: from places without access, no restricted
passage, title, path or distinctive phrase reaches anyone; from places with access, the
same questions are answered citing the restricted document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.app import App
from bot.cli.main import app as cli
from bot.comms.dispatcher import Dispatcher
from bot.comms.registry import RegisterResult
from bot.config import Settings
from bot.models import Answer
from tests.conftest import TEST_PLATFORMS
from tests.fakes.memory_platform import MemoryPlatform, Posted
from tests.scenarios.test_comms import ROUTES as COMMS_ROUTES
from tests.scenarios.test_comms import SEND_AT, write_comm

_PREFIXES = ("PARTNERBOT_", "SLACK_", "DISCORD_", "OPENAI_", "CHROMA_")

PUBLIC_DOCS = {
    "deals.md": """---
title: Deal Registration Rules
effective_date: 2026-07-01
---
# Deal Registration Rules
## Registering a deal
Partners register deals in the partner portal under Deals > Register.
Northwind approves or rejects a registration within 3 business days.
## Additional discount
An approved registration gives an additional discount of 5% on the deal.
""",
    "events.md": """---
title: Partner Events 2026
effective_date: 2026-06-01
---
# Partner Events 2026
## Partner summit
The global partner summit is held in Lisbon in May.
Registration for the summit opens in February in the partner portal under Events.
""",
    "benefits.md": """---
title: Partner Benefits
effective_date: 2026-07-01
---
# Partner Benefits
## Tiers
The program has three tiers: Member, Advanced and Elite.
Every partner receives 10 internal-use licenses.
## Competencies
A competency shows a partner's proven skill in one solution area.
Partners with a competency are listed with a badge in the partner locator.
""",
}

RESTRICTED_DOCS = {
    "elite/_audience.yml": "tiers: [Elite]\n",
    "elite/quokka-rebate.md": """---
title: Quokka Growth Rebate
effective_date: 2026-07-01
---
# Quokka Growth Rebate
## Rebate
Elite partners earn the Quokka Growth Rebate (QGR) of 7% on net-new customer deals.
The QGR is paid each quarter into the partner's Northwind account.
## Claiming
To claim the QGR, file form QGR-77 within 45 days of the customer's invoice.
""",
    "anz-roadshow.md": """---
title: Kookaburra Roadshow
effective_date: 2026-08-01
audience:
  regions: [ANZ]
---
# Kookaburra Roadshow
## Cities
The Kookaburra Roadshow visits Hobart and Darwin in November.
## Registration
Register for the roadshow with code KOOKA-2026 before 1 October.
""",
    "wombat-lab.md": """---
title: Wombat Threat Lab
effective_date: 2026-07-01
audience:
  competencies: [Security]
---
# Wombat Threat Lab
## Access
Partners with the Security competency get access to the Wombat Threat Lab sandbox.
## Booking
Lab sessions are booked with voucher WTL-5150 in the partner portal.
""",
    "harbour-pricing.md": """---
title: Harbour IT Special Pricing Agreement
effective_date: 2026-07-01
audience:
  partners: [harbour-it]
---
# Harbour IT Special Pricing Agreement
## Discount
Harbour IT receives a special discount of 31% on Northwind Cloud under agreement SPA-4242.
## Term
The agreement SPA-4242 runs until the end of 2027.
""",
}

# The second version of each restricted document (and one public edit): what changed.
EDITS = {
    "elite/quokka-rebate.md": ("of 7% on", "of 9% on"),
    "anz-roadshow.md": ("before 1 October", "before 15 October"),
    "wombat-lab.md": ("voucher WTL-5150", "voucher WTL-6160"),
    "harbour-pricing.md": ("discount of 31%", "discount of 33%"),
    "deals.md": ("within 3 business days", "within 2 business days"),
}


@dataclass(frozen=True)
class Secret:
    """A restricted document: its path, title, the phrases only it says, its questions,
    where it may be read and where not."""

    path: str
    title: str
    phrases: tuple[str, ...]
    questions: tuple[str, ...]
    allowed: tuple[str, ...]  # places: "C-…" channels, "D-…" DMs
    denied: tuple[str, ...]
    changes: tuple[str, ...] = field(default=())  # "what changed" questions about it


ELITE = Secret(
    "elite/quokka-rebate.md",
    "Quokka Growth Rebate",
    ("Quokka", "QGR", "9%", "7%"),
    (
        "What is the Quokka Growth Rebate?",
        "how much is the QGR?",
        "what rebate do elite partners earn on net-new customer deals?",
        "how do we claim the growth rebate?",
        "what is form QGR-77?",
        "is there a rebate for net-new customers?",
        "when is the growth rebate paid?",
        "tell me about the quokka rebate",
        "what percentage rebate do we earn on net new deals",
        "what rebates can elite partners earn?",
    ),
    ("C-elite", "C-harbour", "D-harbour"),
    ("C-partners", "C-anz", "C-security", "D-fjord", "D-wattle", "D-stranger"),
    ("did the quokka rebate change?", "what changed in the growth rebate?"),
)
REGION = Secret(
    "anz-roadshow.md",
    "Kookaburra Roadshow",
    ("Kookaburra", "KOOKA-2026", "Hobart", "Darwin", "15 October"),
    (
        "When is the Kookaburra Roadshow?",
        "which cities does the roadshow visit?",
        "is there a partner event in Hobart?",
        "what is the registration code for the roadshow?",
        "what is KOOKA-2026?",
        "are there partner events in November?",
        "how do I register for the Kookaburra roadshow",
        "does the roadshow come to Darwin?",
        "when does roadshow registration close?",
        "what is the roadshow registration deadline",
    ),
    ("C-anz", "C-harbour", "D-harbour", "D-wattle"),
    ("C-partners", "C-elite", "C-security", "D-fjord", "D-stranger"),
    ("did the roadshow registration change?", "what changed for the roadshow?"),
)
COMPETENCY = Secret(
    "wombat-lab.md",
    "Wombat Threat Lab",
    ("Wombat", "WTL-5150", "WTL-6160", "Threat Lab"),
    (
        "What is the Wombat Threat Lab?",
        "how do security partners book lab sessions?",
        "what is voucher WTL-5150?",
        "is there a security sandbox for partners?",
        "what do Security competency partners get access to?",
        "how do we get access to the Wombat lab",
        "lab session booking voucher",
        "which voucher books a lab session?",
        "can we use a threat sandbox?",
        "wombat lab sessions",
    ),
    ("C-security", "C-harbour", "D-harbour"),
    ("C-partners", "C-elite", "C-anz", "D-fjord", "D-wattle", "D-stranger"),
    ("did the lab voucher change?", "what changed in the threat lab?"),
)
PARTNER = Secret(
    "harbour-pricing.md",
    "Harbour IT Special Pricing Agreement",
    ("SPA-4242", "31%", "33%", "Special Pricing"),
    (
        "What is our special pricing agreement?",
        "what special discount does Harbour IT get?",
        "what is SPA-4242?",
        "do we have special pricing on Northwind Cloud?",
        "what is the Harbour IT discount on Northwind Cloud?",
        "tell me about agreement SPA-4242",
        "what special discount applies to our cloud deals?",
        "is there a special price agreement for us?",
        "how much discount under the special pricing agreement",
        "until when does our pricing agreement run?",
    ),
    ("C-harbour", "D-harbour"),
    ("C-partners", "C-elite", "C-anz", "C-security", "D-fjord", "D-wattle", "D-stranger"),
    ("did our special pricing change?", "what changed in the pricing agreement?"),
)
SECRETS = (ELITE, REGION, COMPETENCY, PARTNER)
GENERAL_CHANGES = (
    "what changed recently?",
    "what changed in the program this quarter?",
    "any recent changes?",
    "what's new?",
)

PARTNERS = {
    "partners": [
        {
            "id": "harbour-it",
            "name": "Harbour IT",
            "tier": "Elite",
            "region": "ANZ",
            "competencies": ["Security", "Cloud Infrastructure"],
            "memory": {"contacts": ["U-harbour"], "place": "C-harbour"},
            "slack": {"contacts": ["U0HARBOUR"], "teams": ["T0HARBOUR"]},
        },
        {
            "id": "fjord-systems",
            "name": "Fjord Systems",
            "tier": "Advanced",
            "region": "EMEA",
            "competencies": ["Data & AI"],
            "memory": {"contacts": ["U-fjord"]},
            "slack": {"contacts": ["U0FJORD"]},
        },
        {
            "id": "wattle-msp",
            "name": "Wattle Managed Services",
            "tier": "Member",
            "region": "ANZ",
            "memory": {"contacts": ["U-wattle"]},
        },
    ]
}
ROUTES: dict[str, Any] = {
    "tags": {
        **COMMS_ROUTES["tags"],
        "competencies": ["Security", "Data & AI", "Cloud Infrastructure"],
    },
    "routes": [{"name": "everyone", "memory": ["C-partners"]}],
    "audiences": [
        {"name": "Elite partners", "tags": {"tiers": ["Elite"]}, "memory": ["C-elite"]},
        {"name": "ANZ partners", "tags": {"regions": ["ANZ"]}, "memory": ["C-anz"]},
        {
            "name": "Security partners",
            "tags": {"competencies": ["Security"]},
            "memory": ["C-security"],
            "slack": ["C0SECURITY"],
        },
    ],
}
DM_USERS = {"D-harbour": "U-harbour", "D-fjord": "U-fjord", "D-wattle": "U-wattle"}


@dataclass
class World:
    app: App
    platform: MemoryPlatform
    env: dict[str, str]
    probes: int = 0


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The corpus indexed, then edited and indexed again (changes recorded), a
    communication registered, the partners file and routes in place; one app for all."""
    root = tmp_path_factory.mktemp("audience-leaks")
    docs, comms = root / "docs", root / "comms"
    write_files(docs, {**PUBLIC_DOCS, **RESTRICTED_DOCS})
    comms.mkdir()
    (comms / "routes.yml").write_text(yaml.safe_dump(ROUTES, sort_keys=False), encoding="utf-8")
    (comms / "partners.yml").write_text(yaml.safe_dump(PARTNERS), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:  # (the autouse isolation is per test)
        for key in list(os.environ):
            if key.startswith(_PREFIXES):
                mp.delenv(key)
        mp.chdir(root)
        env = {
            "PARTNERBOT_DATA_DIR": str(root / "data"),
            "PARTNERBOT_DOCS_DIR": str(docs),
            "PARTNERBOT_COMMS_DIR": str(comms),
            "PARTNERBOT_PARTNERS_FILE": str(comms / "partners.yml"),
            "PARTNERBOT_RATE_LIMIT_PER_MINUTE": "100000",  # (hundreds of probes a minute)
        }
        app = App(Settings(**env), registry=TEST_PLATFORMS)  # type: ignore[arg-type]
        try:
            assert app.core.reindex(docs).ok
            for path, (old, new) in EDITS.items():
                file = docs / path
                file.write_text(file.read_text().replace(old, new), encoding="utf-8")
            assert app.core.reindex(docs).ok
            assert {r.doc_path for r in app.changes.last_run} == set(EDITS)
            platform = app.add_platform("memory")
            assert isinstance(platform, MemoryPlatform)
            result = app.comms.add_file(write_comm(comms))
            assert isinstance(result, RegisterResult), result
            app.core.index.generation()  # its follower thread starts now, for the module
            yield World(app, platform, env)
        finally:
            app.close()


async def ask(world: World, place: str, text: str, *, thread: str | None = None) -> Posted:
    """Ask in a place ("C-…" mentioning the bot, "D-…" a DM); the bot's reply."""
    user = DM_USERS.get(place, "U-stranger") if place.startswith("D-") else "U-someone"
    if thread is None:  # a question of its own: earlier probes are not its conversation
        world.platform.messages[:] = [m for m in world.platform.messages if m.channel != place]
    asked = await world.platform.say(
        text, user=user, channel=place, thread=thread, mention=thread is None
    )
    world.probes += 1
    if place.startswith("D-"):
        replies = [m for m in world.platform.in_place(place) if m.by_bot]
        reply = next(m for m in replies if int(m.id) > int(asked.id))
    else:
        reply = world.platform.replies(asked)[-1]
    # A refusal (rate limit, error) would hide a leak: every probe is really answered.
    assert reply.answer is not None and reply.answer.kind == "answer", reply.text
    return reply


def shown(reply: Posted) -> str:
    """Everything a reader could see of a reply: text, the rendered sources or closest
    documents, and every source's title, section, path and text (`ask --json` shows them)."""
    parts = [reply.text, reply.rendered]
    answer = reply.answer
    if answer is not None:
        for c in (*answer.citations, *answer.sources):
            parts += [c.title, c.section, c.path, c.text or ""]
    return "\n".join(parts)


def assert_no_leak(reply: Posted | Answer | str, secret: Secret | None = None) -> None:
    """None of the restricted documents (or `secret` alone) shows in what readers see."""
    if isinstance(reply, Posted):
        text = shown(reply)
    elif isinstance(reply, Answer):
        text = "\n".join([reply.text, *(f"{c.title} {c.path} {c.text}" for c in (*reply.sources,))])
    else:
        text = reply
    for s in (secret,) if secret else SECRETS:
        leaked = [p for p in (s.path, s.title, *s.phrases) if p.casefold() in text.casefold()]
        assert not leaked, f"{s.path} leaked {leaked}:\n{text}"


def cites(reply: Posted, secret: Secret) -> bool:
    answer = reply.answer
    return answer is not None and secret.path in {c.path for c in answer.cited}


# -- direct questions ----------------------------------------------------------------------------
@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: s.path)
async def test_no_place_without_access_sees_a_restricted_document(
    world: World, secret: Secret
) -> None:
    for place in secret.denied:
        for question in secret.questions:
            assert_no_leak(await ask(world, place, question), secret)


@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: s.path)
async def test_every_place_with_access_is_answered_from_it(world: World, secret: Secret) -> None:
    for place in secret.allowed:
        answered = [q for q in secret.questions if cites(await ask(world, place, q), secret)]
        # The question naming it always; its paraphrases nearly always.
        assert secret.questions[0] in answered, (place, answered)
        assert len(answered) >= 7, (place, sorted(set(secret.questions) - set(answered)))


# -- follow-ups, commands, buttons ---------------------------------------------------------------
async def test_follow_ups_in_a_public_thread_never_reach_a_restricted_document(
    world: World,
) -> None:
    first = await ask(world, "C-partners", "how do I register a deal?")
    assert first.answer is not None and not first.answer.abstained
    for secret in SECRETS:
        for question in (*secret.questions, "and how is it paid?", "what about the discount?"):
            assert_no_leak(await ask(world, "C-partners", question, thread=first.thread))


async def test_a_follow_up_in_a_restricted_channel_stays_answered_from_it(world: World) -> None:
    first = await ask(world, "C-elite", "what rebate do elite partners earn on net-new deals?")
    assert cites(first, ELITE)
    follow = await ask(world, "C-elite", "how do we claim it?", thread=first.thread)
    assert cites(follow, ELITE)


async def test_the_ask_command_answers_for_the_channel_and_sharing_stays_there(
    world: World,
) -> None:
    for secret in SECRETS:
        for question in secret.questions[:5]:
            reply = await world.platform.command(f"ask {question}", channel="C-partners")
            world.probes += 1
            assert reply.answer is not None and reply.answer.kind == "answer", reply.text
            assert_no_leak(reply)
    private = await world.platform.command("ask what is the QGR?", channel="C-elite")
    assert private.private_to and cites(private, ELITE) and private.answer is not None
    # "Post to channel" (Slack's button on a private answer) posts it where it was asked.
    private.buttons.append(("share", str(private.answer.interaction_id)))
    await world.platform.click(private, "share")
    shared = world.platform.in_place("C-elite")[-1]
    assert shared.answer is not None and cites(shared, ELITE)
    assert not any("QGR" in m.text for m in world.platform.in_place("C-partners"))


async def test_ask_about_this_thread_on_a_public_notice_keeps_to_public_documents(
    world: World,
) -> None:
    clock = SEND_AT - timedelta(days=14)
    world.app.comms.clock = lambda: clock
    Dispatcher(comms=world.app.comms, store=world.app.store, posters=world.app.posters).run_once()
    [notice] = [m for m in world.platform.in_place("C-partners") if m.notice is not None]
    await world.platform.click(notice, "ask", user="U-someone")
    about = await ask(world, "C-partners", "when is it sent?", thread=notice.id)
    assert about.answer is not None and not about.answer.abstained
    for secret in SECRETS:
        for question in secret.questions:
            assert_no_leak(await ask(world, "C-partners", question, thread=notice.id))
    # Questions about the communication itself are public, for every place.
    for place in ("C-partners", "D-stranger", "C-elite"):
        reply = await ask(world, place, "what will customers be told about Northwind Books?")
        assert reply.answer is not None and any(
            c.path.startswith("comms/") for c in reply.answer.cited
        )


# -- what changed --------------------------------------------------------------------------------
async def test_what_changed_answers_only_tell_of_changes_the_place_may_read(
    world: World,
) -> None:
    for place in ("C-partners", "D-fjord", "D-stranger"):
        for question in GENERAL_CHANGES:
            reply = await ask(world, place, question)
            assert_no_leak(reply)
            assert "Deal Registration Rules" in reply.text  # the public change is told
        for secret in SECRETS:
            for question in secret.changes:
                assert_no_leak(await ask(world, place, question))
    for secret in SECRETS:
        for place in secret.allowed:
            told = await ask(world, place, secret.changes[0])
            assert secret.title in told.text, (place, told.text)


def test_each_channel_s_change_digest_lists_what_its_readers_may_be_told(world: World) -> None:
    result = world.app.changes.publish(
        channels=["memory:C-partners", "memory:C-elite", "memory:C-harbour"]
    )
    assert result.ok, result.summary()

    def digest(channel: str) -> str:
        posts = [m for m in world.platform.in_place(channel) if m.notice is not None]
        return "\n".join(
            m.rendered for m in posts if m.notice and m.notice.key.startswith("changes:")
        )

    public, elite, harbour = digest("C-partners"), digest("C-elite"), digest("C-harbour")
    assert "Deal Registration Rules" in public
    assert_no_leak(public)
    assert "Quokka Growth Rebate" in elite and "9%" in elite
    assert_no_leak(elite, REGION)
    assert_no_leak(elite, COMPETENCY)
    assert_no_leak(elite, PARTNER)
    assert all(s.title in harbour for s in SECRETS)  # Harbour IT may read all four


def test_at_least_two_hundred_probes_were_asked_from_places_without_access(world: World) -> None:
    assert world.probes >= 200, world.probes


# -- the command line ----------------------------------------------------------------------------
def _without(data: Any, key: str) -> Any:
    """A copy of YAML data with every mapping's `key` left out."""
    if isinstance(data, dict):
        return {k: _without(v, key) for k, v in data.items() if k != key}
    if isinstance(data, list):
        return [_without(v, key) for v in data]
    return data


def test_ask_as_the_public_by_default_and_as_a_partner_or_audience_when_told(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The command line knows Slack and Discord only: the same files without `memory`.
    for name, data in (("routes.yml", ROUTES), ("partners.yml", PARTNERS)):
        (tmp_path / name).write_text(yaml.safe_dump(_without(data, "memory")), encoding="utf-8")
    env = {**world.env, "PARTNERBOT_COMMS_DIR": str(tmp_path)}
    env["PARTNERBOT_PARTNERS_FILE"] = str(tmp_path / "partners.yml")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def asked(*args: str) -> dict[str, Any]:
        result = runner.invoke(cli, ["ask", "what is the QGR?", "--json", *args])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    public = asked()
    assert_no_leak(json.dumps(public))
    assert set(public) == {"answer", "abstained", "sources", "as_of", "kind"}
    for args in (["--as-partner", "harbour-it"], ["--audience", "tiers=Elite"]):
        elite = asked(*args)
        assert ELITE.path in {s["path"] for s in elite["sources"] if s["cited"]}, args
    assert_no_leak(json.dumps(asked("--as-partner", "fjord-systems")))
    bad = runner.invoke(cli, ["ask", "x", "--as-partner", "nobody"])
    assert bad.exit_code != 0 and "no partner 'nobody'" in bad.output
