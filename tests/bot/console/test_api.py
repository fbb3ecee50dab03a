"""The API for marketing tools, and one truth for communications: the same fields and
messages as a file, an idempotency key that registers once, clear 4xx naming the field;
a file edit and a console edit never silently overwrite each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.comms.loading import FileRefused
from bot.comms.registry import RegisterResult
from bot.serving.console.auth import ConsoleAuth
from tests.bot.console.harness import Running, comm_fields, in_days


def bearer(running: Running) -> dict[str, str]:
    auth = ConsoleAuth(repo=running.app.store.console, secret_key=None, session_hours=8)
    _, plain = auth.new_token("Marketo", who="test")
    return {"Authorization": f"Bearer {plain}"}


async def call(
    running: Running, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, running.url(path), json=body, headers=headers) as r,
    ):
        return r.status, await r.json()


async def test_a_retried_call_registers_once_and_errors_name_the_field(running: Running) -> None:
    token = bearer(running)
    key = {"Idempotency-Key": "email-4711"}
    first = await call(running, "POST", "/api/communications", comm_fields(), **token, **key)
    again = await call(running, "POST", "/api/communications", comm_fields(), **token, **key)
    assert first[0] == again[0] == 201 and first[1] == again[1]
    assert first[1]["communication"]["status"] == "scheduled"
    history = running.app.comms.history("smb-renewals")
    assert [h["action"] for h in history] == ["added"] and history[0]["who"] == "api:Marketo"
    reused = await call(
        running, "POST", "/api/communications", comm_fields("other"), **token, **key
    )
    assert reused[0] == 409 and "another request" in reused[1]["error"]
    taken = await call(running, "POST", "/api/communications", comm_fields(), **token)
    assert taken[0] == 409 and "already registered" in taken[1]["fields"]["id"][0]
    status, bad = await call(
        running, "POST", "/api/communications", comm_fields("x2", send_at="2027-01-20"), **token
    )
    assert status == 422
    assert bad["error"].startswith("send_at: send_at 2027-01-20T00:00:00 has no UTC offset")
    assert list(bad["fields"]) == ["send_at"]
    nul = await call(
        running, "POST", "/api/communications", comm_fields("x3", title="a\x00b"), **token
    )
    assert nul[0] == 400 and "NUL" in nul[1]["error"]
    assert (await call(running, "GET", "/api/communications/%00", **token))[0] == 404
    # The same message a file with that value gets.
    folder = running.app.comms.routes_path.parent  # the test's own comms folder
    assert bad["fields"]["send_at"][0] in str(_refused(folder, send_at="2027-01-20"))


def _refused(folder: Path, **changes: Any) -> FileRefused:
    from datetime import UTC, datetime

    from bot.comms.loading import load_communication
    from bot.comms.routing import load_routes

    path = folder / "x.yml"
    path.write_text(yaml.safe_dump(comm_fields(**changes)), encoding="utf-8")
    refused = load_communication(path, routes=load_routes(None), now=datetime.now(UTC))
    assert isinstance(refused, FileRefused)
    return refused


async def test_put_changes_and_delete_cancels_with_the_version_checked(running: Running) -> None:
    token = bearer(running)
    _, made = await call(running, "POST", "/api/communications", comm_fields(), **token)
    version = made["communication"]["version"]
    moved = comm_fields(send_at=in_days(11), version=version)
    status, changed = await call(running, "PUT", "/api/communications/smb-renewals", moved, **token)
    assert status == 200 and changed["action"] == "updated"
    stale = await call(running, "PUT", "/api/communications/smb-renewals", moved, **token)
    assert stale[0] == 409 and "nothing was saved" in stale[1]["error"]
    status, gone = await call(running, "DELETE", "/api/communications/smb-renewals", **token)
    assert status == 200 and gone["communication"]["status"] == "cancelled"
    assert (await call(running, "DELETE", "/api/communications/nope", **token))[0] == 404
    trail = [e.action for e in running.app.store.console.audit_trail()]
    assert trail == ["cancelled", "updated", "added"]


async def test_a_file_and_a_console_edit_never_overwrite_each_other(running: Running) -> None:
    comms = running.app.comms
    folder = comms.routes_path.parent
    path = folder / "renewals.yml"
    path.write_text(yaml.safe_dump(comm_fields()), encoding="utf-8")
    assert isinstance(comms.add_file(path), RegisterResult)
    token = bearer(running)
    version = comms.require("smb-renewals").version
    by_api = comm_fields(title="Renewals (edited by marketing)", version=version)
    status, _ = await call(running, "PUT", "/api/communications/smb-renewals", by_api, **token)
    assert status == 200
    # The file is edited too: it is refused, naming who changed it in the console.
    path.write_text(yaml.safe_dump(comm_fields(title="Renewals (file)")), encoding="utf-8")
    refused = comms.add_file(path)
    assert isinstance(refused, FileRefused) and "api:Marketo" in str(refused)
    synced = comms.sync_folder(folder)
    assert [f.path for f in synced.failed] == ["renewals.yml"]
    assert comms.require("smb-renewals").comm.title == "Renewals (edited by marketing)"
    # Removing the file does not cancel what the console changed either.
    path.unlink()
    assert comms.sync_folder(folder).cancelled == []
    # Once the file says what the console says, it is the file's again.
    path.write_text(yaml.safe_dump(comm_fields(title="Renewals (edited by marketing)")))
    assert isinstance(comms.add_file(path), RegisterResult)
    assert comms.require("smb-renewals").edited_by is None
