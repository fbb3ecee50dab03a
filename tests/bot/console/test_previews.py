"""Every platform the bot runs on shows the console how its notices will look, through its own
renderer (a new platform's spec adds `preview_notice` and appears on the page by itself)."""

from __future__ import annotations

from bot.app import PLATFORMS
from bot.models import Notice, NoticeButton
from bot.platform import Previewer

NOTICE = Notice(
    key="pb-comm:x:r1:first:slack:C0ANZ",
    title="Heads-up: <b>renewals</b>",
    text="**What customers are told:** renew by [1 March](https://vendor.example/renew).",
    buttons=(NoticeButton("acknowledge", "Acknowledge", "comm:1"),),
)


def test_every_platform_previews_a_notice_by_its_own_renderer() -> None:
    assert all(isinstance(PLATFORMS.spec(name), Previewer) for name in PLATFORMS.names)
    previews = PLATFORMS.previews(NOTICE)
    assert [p.platform for p in previews] == list(PLATFORMS.names)
    for preview in previews:
        kinds = [part.kind for part in preview.parts]
        assert kinds[0] == "heading" and "button" in kinds, preview.platform
        heading = "".join(text for text, _, _ in preview.parts[0].runs)
        assert heading == "Heads-up: <b>renewals</b>"  # text, escaped by the page
        body = next(part for part in preview.parts if part.kind == "text").runs
        assert ("What customers are told:", "b", None) in body
        assert ("1 March", "", "https://vendor.example/renew") in body
        assert "Acknowledge" in [part.label for part in preview.parts]
