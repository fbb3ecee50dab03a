"""Mentions in composed text never ping anyone."""

from __future__ import annotations

import pytest

from bot.answering.mentions import neutralise_mentions


@pytest.mark.parametrize(
    ("text", "live"),
    [
        ("@everyone read this", "@everyone"),
        ("@here read this", "@here"),
        ("hey @channel", "@channel"),
        ("<!channel> read this", "<!channel>"),
        ("<!here|here> read this", "<!here"),
        ("<!everyone>", "<!everyone>"),
        ("ask <@U0123ABC>", "<@U0123ABC>"),
        ("ask <@!123456789012345678>", "<@!123456789012345678>"),
        ("the <@&123456789012345678> role", "<@&123456789012345678>"),
        ("<!subteam^S0123|@partners> team", "<!subteam"),
    ],
)
def test_mentions_are_neutralised(text: str, live: str) -> None:
    out = neutralise_mentions(text)
    assert live not in out
    assert "<" not in out and ">" not in out
    assert "@\u200b" in out  # still readable, no longer a mention


def test_ordinary_text_is_untouched() -> None:
    text = "Email partners@northwind.example or see https://x.example/@here-docs [1]."
    assert neutralise_mentions(text) == text
