"""The API for marketing tools: `POST /api/communications`, `PUT` and `DELETE
/api/communications/{id}` (and `GET` to read one back), JSON with the fields of a
communication file, a bearer token per integration (created and revoked by an admin in the
console), and an `Idempotency-Key` header so that a retried call registers once.

Errors are JSON with a status that says whose fault it is: 400 bad JSON, 401 no or a revoked
token, 404 unknown id, 409 a conflict (changed since, already registered, a key reused with
another body, or the first call with the key still running), 422 with the problems by field
(the same messages a file gets).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

from aiohttp import web

from bot.comms.model import Record
from bot.comms.registry import ACTIVE, EditConflict
from bot.errors import PartnerbotError, UserError
from bot.prompts import message
from bot.serving.console.editing import Outcome, file_data
from bot.serving.console.web import COMM_ID, SECURITY_HEADERS, Console, Handler, console_of
from bot.store import ApiToken

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
MAX_BODY = 1_000_000
TOKEN_KEY = web.RequestKey("api_token", object)


def problem(status: int, text: str, **extra: Any) -> web.Response:
    body = {"error": text, **extra}
    return web.json_response(body, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer token first (401 without a valid one); errors as JSON, never a traceback."""
    console = console_of(request)
    try:
        auth = request.headers.get("Authorization", "")
        scheme, _, bearer = auth.partition(" ")
        token = console.auth.token(bearer.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            response: web.StreamResponse = problem(401, message("console_api_token"))
            response.headers["WWW-Authenticate"] = 'Bearer realm="partnerbot"'
        else:
            request[TOKEN_KEY] = token
            response = await handler(request)
    except web.HTTPException as e:
        response = problem(e.status, e.text or e.reason or "error")
    except EditConflict as e:
        response = problem(409, str(e))
    except (UserError, PartnerbotError) as e:
        response = problem(422, str(e))
    except Exception:
        logger.exception("api: %s %s failed", request.method, request.path)
        response = problem(500, message("console_failed"))
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def add_routes(rest: web.Application) -> None:
    rest.add_routes(routes)


def _token(request: web.Request) -> ApiToken:
    token = request[TOKEN_KEY]
    assert isinstance(token, ApiToken)
    return token


def _who(request: web.Request) -> str:
    return f"api:{_token(request).name}"


async def _body(request: web.Request) -> tuple[dict[str, Any], bytes]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(raw))
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise web.HTTPBadRequest(text=message("console_api_bad_json")) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text=message("console_api_bad_json"))
    if "\\u0000" in json.dumps(data):
        raise web.HTTPBadRequest(text=message("console_not_text"))
    return data, raw


def described(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status,
        "version": record.version,
        "revision": record.revision,
        "source": "file" if record.from_file else record.source,
        **{k: v for k, v in file_data(record.comm).items() if k != "id"},
    }


def _answer(outcome: Outcome, created: bool) -> web.Response:
    if not outcome.ok or outcome.result is None:
        fields = outcome.problems
        first = next(iter(fields.items()), ("form", [""]))
        return problem(
            409 if "id" in fields and "already registered" in " ".join(fields["id"]) else 422,
            f"{first[0]}: {first[1][0]}" if first[0] != "form" else first[1][0],
            fields=fields,
        )
    result = outcome.result
    body = {
        "action": result.action,
        "warnings": list(result.warnings),
        "communication": described(result.record),
    }
    return web.json_response(body, status=201 if created and result.action == "added" else 200)


async def _idempotent(request: web.Request, raw: bytes, work: Any) -> web.Response:
    """Run `work` once per Idempotency-Key (per token): a retry gets the first answer."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        response: web.Response = await work()
        return response
    if len(key) > 200:
        return problem(400, message("console_api_bad_key"))
    console = console_of(request)
    token = _token(request)
    fingerprint = hashlib.sha256(f"{request.method} {request.path}\n".encode() + raw).hexdigest()
    store = console.app.store.console
    earlier = await asyncio.to_thread(
        store.begin_call, token.id, key, request_hash=fingerprint, now=console.clock()
    )
    if earlier is not None:
        if earlier.request_hash != fingerprint:
            return problem(409, message("console_api_key_reused"))
        if earlier.status == 0:
            return problem(409, message("console_api_key_running"))
        replay = web.json_response(json.loads(earlier.response), status=earlier.status)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = await work()
    except Exception:
        await asyncio.to_thread(store.forget_call, token.id, key)
        raise
    if response.status >= 500:
        await asyncio.to_thread(store.forget_call, token.id, key)
    else:
        body = response.body if isinstance(response.body, bytes) else b"{}"
        await asyncio.to_thread(
            store.finish_call, token.id, key, status=response.status, response=body.decode()
        )
    return response


@routes.post("/communications", name="api_create")
async def create(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    data, raw = await _body(request)

    async def work() -> web.Response:
        outcome = await asyncio.to_thread(
            console.edits.save, data, who=_who(request), origin="api", expect=None
        )
        return _answer(outcome, created=True)

    return await _idempotent(request, raw, work)


@routes.put(f"/communications/{COMM_ID}", name="api_update")
async def update(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    comm_id = request.match_info["id"]
    data, raw = await _body(request)
    expect = str(data.pop("version", "") or request.headers.get("If-Match", "")).strip('"') or None
    data.setdefault("id", comm_id)

    async def work() -> web.Response:
        if console.app.comms.get(comm_id) is None:
            return problem(404, message("comms_unknown", id=comm_id))
        outcome = await asyncio.to_thread(
            console.edits.save,
            data,
            who=_who(request),
            origin="api",
            editing=comm_id,
            expect=expect or console.app.comms.require(comm_id).version,
        )
        return _answer(outcome, created=False)

    return await _idempotent(request, raw, work)


@routes.delete(f"/communications/{COMM_ID}", name="api_cancel")
async def cancel(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    comm_id = request.match_info["id"]
    expect = request.headers.get("If-Match", "").strip('"') or None

    async def work() -> web.Response:
        record = console.app.comms.get(comm_id)
        if record is None:
            return problem(404, message("comms_unknown", id=comm_id))
        if record.status == "cancelled":
            return web.json_response({"action": "unchanged", "communication": described(record)})
        if record.status not in ACTIVE:
            return problem(
                409, message("comms_cannot_cancel", title=record.comm.title, status=record.status)
            )
        cancelled = await asyncio.to_thread(
            console.edits.cancel, comm_id, who=_who(request), expect=expect
        )
        return web.json_response({"action": "cancelled", "communication": described(cancelled)})

    return await _idempotent(request, b"", work)


@routes.get(f"/communications/{COMM_ID}", name="api_read")
async def read(request: web.Request) -> web.StreamResponse:
    console: Console = console_of(request)
    record = console.app.comms.get(request.match_info["id"])
    if record is None:
        return problem(404, message("comms_unknown", id=request.match_info["id"]))
    return web.json_response({"communication": described(record)})
