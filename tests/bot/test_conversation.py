"""Conversations: the subject survives any number of elliptical follow-ups.

Run through PartnerBot.ask with the earlier user turns as history, the way `ask
--previous` and the chat platforms do: on the Northwind samples (which have a
glossary) and on another vendor's documents that have none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core import PartnerBot
from bot.models import Answer, Question, Turn

CSAT_GOLD = "whats the new CSAT rule for gold?? deadline?"


def chain(bot: PartnerBot, *turns: str) -> list[Answer]:
    """Ask each turn with every earlier turn as history; the answers in order."""
    answers = []
    for n, text in enumerate(turns):
        history = tuple(Turn("user", t) for t in turns[:n])
        answers.append(bot.ask(Question(text, history=history)))
    return answers


def cites(answer: Answer, path: str) -> bool:
    return not answer.abstained and any(c.path == path for c in answer.citations)


def test_three_turn_chain_keeps_the_csat_subject(bot: PartnerBot) -> None:
    gold, member, elite = chain(bot, CSAT_GOLD, "and for member tier?", "and elite?")
    assert cites(gold, "csat-requirement.md") and "2027-03-31" in gold.text
    assert cites(member, "csat-requirement.md") and "2027-06-30" in member.text
    # Third turn: still the CSAT rule, now for Elite (not the Elite launch dates).
    assert cites(elite, "csat-requirement.md"), elite.text
    assert "25" in elite.text and "4.5" in elite.text
    assert "application window" not in elite.text


def test_four_turn_chain_answers_the_deadline_for_the_last_tier(bot: PartnerBot) -> None:
    *_, deadline = chain(bot, CSAT_GOLD, "and for member tier?", "and elite?", "deadline for that?")
    assert cites(deadline, "csat-requirement.md"), deadline.text
    assert deadline.standalone_query.lower().count("elite") >= 1
    assert "csat" in deadline.standalone_query.lower()
    assert "member" not in deadline.standalone_query.lower()


def test_a_new_question_starts_a_new_subject(bot: PartnerBot) -> None:
    *_, fresh, follow = chain(
        bot,
        CSAT_GOLD,
        "and for member tier?",
        "how long does deal reg protect a deal",
        "and for elite?",
    )
    assert cites(fresh, "deal-registration.md") and "120 days" in fresh.text
    assert "csat" not in follow.standalone_query.lower()
    assert "deal" in follow.standalone_query.lower()


# Another vendor's program: its own tier and track names, and no glossary.yml.
FABRIKAM = {
    "tiers.md": """---
title: Fabrikam Alliance Tiers
effective_date: 2026-03-01
---
# Fabrikam Alliance Tiers

## Overview

The Fabrikam Alliance has three tiers: Registered, Select, and Premier.
Partners join one or more tracks: Reseller, Integrator, and Hosting Provider.

## Premier Tier requirements

| Track | Certified engineers | Annual bookings | Review date |
|---|---|---|---|
| Reseller | 6 certified engineers | USD 400K in annual bookings | reviewed every March |
| Integrator | 9 certified engineers | 12 delivered projects | reviewed every June |
| Hosting Provider | 4 certified engineers | USD 250K in hosted revenue | reviewed every September |

## Select Tier requirements

| Track | Certified engineers | Annual bookings | Review date |
|---|---|---|---|
| Reseller | 2 certified engineers | USD 90K in annual bookings | reviewed every April |
| Integrator | 3 certified engineers | 4 delivered projects | reviewed every July |
| Hosting Provider | 1 certified engineer | USD 60K in hosted revenue | reviewed every October |
""",
    "marketing.md": """---
title: Fabrikam Marketing Funds
effective_date: 2026-02-01
---
# Fabrikam Marketing Funds

## Who can claim funds

Marketing funds are open to Premier partners in every track.
Claims must be filed within 60 days of the campaign end date.
""",
    "support.md": """---
title: Fabrikam Partner Support
effective_date: 2026-01-15
---
# Fabrikam Partner Support

## Opening a case

Partners open support cases in the Fabrikam partner portal under Help > Cases.
Severity 1 cases get a first response within 2 hours.
""",
}


@pytest.fixture
def fabrikam(make_bot: Callable[..., PartnerBot], tmp_path: Path) -> PartnerBot:
    docs = tmp_path / "fabrikam"
    docs.mkdir()
    for name, text in FABRIKAM.items():
        (docs / name).write_text(text, encoding="utf-8")
    bot = make_bot()
    report = bot.reindex(docs)
    assert report.ok, report.failed
    return bot


def test_unseen_vendor_names_of_one_kind_are_swapped_without_a_glossary(
    fabrikam: PartnerBot,
) -> None:
    reseller, integrator, select, engineers = chain(
        fabrikam,
        "what are the premier tier requirements for resellers?",
        "and for integrators?",
        "what about select tier?",
        "how many engineers for that?",
    )
    assert "6 certified engineers" in reseller.text, reseller.text
    assert "9 certified engineers" in integrator.text, integrator.text
    assert "reseller" not in integrator.standalone_query.lower()
    # "select tier" replaces "premier tier"; the track (integrators) is carried.
    assert "3 certified engineers" in select.text, select.text
    assert "premier" not in select.standalone_query.lower()
    assert "integrator" in select.standalone_query.lower()
    assert "3 certified engineers" in engineers.text, engineers.text
