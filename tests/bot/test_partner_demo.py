"""`make demo` shows one partner's private notice: its own customers only."""

from __future__ import annotations

import io

from rich.console import Console

from bot.comms.demo import demo_partner_notice
from tests.scenarios.test_partner_notices import ALL_NAMES, CUSTOMERS


def test_the_demo_shows_harbour_its_customers_and_counts_the_unknown_ones() -> None:
    out = io.StringIO()
    demo_partner_notice(Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    own = {name for _, name in CUSTOMERS["harbour-it"]}
    assert all(name in text for name in own)
    assert not {n for n in ALL_NAMES - own if n in text}  # no other partner's customers
    assert "For Harbour IT: 3 customers of yours get an email on Wed 20 Jan 2027" in text
    for where in ("slack DM to U0FJORDLARS", "slack C0HARBOURIT", "discord 1300000000000000321"):
        assert where in text
    assert "11 customers on the list; 2 without a known partner (1 blank" in text
    assert "4 private notices posted once each" in text
