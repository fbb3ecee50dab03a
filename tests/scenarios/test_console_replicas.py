"""Two replicas behind one PostgreSQL database, each serving the console: a person signed in
on one is signed in on the other, a change made on one is seen on the other, and a stale
edit on the other is refused rather than applied over it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app import App
from tests.bot.console.harness import (
    Browserless,
    add_user,
    comm_fields,
    console_settings,
    running_console,
)
from tests.postgres_server import PostgresServer


@pytest.fixture
def shared_database(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database("console-replicas")
    yield url
    postgres_server.drop_database(url)


async def test_two_replicas_share_sessions_and_see_each_other_s_changes(
    make_app: Callable[..., App], tmp_path: Path, shared_database: str
) -> None:
    settings = {
        **console_settings(tmp_path / "comms"),
        "PARTNERBOT_DATABASE_URL": shared_database,
    }
    one, two = make_app(**settings), make_app(**settings)
    for app in (one, two):
        app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
    add_user(one, "maria@vendor.com", "editor")
    async with running_console(one) as first, running_console(two) as second:
        person = Browserless(first)
        try:
            assert await person.sign_in("maria@vendor.com") == 303
            # The same session cookie works on the other replica (sessions are in the store).
            other = Browserless(second)
            other.session.cookie_jar.update_cookies(
                {c.key: c.value for c in person.session.cookie_jar}
            )
            status, page = await other.get("/console/comms")
            assert status == 200 and "maria@vendor.com" in page
            # A change on one replica is seen on the other.
            await person.get("/console/comms-new")
            fields = comm_fields("anz-renewals")
            form = {k: v for k, v in fields.items() if isinstance(v, str)}
            form["audience.regions"] = "ANZ"
            status, _, _ = await person.post("/console/comms-new", form)
            assert status == 303
            status, page = await other.get("/console/comms/anz-renewals")
            assert status == 200 and fields["title"] in page
            # Both open the edit form; the first save wins, the second is refused.
            await person.get("/console/comms/anz-renewals/edit")
            first_csrf = person.csrf
            _, edit_page = await other.get("/console/comms/anz-renewals/edit")
            version = re.search(r'name="version" value="([^"]+)"', edit_page)
            assert version is not None
            changed = {**form, "title": "Changed on replica one", "version": version.group(1)}
            person.csrf = first_csrf
            assert (await person.post("/console/comms/anz-renewals/edit", changed))[0] == 303
            stale = {**form, "title": "Changed on replica two", "version": version.group(1)}
            status, page, _ = await other.post("/console/comms/anz-renewals/edit", stale)
            assert status == 422 and "after you opened it: nothing was saved" in page
            assert two.comms.require("anz-renewals").comm.title == "Changed on replica one"
            await other.close()
        finally:
            await person.close()
