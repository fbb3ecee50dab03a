"""Audiences end to end: nothing restricted reaches a reader without access, whatever the
door, the place or the authoring slip; readers with access still get it.

A corpus with restricted documents — one per kind of audience: a tier (by a folder's
`_audience.yml`), a region, a competency and one named partner (by front matter) — and one
Elite-only document per authoring slip (`_audience.yaml`, a fence with a trailing space,
`Audience:`, `audiences:`, a link from a public folder, a file indexed on its own, a
document restricted after its change was recorded; and two slips that are refused: a near
name of the folder file, an audience outside the front matter) next to public ones.

Places: an unmapped channel, channels the routes file maps to a tier, a region and a
competency, a partner's own place, channels shared (as Slack Connect says) with one
partner's organisation, with two, and with one nobody lists, a tier channel shared with an
unknown organisation, DMs of three partners and of a stranger; on the Slack and Discord
stand-ins, Slack Connect channels with 1, 2 and unknown organisations, a Discord channel
mapped to a tier, DMs by role.

Doors: mention, slash command, buttons ("Post to channel", "Ask about this"), thread
follow-ups, DMs, the change digest, private notices, `partnerbot ask`, `chat`, `changes
publish` and `report`. Every probe from a place without access asserts that no restricted
codeword, figure, title, path or section shows; every probe from a place with access counts
whether it was answered from the document. The last test prints the figures and holds the
access rate at 95% or more.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
from tests.adapters.discord_harness import discord_settings, running_discord
from tests.adapters.slack_harness import mention, running_slack, slack_settings
from tests.conftest import TEST_PLATFORMS
from tests.fakes.discord_server import fake_discord
from tests.fakes.memory_platform import MemoryPlatform, Posted
from tests.fakes.slack_server import TEAM_ID, FakeSlack
from tests.scenarios.test_comms import ROUTES as COMMS_ROUTES
from tests.scenarios.test_comms import SEND_AT, before_send, write_comm
from tests.scenarios.test_partner_notices import (
    CUSTOMERS,
    HARBOUR,
    PLACES,
    PartnersWorld,
    assert_only_own_customers,
    partners_world,  # noqa: F401  (the fixture, used here too)
)

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
# Places beyond the mapped ones: channels the platform says are shared (Slack Connect), by
# the organisations present besides the vendor's.
ONE_ORG, TWO_ORGS, UNKNOWN_ORG = "C-connect-harbour", "C-connect-both", "C-connect-unknown"
ELITE_UNKNOWN = "C-elite-unknown"  # mapped to Elite, and shared with an unknown organisation
SHARED = {
    ONE_ORG: {"O-harbour"},
    TWO_ORGS: {"O-harbour", "O-fjord"},
    UNKNOWN_ORG: {"O-harbour", "O-nobody"},
    ELITE_UNKNOWN: {"O-nobody"},
}
DENIED_WHEN_SHARED = (TWO_ORGS, UNKNOWN_ORG, ELITE_UNKNOWN)


def with_shared_places(secret: Secret) -> Secret:
    """Harbour IT's organisation alone reads what Harbour IT may; the others, the public."""
    return replace(
        secret,
        allowed=(*secret.allowed, ONE_ORG),
        denied=(*secret.denied, *DENIED_WHEN_SHARED),
    )


ELITE, REGION, COMPETENCY, PARTNER = map(with_shared_places, (ELITE, REGION, COMPETENCY, PARTNER))
SECRETS = (ELITE, REGION, COMPETENCY, PARTNER)
ELITE_READERS = ELITE.allowed
ELITE_DENIED = ELITE.denied


# -- authoring slips: each restricts one document to Elite partners ----------------------------
def slip_doc(word: str, percent: int, form: str, meta: str = "", fence: str = "---") -> str:
    return (
        f"{fence}\ntitle: {word} Bonus\neffective_date: 2026-07-01\n{meta}---\n"
        f"# {word} Bonus\n## Amount\nElite partners earn the {word} Bonus of {percent}% on "
        f"renewals.\n## Claiming\nThe {word} Bonus is claimed with form {form} in the portal.\n"
    )


def slip(word: str, percent: int, form: str, path: str, *, read: bool = True) -> Secret:
    """A slip's document as a secret: Elite readers get it when the slip is read; nobody
    when it is refused (the document is not indexed)."""
    return Secret(
        path,
        f"{word} Bonus",
        (word, form, f"{percent}% on renewals"),
        (
            f"what is the {word} Bonus?",
            f"how much is the {word.lower()} bonus on renewals?",
            f"which form claims the {word} Bonus?",
            f"what is form {form}?",
        ),
        ELITE_READERS if read else (),
        ELITE_DENIED + (() if read else ELITE_READERS),
    )


SLIP_DOCS = {
    "yaml/_audience.yaml": "tiers: [Elite]\n",
    "yaml/numbat.md": slip_doc("Numbat", 11, "NUM-1101"),
    "dingo.md": slip_doc("Dingo", 12, "DIN-1202", "audience: [Elite]\n", fence="--- "),
    "echidna.md": slip_doc("Echidna", 13, "ECH-1303", "Audience: [Elite]\n"),
    "galah.md": slip_doc("Galah", 14, "GAL-1404", "audiences:\n  tiers: [Elite]\n"),
    "elite/wallaby.md": slip_doc("Wallaby", 15, "WAL-1505"),
    "near/_audiences.yml": "tiers: [Elite]\n",  # refused: a near name
    "near/cassowary.md": slip_doc("Cassowary", 16, "CAS-1606"),
    "bilby.md": "title: Bilby Bonus\naudience: [Elite]\n\n"  # refused: no fences
    + slip_doc("Bilby", 17, "BIL-1707").split("---\n", 2)[2],
}
LINKED = "public/wallaby.md"  # a link in a public folder to elite/wallaby.md
SINGLE = ("elite/platypus.md", slip_doc("Platypus", 18, "PLA-1808"))  # indexed on its own
# Added public (a change is recorded), then restricted by an audience line.
LATER = ("bandicoot.md", slip_doc("Bandicoot", 19, "BAN-1909"))
SLIPS = (
    slip("Numbat", 11, "NUM-1101", "yaml/numbat.md"),
    slip("Dingo", 12, "DIN-1202", "dingo.md"),
    slip("Echidna", 13, "ECH-1303", "echidna.md"),
    slip("Galah", 14, "GAL-1404", "galah.md"),
    replace(
        slip("Wallaby", 15, "WAL-1505", "elite/wallaby.md"), phrases=("Wallaby", "WAL-1505", LINKED)
    ),
    slip("Platypus", 18, "PLA-1808", SINGLE[0]),
    replace(
        slip("Bandicoot", 19, "BAN-1909", LATER[0]),
        changes=("did the bandicoot bonus change?", "what's new?"),
    ),
    slip("Cassowary", 16, "CAS-1606", "near/cassowary.md", read=False),
    slip("Bilby", 17, "BIL-1707", "bilby.md", read=False),
)
EVERY_SECRET = SECRETS + SLIPS
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
            "memory": {"contacts": ["U-harbour"], "teams": ["O-harbour"], "place": "C-harbour"},
            "slack": {"contacts": ["U0HARBOUR"], "teams": ["T0HARBOUR"]},
        },
        {
            "id": "fjord-systems",
            "name": "Fjord Systems",
            "tier": "Advanced",
            "region": "EMEA",
            "competencies": ["Data & AI"],
            "memory": {"contacts": ["U-fjord"], "teams": ["O-fjord"]},
            "slack": {"contacts": ["U0FJORD"], "teams": ["T0FJORD"]},
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
DISCORD_ELITE_CHANNEL = 800_000_000_000_000_041  # the Discord stand-in's second channel
DISCORD_ELITE_ROLE = 1_300_000_000_000_000_401
ROUTES: dict[str, Any] = {
    "tags": {
        **COMMS_ROUTES["tags"],
        "competencies": ["Security", "Data & AI", "Cloud Infrastructure"],
    },
    "routes": [{"name": "everyone", "memory": ["C-partners"]}],
    "audiences": [
        {
            "name": "Elite partners",
            "tags": {"tiers": ["Elite"]},
            "memory": ["C-elite", ELITE_UNKNOWN],
            "discord": [str(DISCORD_ELITE_CHANNEL)],
            "discord_roles": [str(DISCORD_ELITE_ROLE)],
        },
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
CHANNELS = sorted({p for s in SECRETS for p in (*s.allowed, *s.denied) if p.startswith("C-")})


# -- what the suite counts ---------------------------------------------------------------------
@dataclass
class Ledger:
    """Probes per door: from places without access (each asserted leak-free), and from
    places with access (and how many of those were answered from the document)."""

    denied: Counter[str] = field(default_factory=Counter)
    allowed: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)

    def refused(self, door: str, shown: str, secret: Secret | None = None) -> None:
        assert_no_leak(shown, secret)
        self.denied[door] += 1

    def granted(self, door: str, got_it: bool) -> None:
        self.allowed[door] += 1
        self.answered[door] += int(got_it)


LEDGER = Ledger()


@dataclass
class World:
    app: App
    platform: MemoryPlatform
    env: dict[str, str]


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def isolated(mp: pytest.MonkeyPatch, root: Path) -> None:
    for key in list(os.environ):
        if key.startswith(_PREFIXES):
            mp.delenv(key)
    mp.chdir(root)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The corpus indexed (the baseline), edited and a promotion added (changes recorded),
    the promotion restricted, one more Elite file indexed on its own; then closed. Returns
    the root and the environment."""
    root = tmp_path_factory.mktemp("audience-leaks")
    docs, comms = root / "docs", root / "comms"
    write_files(docs, {**PUBLIC_DOCS, **RESTRICTED_DOCS, **SLIP_DOCS})
    (docs / LINKED).parent.mkdir(parents=True)
    (docs / LINKED).symlink_to(docs / "elite" / "wallaby.md")
    comms.mkdir()
    (comms / "routes.yml").write_text(yaml.safe_dump(ROUTES, sort_keys=False), encoding="utf-8")
    (comms / "partners.yml").write_text(yaml.safe_dump(PARTNERS), encoding="utf-8")
    env = {
        "PARTNERBOT_DATA_DIR": str(root / "corpus-data"),
        "PARTNERBOT_DOCS_DIR": str(docs),
        "PARTNERBOT_COMMS_DIR": str(comms),
        "PARTNERBOT_PARTNERS_FILE": str(comms / "partners.yml"),
        "PARTNERBOT_RATE_LIMIT_PER_MINUTE": "100000",  # (hundreds of probes a minute)
    }
    with pytest.MonkeyPatch.context() as mp:  # (the autouse isolation is per test)
        isolated(mp, root)
        app = App(Settings(**env), registry=TEST_PLATFORMS)  # type: ignore[arg-type]
        try:
            first = app.core.reindex(docs)
            refused = {f.path for f in first.failed}
            assert refused == {"near/cassowary.md", "bilby.md"}, first.failed
            for path, (old, new) in EDITS.items():
                file = docs / path
                file.write_text(file.read_text().replace(old, new), encoding="utf-8")
            write_files(docs, {LATER[0]: LATER[1]})
            app.core.reindex(docs)
            assert {r.doc_path for r in app.changes.last_run} == {*EDITS, LATER[0]}
            write_files(docs, {LATER[0]: LATER[1].replace("---\n#", "audience: [Elite]\n---\n#")})
            app.core.reindex(docs)
            write_files(docs, {SINGLE[0]: SINGLE[1]})
            assert app.core.reindex(docs / SINGLE[0]).counts()["added"] == 1
        finally:
            app.close()
    return root, env


@pytest.fixture(scope="module")
def world(corpus: tuple[Path, dict[str, str]]) -> Iterator[World]:
    """One app over a copy of the corpus for the in-memory doors, a communication registered."""
    root, env = corpus
    shutil.copytree(root / "corpus-data", root / "world-data")
    env = {**env, "PARTNERBOT_DATA_DIR": str(root / "world-data")}
    with pytest.MonkeyPatch.context() as mp:
        isolated(mp, root)
        app = App(Settings(**env), registry=TEST_PLATFORMS)  # type: ignore[arg-type]
        try:
            platform = app.add_platform("memory", admins=["U-admin"])
            assert isinstance(platform, MemoryPlatform)
            for channel, organisations in SHARED.items():
                platform.share(channel, *organisations)
            result = app.comms.add_file(write_comm(root / "comms"))
            assert isinstance(result, RegisterResult), result
            app.core.index.generation()  # its follower thread starts now, for the module
            yield World(app, platform, env)
        finally:
            app.close()


@contextmanager
def copy_of(corpus: tuple[Path, dict[str, str]], name: str, **settings: str) -> Iterator[App]:
    """Another app over a copy of the indexed corpus (a Slack or Discord one)."""
    root, env = corpus
    data = root / name
    if not data.exists():
        shutil.copytree(root / "corpus-data", data)
    with pytest.MonkeyPatch.context() as mp:
        isolated(mp, root)
        app = App(
            Settings(**{**env, "PARTNERBOT_DATA_DIR": str(data), **settings}),  # type: ignore[arg-type]
            registry=TEST_PLATFORMS,
        )
        try:
            yield app
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
        parts.append(answer_text(answer))
    return "\n".join(parts)


def answer_text(answer: Answer) -> str:
    parts = [answer.text]
    for c in (*answer.citations, *answer.sources):
        parts += [c.title, c.section, c.path, c.text or ""]
    return "\n".join(parts)


def assert_no_leak(text: str, secret: Secret | None = None) -> None:
    """None of the restricted documents (or `secret` alone) shows in what readers see."""
    for s in (secret,) if secret else EVERY_SECRET:
        leaked = [p for p in (s.path, s.title, *s.phrases) if p.casefold() in text.casefold()]
        assert not leaked, f"{s.path} leaked {leaked}:\n{text}"


def paths(secret: Secret) -> set[str]:
    """Where the secret's text is indexed: its file, and a link to it in a public folder
    (read with the file's audience, so cited to those who may read it)."""
    return {secret.path} | ({LINKED} if LINKED in secret.phrases else set())


def cites(answer: Answer | None, secret: Secret) -> bool:
    return answer is not None and bool(paths(secret) & {c.path for c in answer.cited})


# -- mentions and DMs, from every place --------------------------------------------------------
@pytest.mark.parametrize("secret", EVERY_SECRET, ids=lambda s: s.path)
async def test_no_place_without_access_sees_a_restricted_document(
    world: World, secret: Secret
) -> None:
    for place in secret.denied:
        for question in secret.questions:
            door = "DM" if place.startswith("D-") else "mention"
            LEDGER.refused(door, shown(await ask(world, place, question)), secret)


@pytest.mark.parametrize("secret", [s for s in EVERY_SECRET if s.allowed], ids=lambda s: s.path)
async def test_every_place_with_access_is_answered_from_it(world: World, secret: Secret) -> None:
    for place in secret.allowed:
        door = "DM" if place.startswith("D-") else "mention"
        answered = []
        for question in secret.questions:
            got = cites((await ask(world, place, question)).answer, secret)
            LEDGER.granted(door, got)
            answered += [question] if got else []
        assert secret.questions[0] in answered, (place, answered)  # the one naming it, always


# -- threads, commands, buttons ----------------------------------------------------------------
async def test_follow_ups_in_a_public_thread_never_reach_a_restricted_document(
    world: World,
) -> None:
    for place in ("C-partners", UNKNOWN_ORG, TWO_ORGS):
        first = await ask(world, place, "how do I register a deal?")
        assert first.answer is not None and not first.answer.abstained
        for secret in EVERY_SECRET:
            if place in secret.allowed:
                continue
            for question in (*secret.questions[:3], "and how is it paid?", "what about the form?"):
                reply = await ask(world, place, question, thread=first.thread)
                LEDGER.refused("thread", shown(reply), secret)


async def test_a_follow_up_in_a_restricted_channel_stays_answered_from_it(world: World) -> None:
    for place in ("C-elite", ONE_ORG):
        first = await ask(world, place, "what rebate do elite partners earn on net-new deals?")
        assert cites(first.answer, ELITE)
        follow = await ask(world, place, "how do we claim it?", thread=first.thread)
        LEDGER.granted("thread", cites(follow.answer, ELITE))
        assert cites(follow.answer, ELITE)


async def test_the_ask_command_answers_for_the_place_it_is_run_in(world: World) -> None:
    for secret in EVERY_SECRET:
        for place in (*secret.denied, *secret.allowed):
            user = DM_USERS.get(place, "U-someone")
            reply = await world.platform.command(
                f"ask {secret.questions[0]}", channel=place, user=user
            )
            assert reply.answer is not None and reply.answer.kind == "answer", reply.text
            if place in secret.denied:
                LEDGER.refused("slash", shown(reply), secret)
            else:
                LEDGER.granted("slash", cites(reply.answer, secret))


async def test_post_to_channel_posts_only_what_was_made_for_that_channel(world: World) -> None:
    """ "Post to channel" on a private answer: only its asker, only where it was asked; an
    answer made for a shared channel is the public's."""
    for place in (UNKNOWN_ORG, TWO_ORGS, "C-partners"):
        for secret in SECRETS:
            private = await world.platform.command(f"ask {secret.questions[0]}", channel=place)
            assert private.answer is not None
            private.buttons.append(("share", str(private.answer.interaction_id)))
            await world.platform.click(private, "share")
            [*_, posted] = world.platform.in_place(place)
            LEDGER.refused("button", shown(posted), secret)
    elite = await world.platform.command("ask what is the QGR?", channel="C-elite")
    assert elite.answer is not None and cites(elite.answer, ELITE)
    elite.buttons.append(("share", str(elite.answer.interaction_id)))
    elsewhere = Posted(elite.id, "C-partners", None, elite.user, elite.text, buttons=elite.buttons)
    await world.platform.click(elsewhere, "share", user="U-someone")  # another place, person
    LEDGER.refused("button", "\n".join(shown(m) for m in world.platform.in_place("C-partners")))
    await world.platform.click(elite, "share")
    [*_, shared] = world.platform.in_place("C-elite")
    LEDGER.granted("button", cites(shared.answer, ELITE))


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
    for secret in EVERY_SECRET:
        for question in secret.questions:
            reply = await ask(world, "C-partners", question, thread=notice.id)
            LEDGER.refused("button", shown(reply), secret)
    # Questions about the communication itself are public, for every place.
    for place in ("C-partners", "D-stranger", "C-elite", UNKNOWN_ORG):
        reply = await ask(world, place, "what will customers be told about Northwind Books?")
        assert reply.answer is not None and any(
            c.path.startswith("comms/") for c in reply.answer.cited
        )


# -- what changed ------------------------------------------------------------------------------
async def test_what_changed_answers_only_tell_of_changes_the_place_may_read(
    world: World,
) -> None:
    for place in ("C-partners", "D-fjord", "D-stranger", TWO_ORGS, UNKNOWN_ORG, ELITE_UNKNOWN):
        for question in GENERAL_CHANGES:
            reply = await ask(world, place, question)
            LEDGER.refused("mention", shown(reply))
            assert "Deal Registration Rules" in reply.text  # the public change is told
        for secret in (*SECRETS, SLIPS[6]):
            for question in secret.changes:
                LEDGER.refused("mention", shown(await ask(world, place, question)))
    for secret in (*SECRETS, SLIPS[6]):
        for place in secret.allowed:
            told = await ask(world, place, secret.changes[0])
            LEDGER.granted("mention", secret.title in told.text)
            assert secret.title in told.text, (place, told.text)


def test_each_channel_s_change_digest_lists_what_its_readers_may_be_told(world: World) -> None:
    channels = [f"memory:{c}" for c in CHANNELS]
    result = world.app.changes.publish(channels=channels)
    assert result.ok, result.summary()

    def digest(channel: str) -> str:
        posts = [m for m in world.platform.in_place(channel) if m.notice is not None]
        return "\n".join(
            m.rendered for m in posts if m.notice and m.notice.key.startswith("changes:")
        )

    for secret in (*SECRETS, SLIPS[6]):
        for channel in CHANNELS:
            if channel in secret.denied:
                LEDGER.refused("digest", digest(channel), secret)
            else:
                LEDGER.granted("digest", secret.title in digest(channel))
    assert "Deal Registration Rules" in digest("C-partners")
    assert "Quokka Growth Rebate" in digest("C-elite") and "9%" in digest("C-elite")
    assert all(s.title in digest("C-harbour") for s in SECRETS)  # Harbour IT may read all
    assert all(s.title in digest(ONE_ORG) for s in SECRETS)  # as may its organisation alone
    # Nothing was told that no channel may read; the rest is marked published.
    unpublished = world.app.changes.records.list(unpublished_only=True)
    assert not unpublished, [r.doc_path for r in unpublished]


async def test_a_private_place_shared_with_another_organisation_is_answered_for_the_public(
    world: World,
) -> None:
    """Harbour IT's own place, while Fjord Systems' organisation (or one nobody lists) is in
    it: answered for the public; once they leave, for Harbour IT again."""
    for others in ({"O-fjord"}, {"O-nobody"}):
        world.platform.share("C-harbour", *others)
        try:
            for secret in SECRETS:
                for question in secret.questions[:3]:
                    LEDGER.refused(
                        "mention", shown(await ask(world, "C-harbour", question)), secret
                    )
                reply = await world.platform.command(
                    f"ask {secret.questions[0]}", channel="C-harbour"
                )
                LEDGER.refused("slash", shown(reply), secret)
        finally:
            world.platform.unshare("C-harbour", *others)
    again = await ask(world, "C-harbour", PARTNER.questions[0])
    LEDGER.granted("mention", cites(again.answer, PARTNER))
    assert cites(again.answer, PARTNER)


# -- private notices ---------------------------------------------------------------------------
def test_private_notices_reach_a_partner_s_place_only_while_it_alone_reads_it(
    partners_world: Callable[..., PartnersWorld],  # noqa: F811  (the fixture imported above)
) -> None:
    """The private notice (Harbour IT's customers) is held back while another organisation
    shares Harbour IT's place — one nobody lists, or Fjord Systems' — and the admins are
    told; it goes out once Harbour IT is alone there."""
    world = partners_world(PARTNERBOT_ADMIN_CHANNELS="memory:C-ADMINS")
    harbour = {name for _, name in CUSTOMERS["harbour-it"]}
    world.register()
    world.clock.set(before_send(days=14))
    for others in ({"T0NOBODY"}, {"T0FJORD"}):
        world.platform.share(HARBOUR, *others)
        report = world.tick()
        assert [k for k in report.held if ":harbour-it:" in k], report
        LEDGER.refused("private notice", "\n".join(world.texts(HARBOUR)))
        assert not [n for n in harbour if n in "\n".join(world.texts(HARBOUR))]
        world.platform.unshare(HARBOUR, *others)
        world.clock.advance(minutes=2)  # the next check
    alerts = [m.text for m in world.platform.in_place("C-ADMINS")]
    assert any("held back" in a and HARBOUR in a for a in alerts), alerts
    report = world.tick()
    [notice] = world.texts(HARBOUR)
    LEDGER.granted("private notice", all(name in notice for name in harbour))
    assert all(name in notice for name in harbour)
    # Every other partner's place and DM names its own customers only.
    for partner in CUSTOMERS:
        if partner in PLACES:
            assert_only_own_customers(world, partner)


# -- the command line --------------------------------------------------------------------------
def _without(data: Any, key: str) -> Any:
    """A copy of YAML data with every mapping's `key` left out."""
    if isinstance(data, dict):
        return {k: _without(v, key) for k, v in data.items() if k != key}
    if isinstance(data, list):
        return [_without(v, key) for v in data]
    return data


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The command line knows Slack and Discord only: the same files without `memory`."""
    for name, data in (("routes.yml", ROUTES), ("partners.yml", PARTNERS)):
        (tmp_path / name).write_text(yaml.safe_dump(_without(data, "memory")), encoding="utf-8")
    env = {**world.env, "PARTNERBOT_COMMS_DIR": str(tmp_path)}
    env["PARTNERBOT_PARTNERS_FILE"] = str(tmp_path / "partners.yml")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_ask_as_the_public_by_default_and_as_a_partner_or_audience_when_told(
    cli_env: dict[str, str],
) -> None:
    runner = CliRunner()

    def asked(question: str, *args: str) -> dict[str, Any]:
        result = runner.invoke(cli, ["ask", question, "--json", *args])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    for secret in EVERY_SECRET:
        for question in secret.questions[:2]:
            public = asked(question)
            assert set(public) == {"answer", "abstained", "sources", "as_of", "kind"}
            LEDGER.refused("ask", json.dumps(public), secret)
            LEDGER.refused(
                "ask", json.dumps(asked(question, "--as-partner", "fjord-systems")), secret
            )
        if secret.allowed:
            for args in (["--as-partner", "harbour-it"], ["--audience", "tiers=Elite"]):
                if secret in (REGION, COMPETENCY, PARTNER) and args[0] == "--audience":
                    continue  # (tiers=Elite is not its audience)
                got = asked(secret.questions[0], *args)
                cited = {s["path"] for s in got["sources"] if s["cited"]}
                LEDGER.granted("ask", bool(paths(secret) & cited))
                assert paths(secret) & cited, (args, secret.path, got["answer"])
    bad = runner.invoke(cli, ["ask", "x", "--as-partner", "nobody"])
    assert bad.exit_code != 0 and "no partner 'nobody'" in bad.output


def test_the_terminal_chat_is_the_public_s(cli_env: dict[str, str]) -> None:
    questions = [q for s in EVERY_SECRET for q in s.questions[:2]]
    result = CliRunner().invoke(cli, ["chat"], input="\n".join(questions) + "\n\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("you>") >= len(questions)
    for turn in result.stdout.split("you>")[1:]:
        LEDGER.refused("chat", turn)


def test_report_is_the_admin_s_and_names_the_questions_asked(cli_env: dict[str, str]) -> None:
    """`partnerbot report` is for the admins, who may read everything: the questions
    partners asked, restricted ones included; no chat command shows it to partners."""
    result = CliRunner().invoke(cli, ["report", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    asked = " ".join(row["question"] for row in data["abstentions"])
    LEDGER.granted("report", bool(asked))


async def test_no_chat_command_shows_the_report_to_partners(world: World) -> None:
    reply = await world.platform.command("report", channel="C-partners")
    LEDGER.refused("report", shown(reply))
    assert "report" not in {c.name for c in world.app.chat.commands}


# -- the Slack stand-in: Slack Connect channels with 1, 2 and unknown organisations, and the
#    change digest through `partnerbot changes publish` -----------------------------------------
SLACK_CHANNELS = {
    "C0CONNECT1": ["T0HARBOUR"],
    "C0CONNECT2": ["T0HARBOUR", "T0FJORD"],
    "C0CONNECTX": ["T0HARBOUR", "T0NOBODY"],
    "C0SECURITY": ["T0NOBODY"],  # mapped to the Security competency, shared with a stranger
}
ONE_SLACK_ORG = "C0CONNECT1"  # read by Harbour IT's workspace alone: what Harbour IT may read


@pytest.fixture
def slack_fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        for channel, teams in SLACK_CHANNELS.items():
            fake.seed_channel(channel, is_ext_shared=True, connected_team_ids=[TEAM_ID, *teams])
        yield fake


def slack_text(call: Any) -> str:
    return f"{call.params.get('text')}\n{call.params.get('blocks')}"


async def test_slack_connect_channels_answer_for_every_organisation_present(
    corpus: tuple[Path, dict[str, str]], slack_fake: FakeSlack
) -> None:
    with copy_of(corpus, "slack-data", **slack_settings(slack_fake)) as app:
        async with running_slack(app, slack_fake) as slack:
            for secret in EVERY_SECRET:
                for channel in SLACK_CHANNELS:
                    for door in ("mention", "slash"):
                        if door == "mention":
                            method = "chat.postMessage"
                            before = len(slack_fake.calls_to(method))
                            await slack.event(mention(secret.questions[0], channel=channel))
                        else:
                            method = "response_url"
                            before = len(slack_fake.calls_to(method))
                            await slack.command(f"ask {secret.questions[0]}", channel_id=channel)
                        calls = await slack_fake.async_wait_for(method, before + 1, timeout=60)
                        text = slack_text(calls[-1])
                        if channel == ONE_SLACK_ORG and secret.allowed:
                            LEDGER.granted(door, secret.title in text)
                        else:
                            LEDGER.refused(door, text, secret)


def test_changes_publish_posts_each_slack_channel_what_its_organisations_may_read(
    corpus: tuple[Path, dict[str, str]], slack_fake: FakeSlack, tmp_path: Path
) -> None:
    for name, content in (("routes.yml", ROUTES), ("partners.yml", PARTNERS)):
        (tmp_path / name).write_text(yaml.safe_dump(_without(content, "memory")), "utf-8")
    root, env = corpus
    data = root / "changes-data"
    shutil.copytree(root / "corpus-data", data)
    channels = [*SLACK_CHANNELS, "C0PUBLIC"]
    result = CliRunner().invoke(
        cli,
        ["changes", "publish"],
        env={
            **env,
            **slack_settings(slack_fake),
            "PARTNERBOT_DATA_DIR": str(data),
            # The changes the corpus recorded are in its own state (SQLite, in its data
            # directory), whichever database the other tests of this run are given.
            "PARTNERBOT_DATABASE_URL": f"sqlite:///{data / 'state.sqlite3'}",
            "PARTNERBOT_COMMS_DIR": str(tmp_path),
            "PARTNERBOT_PARTNERS_FILE": str(tmp_path / "partners.yml"),
            "PARTNERBOT_CHANGES_CHANNELS": ",".join(f"slack:{c}" for c in channels),
        },
    )
    assert result.exit_code == 0, result.output
    posts = {c: "" for c in channels}
    for call in slack_fake.calls_to("chat.postMessage"):
        posts[call.params["channel"]] += slack_text(call)
    assert "Deal Registration Rules" in posts["C0PUBLIC"]
    for secret in (*SECRETS, SLIPS[6]):
        for channel in channels:
            if channel == ONE_SLACK_ORG:
                LEDGER.granted("changes", secret.title in posts[channel])
            else:
                LEDGER.refused("changes", posts[channel], secret)


# -- the Discord stand-in: a channel mapped to Elite, the Elite role in DMs --------------------
HOLDER, MEMBER = 900_000_000_000_000_201, 900_000_000_000_000_202


def replying_to(asked: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("message_reference", {}).get("message_id") == asked["id"]


async def test_discord_roles_and_dms_read_what_the_role_may(
    corpus: tuple[Path, dict[str, str]],
) -> None:
    with fake_discord() as fake:
        fake.add_role("Elite", role_id=DISCORD_ELITE_ROLE)
        fake.add_member(HOLDER, name="elite-eve", role_ids=(DISCORD_ELITE_ROLE,))
        fake.add_member(MEMBER, name="member-max", role_ids=(fake.partner_role_id,))
        with copy_of(corpus, "discord-data", **discord_settings(fake)) as app:
            async with running_discord(app):
                for secret in EVERY_SECRET:
                    elite = secret.allowed and secret in (ELITE, *SLIPS)
                    for where, user, guild in (
                        (DISCORD_ELITE_CHANNEL, MEMBER, True),
                        (fake.channel_id, HOLDER, True),
                        (None, HOLDER, False),
                        (None, MEMBER, False),
                    ):
                        asked = fake.message_create(
                            secret.questions[0],
                            author_id=user,
                            channel_id=where,
                            guild=guild,
                        )
                        reply = await fake.wait_for_message(replying_to(asked), timeout=60)
                        text = f"{reply.get('content')}\n{reply.get('embeds')}"
                        door = "DM" if not guild else "mention"
                        reads = where == DISCORD_ELITE_CHANNEL or (not guild and user == HOLDER)
                        if elite and reads:
                            LEDGER.granted(door, secret.title in text)
                        else:
                            LEDGER.refused(door, text, secret)


# -- the figures -------------------------------------------------------------------------------
def test_the_suite_s_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """No probe leaked (each was asserted); readers with access got the document at least 95%
    of the time."""
    denied, allowed, answered = (sum(c.values()) for c in LEDGER.__dict__.values())
    doors = sorted({*LEDGER.denied, *LEDGER.allowed})
    with capsys.disabled():
        print(
            f"\nleak suite: {denied} probes without access, 0 leaks; with access "
            f"{answered}/{allowed} answered from the document ({answered / max(allowed, 1):.1%})"
        )
        for door in doors:
            print(
                f"  {door:<15} {LEDGER.denied[door]:>5} without access, "
                f"{LEDGER.answered[door]:>4}/{LEDGER.allowed[door]:<4} with access"
            )
    assert denied >= 1000, denied
    assert set(doors) >= {
        "mention",
        "slash",
        "button",
        "thread",
        "DM",
        "digest",
        "private notice",
        "ask",
        "chat",
        "changes",
        "report",
    }, doors
    assert answered / allowed >= 0.95, (answered, allowed)
