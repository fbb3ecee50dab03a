"""The console in a real headless Chromium (tests/bot/console/browser.py), end to end with
the real Slack platform against FakeSlack: sign in; create a communication with a form
error, fix it, see it scheduled; the dispatcher posts to Slack; an Acknowledge click there
shows on the communication's page; reschedule and cancel; a gap appears after an abstained
question; the audit page lists each change. Runs on SQLite and, in `make test`'s second
pass, on PostgreSQL. Takes the README's screenshots (into docs/images/ when SCREENSHOTS
names it)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bot.app import App
from bot.comms.dispatcher import DispatcherService
from bot.comms.loading import _send_at
from bot.comms.registry import RegisterResult
from bot.prompts import message
from tests.adapters.slack_harness import mention, running_slack, slack_settings
from tests.adapters.test_slack import posted
from tests.adapters.test_slack_notices import button_value, notices
from tests.bot.console.browser import chromium
from tests.bot.console.harness import (
    PASSWORD,
    add_user,
    comm_fields,
    console_settings,
    in_days,
    running_console,
)
from tests.fakes.slack_server import FakeSlack

# The README's screenshots: `SCREENSHOTS=docs/images pytest tests/scenarios/test_console.py`
# takes them again; otherwise they are taken into the test's own folder.
SCREENSHOTS = Path(os.environ["SCREENSHOTS"]).resolve() if os.environ.get("SCREENSHOTS") else None
TITLE = "Renewal reminder for ANZ small businesses"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


async def test_a_vendor_runs_a_communication_from_the_console(
    make_app: Callable[..., App], fake: FakeSlack, tmp_path: Path
) -> None:
    app = make_app(
        **slack_settings(fake),
        **console_settings(tmp_path / "comms"),
        PARTNERBOT_COMMS_POLL_SECONDS="3600",
    )
    app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
    add_user(app, "maria@vendor.com", "editor")
    async with (
        running_console(app) as served,
        running_slack(app, fake) as slack,
        chromium() as browser,
    ):
        page = await browser.new_page()
        base = served.base
        # -- sign in --------------------------------------------------------------------
        await page.goto(f"{base}/console/comms")
        assert "/console/login" in page.url
        await page.fill("#email", "maria@vendor.com")
        await page.fill("#password", PASSWORD)
        await page.press("#password", "Enter")  # by keyboard
        await page.wait_for_url(f"{base}/console/comms")
        # -- create, with a form error first --------------------------------------------
        await page.click("text=New communication")
        await page.fill("#f-id", "anz-renewals")
        await page.fill("#f-title", TITLE)
        await page.fill("#f-send_at", "next tuesday")
        await page.fill("#f-aims", "Remind customers to renew before prices change.")
        await page.fill("#f-customer_summary", "Your subscription renews on 1 March.")
        await page.fill("#f-customer_pointed_to", "their partner of record")
        await page.fill("#f-audience\\.regions", "ANZ")
        await page.click("button[type=submit].primary")
        error = await page.inner_text("#e-send_at")
        # The message a file with that send_at gets (bot/comms/loading.py), beside the field.
        assert error == _send_at("next tuesday")
        assert await page.get_attribute("#f-send_at", "aria-invalid") == "true"
        assert await page.input_value("#f-title") == TITLE  # nothing typed is lost
        await page.fill("#f-send_at", in_days(10))
        await page.click("button[type=submit].primary")
        await page.wait_for_url(f"{base}/console/comms/anz-renewals?done=added")
        assert await page.inner_text("#comm-status") == "scheduled"
        # -- the dispatcher posts to Slack; an Acknowledge click there shows here -------
        [job] = [j for j in app.jobs() if isinstance(j, DispatcherService)]
        report = await asyncio.to_thread(job.dispatcher.run_once)
        assert report.posted == ["pb-comm:anz-renewals:r1:first:slack:C0ANZ"]
        [notice] = notices(fake, "C0ANZ")
        value = button_value(notice, "notice_acknowledge")
        await slack.click(
            "notice_acknowledge",
            value,
            user_id="U0ALICE",
            channel_id="C0ANZ",
            message_ts=notice["ts"],
        )
        await page.reload()
        acks = await page.inner_text("#channel-acks")
        assert "slack C0ANZ" in acks and "U0ALICE at" in acks
        previews = await page.inner_text("#previews ~ .previews")
        assert "Slack" in previews and "Discord" in previews and TITLE in previews
        images = SCREENSHOTS or tmp_path / "images"
        images.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(images / "console-communication.png"), full_page=True)
        # Another one, from a file, with its recipient list: Harbour IT's customers.
        customers = [
            {"customer_id": f"c-{i}", "customer_name": name, "partner_id": "harbour"}
            for i, name in enumerate(("Bay Books", "Quay Accounting", "Cove Dental"))
        ]
        elite = tmp_path / "comms" / "elite-prices.yml"
        elite.write_text(
            yaml.safe_dump(
                comm_fields(
                    "elite-prices",
                    title="New prices for customers of Elite partners",
                    send_at=in_days(20),
                    recipients=customers,
                )
            ),
            encoding="utf-8",
        )
        assert isinstance(app.comms.add_file(elite), RegisterResult)
        await page.goto(f"{base}/console/comms")
        card = await page.inner_text(".card")
        assert TITLE in card and "Channels told\n1\nacknowledged\n1" in card
        await page.screenshot(path=str(images / "console-communications.png"), full_page=True)
        for shot in ("console-communication.png", "console-communications.png"):
            assert (images / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # -- reschedule, then cancel (the confirmation says who will be told) -----------
        await page.goto(f"{base}/console/comms/anz-renewals")
        moved = in_days(12)
        await page.fill("#reschedule-at", moved)
        await page.click("text=Reschedule")
        await page.wait_for_url("**?done=rescheduled")
        record = app.comms.require("anz-renewals")
        assert record.comm.send_at.isoformat() == moved and record.revision == 2
        await page.click("text=Cancel…")
        told = await page.inner_text("#cancel-told")
        assert told.strip() == "slack C0ANZ"
        await page.click("text=Yes, cancel it")
        await page.wait_for_url("**?done=cancelled")
        assert await page.inner_text("#comm-status") == "cancelled"
        # -- a gap appears after a question asked in Slack that the documents cannot answer
        asked = mention("how do i reset my laptop password", user="U0BOB", channel="C0ANZ")
        await slack.event(asked)
        [reply] = await posted(fake, channel="C0ANZ", thread_ts=asked["ts"], timeout=30)
        assert reply.params["text"].startswith(message("abstained_heading"))
        await page.goto(f"{base}/console/gaps")
        assert "how do i reset my laptop password" in await page.inner_text("#gaps")
        # -- the audit page lists each change -------------------------------------------
        await page.goto(f"{base}/console/audit")
        actions = await page.locator("#audit td.action").all_inner_texts()
        assert actions == ["cancelled", "rescheduled", "added"]
        assert "console:maria@vendor.com" in await page.inner_text("#audit")
        # -- usable at a phone's width ---------------------------------------------------
        await page.set_viewport_size({"width": 375, "height": 740})
        await page.goto(f"{base}/console/comms/anz-renewals")
        wide = await page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 375
