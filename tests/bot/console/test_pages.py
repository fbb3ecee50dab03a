"""The console's other pages over real HTTP: knowledge gaps (filters by partner and tier,
CSV, marking a gap answered), program changes with the digest's reach and posting it,
the index (runs, failed files, re-index now), people, the external URL behind a proxy,
and junk sent to every form."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.app import App
from bot.models import Answer, Citation, Question
from knowledge.audience import Viewer
from tests.bot.console.harness import (
    Browserless,
    Running,
    add_user,
    console_settings,
    running_console,
)
from tests.bot.console.test_security import routes_of
from tests.conftest import SAMPLE_DOCS
from tests.fakes.memory_platform import MemoryPlatform
from tests.fakes.oidc_provider import CLIENT_ID, FakeOpenIdProvider

HARBOUR = Viewer.holding({"tiers": ("Elite",), "partners": ("harbour",)}, name="Harbour IT")
CLOSEST = Citation(1, "CSAT requirement", "Tiers", "csat-requirement.md", score=0.3, cited=False)


def ask(app: App, text: str, *, audience: Viewer, abstained: bool = True) -> int:
    question = Question(text, asker="U1", place="C1", platform="slack", audience=audience)
    answer = Answer(text="…", citations=(CLOSEST,), abstained=abstained, confidence=0.1)
    return app.store.interactions.record(question, answer)


async def test_gaps_are_filtered_by_partner_and_tier_exported_and_marked(
    running: Running, client: Browserless
) -> None:
    app = running.app
    add_user(app, "editor@vendor.com", "editor")
    for _ in range(2):
        ask(app, "What is the CSAT floor for Elite?", audience=HARBOUR)
    ask(app, '=HYPERLINK("x") how do I claim MDF', audience=Viewer())
    rated = ask(app, "is the fee refundable", audience=Viewer(), abstained=False)
    app.store.interactions.record_feedback(
        interaction_id=rated, user="U9", rating=-1, platform="slack"
    )
    await client.sign_in("editor@vendor.com")
    _, page = await client.get("/console/gaps")
    assert "What is the CSAT floor for Elite?" in page and "is the fee refundable" in page
    assert "CSAT requirement › Tiers" in page  # the topic: the closest section
    _, elite = await client.get("/console/gaps?tier=Elite")
    assert "What is the CSAT floor" in elite and "is the fee refundable" not in elite
    _, harbour = await client.get("/console/gaps?partner=harbour&platform=slack")
    assert "What is the CSAT floor" in harbour and "claim MDF" not in harbour
    _, member = await client.get("/console/gaps?tier=Member")
    assert "No gaps" in member
    status, text = await client.get("/console/gaps.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and {r["question"] for r in rows} >= {"is the fee refundable"}
    csat = next(r for r in rows if r["question"].startswith("What is the CSAT"))
    assert (csat["times"], csat["tiers"], csat["partners"]) == ("2", "Elite", "harbour")
    assert any(r["question"].startswith("'=HYPERLINK") for r in rows)  # not a formula
    await client.get("/console/gaps")
    status, _, _ = await client.post(
        "/console/gaps/mark",
        {"question": "what is the csat floor for elite?", "doc_path": "csat-requirement.md"},
    )
    assert status == 303
    _, page = await client.get("/console/gaps")
    assert "asked" not in page.split("What is the CSAT floor")[1].split("</tr>")[0]
    await asyncio.sleep(1.1)  # times are kept to the second: the next question is later
    ask(app, "What is the CSAT floor for Elite?", audience=HARBOUR)  # asked again since
    _, page = await client.get("/console/gaps")
    assert "asked 1 time(s) since" in page
    assert [e.action for e in app.store.console.audit_trail()] == ["gap answered"]


async def test_program_changes_show_before_and_after_and_an_admin_posts_the_digest(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    app = make_app(
        **console_settings(tmp_path / "comms"),
        PARTNERBOT_DOCS_DIR=str(docs),
        PARTNERBOT_CHANGES_CHANNELS="memory:C0CHANGES,memory:C0OTHER",
    )
    platform = app.add_platform("memory")
    assert isinstance(platform, MemoryPlatform)
    csat = docs / "csat-requirement.md"
    csat.write_text(csat.read_text().replace("2027-03-31", "2027-06-30"))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    add_user(app, "admin@vendor.com", "admin")
    add_user(app, "editor@vendor.com", "editor")
    async with running_console(app) as served:
        admin, editor = Browserless(served), Browserless(served)
        try:
            await editor.sign_in("editor@vendor.com")
            assert (await editor.post("/console/index/reindex"))[0] == 403
            await admin.sign_in("admin@vendor.com")
            await admin.get("/console/index")
            assert (await admin.post("/console/index/reindex"))[0] == 303
            _, index = await admin.get("/console/index")
            assert (
                "broken.pdf" in index and f'id="generation">{app.core.index.generation()}<' in index
            )
            _, changes = await admin.get("/console/changes")
            assert "<del>" in changes and "2027-03-31" in changes and "2027-06-30" in changes
            assert "memory:C0CHANGES:" in changes and "memory:C0OTHER:" in changes
            assert "Post the digest" in changes
            status, done, _ = await admin.post("/console/changes/digest")
            assert status == 200 and "Published the digest" in done
            assert status == 200
        finally:
            await admin.close()
            await editor.close()
    [digest] = platform.in_place("C0CHANGES")
    assert "2027-06-30" in digest.text
    actions = [e.action for e in app.store.console.audit_trail()]
    assert actions == ["digest posted", "re-indexed"]


async def test_admins_add_people_and_disabling_someone_ends_their_session(
    running: Running, client: Browserless
) -> None:
    add_user(running.app, "admin@vendor.com", "admin")
    await client.sign_in("admin@vendor.com")
    await client.get("/console/users")
    form = {"email": "New@Vendor.com", "role": "editor", "password": "a long password 1"}
    assert (await client.post("/console/users", form))[0] == 303
    newcomer = Browserless(running)
    try:
        assert await newcomer.sign_in("new@vendor.com", "a long password 1") == 303
        assert (await newcomer.get("/console/comms-new"))[0] == 200
        await client.get("/console/users")
        assert (await client.post("/console/users/disable", {"email": "new@vendor.com"}))[0] == 303
        assert (await newcomer.get("/console/comms"))[0] == 303  # back to sign-in
    finally:
        await newcomer.close()
    bad = await client.post("/console/users", {"email": "x@y.z", "role": "owner"})
    assert bad[0] == 400 and "the role owner is unknown" in bad[1]


async def test_behind_a_proxy_the_configured_external_url_is_used(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    external = "https://partners.example.com/pb"
    async with FakeOpenIdProvider(email="maria@vendor.com") as provider:
        app = make_app(
            **console_settings(tmp_path / "comms"),
            PARTNERBOT_CONSOLE_URL=external,
            PARTNERBOT_OIDC_ISSUER=provider.issuer,
            PARTNERBOT_OIDC_CLIENT_ID=CLIENT_ID,
        )
        add_user(app, "maria@vendor.com", "editor")
        async with running_console(app) as served, aiohttp.ClientSession() as http:
            async with http.get(served.url("/console/oidc/start"), allow_redirects=False) as r:
                query = parse_qs(urlsplit(r.headers["Location"]).query)
                assert query["redirect_uri"] == [f"{external}/console/oidc/callback"]
                assert "Path=/pb/console" in r.headers["Set-Cookie"]
            async with http.get(served.url("/console/comms"), allow_redirects=False) as r:
                assert r.headers["Location"].startswith("/pb/console/login")
            async with http.get(served.url("/console/login")) as r:
                page = await r.text()
            assert (
                'action="/pb/console/login"' in page
                and 'href="/pb/console/static/console.css"' in page
            )


async def test_junk_sent_to_every_form_gets_a_4xx_and_no_traceback(
    running: Running, client: Browserless
) -> None:
    add_user(running.app, "admin@vendor.com", "admin")
    await client.sign_in("admin@vendor.com")
    junk = {"email": "\x00" * 3, "send_at": "💥", "version": "{{7*7}}", "name": "x" * 5000}
    for method, path in routes_of(running, "/console"):
        if method != "POST" or path in ("/console/logout", "/console/login"):
            continue
        await client.get("/console/comms")
        status, text, _ = await client.post(path, junk)
        assert status < 500, (path, status)
        assert "Traceback" not in text and 'File "' not in text, path
