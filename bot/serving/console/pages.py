"""The console's pages: sign-in, communications (list, page, form, reschedule, cancel),
knowledge gaps, program changes and the digest, the index, the audit trail, people and API
tokens. Server-rendered from templates/ (autoescaped), plain forms, no script."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import timedelta
from typing import Any

import yaml
from aiohttp import web

from bot.comms.keys import TELLING_KINDS
from bot.comms.model import format_when
from bot.comms.notices import render_notice
from bot.comms.registry import ACTIVE, EditConflict
from bot.errors import UserError
from bot.prompts import message
from bot.serving.console import gaps as gap_report
from bot.serving.console.auth import LOGIN_COOKIE, SESSION_COOKIE, SignInRefused, normal_email
from bot.serving.console.editing import file_data, form_from_comm, meta_from_form
from bot.serving.console.oidc import IdentityRefused
from bot.serving.console.web import (
    COMM_ID,
    CONSOLE_PATH,
    ROLE_OF,
    Console,
    check_csrf,
    console_of,
    safe_next,
    signed_in,
)
from bot.store import ROLES, CommCounts

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
PAGE_SIZE = 50
STATIC = __file__.rsplit("/", 1)[0] + "/static"


def needs(role: str, *names: str) -> None:
    for name in names:
        ROLE_OF[name] = role


needs("editor", "comm_new_post", "comm_edit_post", "comm_reschedule", "comm_cancel_post")
needs("editor", "comm_new", "comm_edit", "comm_cancel", "gap_mark")
needs("admin", "reindex", "users", "users_post", "user_disable", "tokens", "tokens_post")
needs("admin", "token_revoke", "digest_post")


def add_routes(site: web.Application) -> None:
    site.add_routes(routes)
    site.router.add_static("/static", STATIC, name="static")


def _cookie(
    console: Console, response: web.StreamResponse, name: str, value: str, **kw: Any
) -> None:
    response.set_cookie(
        name,
        value,
        path=console.root,
        secure=True,
        httponly=True,
        samesite="Lax",
        **kw,
    )


async def _form(request: web.Request) -> dict[str, str]:
    """A form's text fields; one holding a NUL character (never typed, never storable) is
    refused."""
    data = await request.post()
    form = {k: str(v) for k, v in data.items() if isinstance(v, str)}
    if any("\x00" in k or "\x00" in v for k, v in form.items()):
        raise UserError(message("console_not_text"))
    return form


# -- sign-in ------------------------------------------------------------------------------------
@routes.get("/login", name="login")
async def login(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    bound = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = console.page(
        request,
        "login.html",
        csrf=console.auth.csrf_token(bound),
        next=request.query.get("next", ""),
        oidc=console.oidc is not None,
        error=request.query.get("error", ""),
    )
    _cookie(console, response, LOGIN_COOKIE, bound, max_age=3600)
    return response


@routes.post("/login", name="login_post")
async def login_post(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    await check_csrf(request, console, request.cookies.get(LOGIN_COOKIE))
    form = await _form(request)
    address = request.remote or "unknown"
    try:
        user = await asyncio.to_thread(
            console.auth.sign_in, form.get("email", ""), form.get("password", ""), address=address
        )
    except SignInRefused as e:
        bound = request.cookies.get(LOGIN_COOKIE, "")
        status = 429 if e.retry_after else 401
        response = console.page(
            request,
            "login.html",
            status=status,
            csrf=console.auth.csrf_token(bound),
            next=form.get("next", ""),
            oidc=console.oidc is not None,
            error=str(e),
            email=form.get("email", ""),
        )
        if e.retry_after:
            response.headers["Retry-After"] = str(e.retry_after)
        return response
    return _signed_in(console, user, "password", form.get("next"))


def _signed_in(console: Console, user: Any, via: str, target: str | None) -> web.StreamResponse:
    cookie = console.auth.start_session(user, via=via)
    response = web.HTTPSeeOther(safe_next(console, target))
    _cookie(console, response, SESSION_COOKIE, cookie, max_age=console.auth.session_seconds)
    response.del_cookie(LOGIN_COOKIE, path=console.root)
    return response


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    console.auth.end_session(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPSeeOther(f"{console.root}/login")
    response.del_cookie(SESSION_COOKIE, path=console.root)
    return response


@routes.get("/oidc/start", name="oidc_start")
async def oidc_start(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    if console.oidc is None:
        raise web.HTTPNotFound(text=message("console_no_oidc"))
    redirect_uri = f"{console.base_url(request)}{CONSOLE_PATH}/oidc/callback"
    url, kept = await console.oidc.start(redirect_uri)
    kept["next"] = request.query.get("next", "")
    response = web.HTTPSeeOther(url)
    _cookie(console, response, "pb_console_oidc", console.auth.sign_state(kept), max_age=600)
    return response


@routes.get("/oidc/callback", name="oidc_callback")
async def oidc_callback(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    kept = console.auth.read_state(request.cookies.get("pb_console_oidc"))
    if console.oidc is None or kept is None or "code" not in request.query:
        raise web.HTTPBadRequest(text=message("console_oidc_failed", reason="no sign-in under way"))
    try:
        identity = await console.oidc.finish(
            code=request.query["code"], state=request.query.get("state", ""), kept=kept
        )
        user = console.auth.user_for_identity(identity.email)
    except IdentityRefused as e:
        logger.warning("console: identity provider sign-in refused: %s", e)
        raise web.HTTPForbidden(text=message("console_oidc_failed", reason=str(e))) from None
    except SignInRefused as e:
        raise web.HTTPForbidden(text=str(e)) from None
    response = _signed_in(console, user, "oidc", kept.get("next"))
    response.del_cookie("pb_console_oidc", path=console.root)
    return response


# -- communications -------------------------------------------------------------------------------
@routes.get("/", name="home")
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{console_of(request).root}/comms")


def _int(value: str | None, default: int) -> int:
    try:
        return max(0, int(value or default))
    except ValueError:
        return default


@routes.get("/comms", name="comms")
async def comms_list(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    comms = console.app.comms
    show = request.query.get("show", "current")
    if show not in ("current", "upcoming", "all"):
        show = "current"
    page = _int(request.query.get("page"), 1) or 1
    now = comms.now()
    since = {
        "current": now - timedelta(days=comms.settings.recent_days),
        "upcoming": now,
        "all": None,
    }[show]

    def load() -> tuple[list[Any], int, dict[str, CommCounts]]:
        comms.mark_sent()
        rows, total = console.app.store.comms.page(
            since=since,
            statuses=list(ACTIVE) if show == "upcoming" else None,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        counts = console.app.store.comms.counts([r.id for r in rows], telling=TELLING_KINDS)
        return rows, total, counts

    rows, total, counts = await asyncio.to_thread(load)
    months: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        months.setdefault(f"{row.send_at:%B %Y}", []).append(
            {
                "id": row.id,
                "title": row.title,
                "when": format_when(row.send_at),
                "day": f"{row.send_at:%a %d}",
                "status": row.status,
                "counts": counts.get(row.id, CommCounts()),
                "edited_by": row.edited_by,
            }
        )
    pages = max(1, -(-total // PAGE_SIZE))
    return console.page(
        request, "comms.html", months=months, total=total, show=show, page=page, pages=pages
    )


def _record_or_404(console: Console, comm_id: str) -> Any:
    record = console.app.comms.get(comm_id)
    if record is None:
        raise web.HTTPNotFound(text=message("comms_unknown", id=comm_id))
    return record


@routes.get(f"/comms/{COMM_ID}", name="comm")
async def comm_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    comm_id = request.match_info["id"]
    data = await asyncio.to_thread(_comm_view, console, comm_id)
    return console.page(request, "comm.html", **data)


def _comm_view(console: Console, comm_id: str) -> dict[str, Any]:
    app = console.app
    comms = app.comms
    status = comms.reports.status(comm_id)
    record = status.record
    preview = comms.reports.preview(comm_id)
    now = comms.now()
    retained = status.recipients is not None and not status.recipients.deleted
    customers = {
        p.partner_id: app.store.recipients.for_partner(comm_id, p.partner_id)
        for p in status.partners
        if retained
    }
    example = render_notice(
        comm=record.comm,
        kind="first",
        key=f"preview:{record.id}",
        now=now,
        button_value="comm:0",
    )
    platforms = sorted({r.platform for r in preview.rows} | set(app.registry.names))
    previews = [p for p in app.registry.previews(example, platforms) if p.platform != "memory"]
    audit = app.store.console.audit_trail(subject=comm_id, limit=50)
    return {
        "record": record,
        "comm": record.comm,
        "report": status,
        "preview": preview,
        "customers": customers,
        "retained": retained,
        "previews": previews,
        "history": comms.history(comm_id),
        "audit": audit,
        "active": record.status in ACTIVE and record.comm.send_at_utc > now,
        "fmt": format_when,
    }


@routes.get(f"/comms/{COMM_ID}/file", name="comm_file")
async def comm_file(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    record = _record_or_404(console, request.match_info["id"])
    text = yaml.safe_dump(file_data(record.comm), sort_keys=False, allow_unicode=True)
    return web.Response(
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{record.id}.yml"'},
    )


def _form_page(
    request: web.Request,
    values: dict[str, str],
    problems: dict[str, list[str]],
    *,
    editing: str | None,
    version: str,
    status: int = 200,
) -> web.Response:
    console = console_of(request)
    routes_file = console.app.comms.routes
    known = {d: sorted(t) for d, t in routes_file.known_tags.items()} if routes_file.exists else {}
    return console.page(
        request,
        "comm_form.html",
        status=status,
        values=values,
        problems=problems,
        editing=editing,
        version=version,
        known=known,
    )


@routes.get("/comms-new", name="comm_new")
async def comm_new(request: web.Request) -> web.StreamResponse:
    return _form_page(request, {"points_to_partner": "yes"}, {}, editing=None, version="new")


@routes.post("/comms-new", name="comm_new_post")
async def comm_new_post(request: web.Request) -> web.StreamResponse:
    return await _save(request, editing=None)


@routes.get(f"/comms/{COMM_ID}/edit", name="comm_edit")
async def comm_edit(request: web.Request) -> web.StreamResponse:
    record = _record_or_404(console_of(request), request.match_info["id"])
    values = form_from_comm(record.comm)
    return _form_page(request, values, {}, editing=record.id, version=record.version)


@routes.post(f"/comms/{COMM_ID}/edit", name="comm_edit_post")
async def comm_edit_post(request: web.Request) -> web.StreamResponse:
    return await _save(request, editing=request.match_info["id"])


async def _save(request: web.Request, *, editing: str | None) -> web.StreamResponse:
    console = console_of(request)
    form = await _form(request)
    who = signed_in(request).who
    version = form.get("version", "new")
    try:
        outcome = await asyncio.to_thread(
            console.edits.save,
            meta_from_form(form),
            who=who,
            origin="console",
            editing=editing,
            expect=version,
        )
    except EditConflict as e:
        outcome = None
        problems = {"form": [str(e)]}
    except UserError as e:
        outcome = None
        problems = {"form": [str(e)]}
    if outcome is not None and outcome.ok and outcome.result is not None:
        raise web.HTTPSeeOther(
            f"{console.root}/comms/{outcome.result.record.id}?done={outcome.result.action}"
        )
    if outcome is not None:
        problems = outcome.problems
    return _form_page(request, form, problems, editing=editing, version=version, status=422)


@routes.post(f"/comms/{COMM_ID}/reschedule", name="comm_reschedule")
async def comm_reschedule(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    comm_id = request.match_info["id"]
    form = await _form(request)
    await asyncio.to_thread(
        console.edits.reschedule,
        comm_id,
        form.get("send_at", "").strip(),
        who=signed_in(request).who,
        expect=form.get("version") or None,
    )
    raise web.HTTPSeeOther(f"{console.root}/comms/{comm_id}?done=rescheduled")


@routes.get(f"/comms/{COMM_ID}/cancel", name="comm_cancel")
async def comm_cancel(request: web.Request) -> web.StreamResponse:
    """The confirmation: who will be told of the cancellation (those already told)."""
    console = console_of(request)
    comm_id = request.match_info["id"]
    status = await asyncio.to_thread(console.app.comms.reports.status, comm_id)
    channels = [c for c in status.channels if c.told_at is not None]
    partners = [p for p in status.partners if p.told_at is not None]
    return console.page(
        request,
        "comm_cancel.html",
        record=status.record,
        channels=channels,
        partners=partners,
    )


@routes.post(f"/comms/{COMM_ID}/cancel", name="comm_cancel_post")
async def comm_cancel_post(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    comm_id = request.match_info["id"]
    form = await _form(request)
    await asyncio.to_thread(
        console.edits.cancel,
        comm_id,
        who=signed_in(request).who,
        expect=form.get("version") or None,
    )
    raise web.HTTPSeeOther(f"{console.root}/comms/{comm_id}?done=cancelled")


# -- knowledge gaps -------------------------------------------------------------------------------
def _gaps(request: web.Request) -> tuple[gap_report.Filters, gap_report.GapReportView]:
    console = console_of(request)
    q = request.query
    days = min(_int(q.get("days"), 90) or 90, 3650)
    filters = gap_report.Filters(
        q.get("platform", ""), q.get("partner", ""), q.get("tier", ""), days
    )
    since = (console.clock() - timedelta(days=days)).isoformat(timespec="seconds")
    asked = console.app.store.interactions.unanswered(since=since)
    marks = console.app.store.gap_marks.all()
    return filters, gap_report.build(asked, marks, filters, today=console.clock().date())


@routes.get("/gaps", name="gaps")
async def gaps_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    filters, view = await asyncio.to_thread(_gaps, request)
    documents = [d["path"] for d in console.app.core.index.documents()]
    top = max([a + d for _, a, d in view.weeks] or [1]) or 1
    return console.page(
        request,
        "gaps.html",
        filters=filters,
        view=view,
        documents=documents,
        top=top,
        query=request.query_string,
    )


@routes.get("/gaps.csv", name="gaps_csv")
async def gaps_csv(request: web.Request) -> web.StreamResponse:
    _, view = await asyncio.to_thread(_gaps, request)
    return web.Response(
        text=gap_report.as_csv(view),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="knowledge-gaps.csv"'},
    )


@routes.post("/gaps/mark", name="gap_mark")
async def gap_mark(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await _form(request)
    key = gap_report.question_key(form.get("question", ""))
    doc = form.get("doc_path", "").strip()
    if not key:
        raise UserError(message("console_gap_needs_question"))
    who = signed_in(request).who
    marks = console.app.store.gap_marks
    if doc:
        marks.mark(key, doc_path=doc, who=who, now=console.clock())
        console.edits.audit(who, "gap answered", key, "", json.dumps({"document": doc}))
    elif marks.unmark(key):
        console.edits.audit(who, "gap reopened", key, "", "")
    raise web.HTTPSeeOther(f"{console.root}/gaps?done=marked")


# -- program changes and the index ---------------------------------------------------------------
@routes.get("/changes", name="changes")
async def changes_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    changes = console.app.changes

    def load() -> dict[str, Any]:
        records = changes.records.list(limit=200)
        pending = changes.select()
        reach = changes.reach(pending) if pending and changes.settings.channels else []
        return {"records": list(reversed(records)), "pending": pending, "reach": reach}

    data = await asyncio.to_thread(load)
    return console.page(request, "changes.html", channels=list(changes.settings.channels), **data)


@routes.post("/changes/digest", name="digest_post")
async def digest_post(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    result = await asyncio.to_thread(console.app.changes.publish)
    who = signed_in(request).who
    console.edits.audit(
        who,
        "digest posted",
        "program changes",
        "",
        json.dumps(
            {"posted": [c for c, _ in result.posted], "failed": [c for c, _ in result.failed]}
        ),
    )
    return console.page(
        request, "done.html", title=message("console_digest_title"), text=result.summary()
    )


@routes.get("/index", name="index")
async def index_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)

    def load() -> dict[str, Any]:
        index = console.app.core.index
        return {
            "generation": index.generation(),
            "documents": index.documents(),
            "runs": console.app.store.index_runs.recent(10),
            "folder": str(console.app.settings.documents_dir),
        }

    return console.page(request, "index.html", **(await asyncio.to_thread(load)))


@routes.post("/index/reindex", name="reindex")
async def reindex(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    if console.lock.locked():
        raise UserError(message("console_reindex_running"))
    async with console.lock:
        report = await asyncio.to_thread(console.app.core.reindex)
    who = signed_in(request).who
    console.edits.audit(who, "re-indexed", "index", "", json.dumps(report.counts()))
    raise web.HTTPSeeOther(f"{console.root}/index?done=reindexed")


# -- audit, people, tokens -----------------------------------------------------------------------
@routes.get("/audit", name="audit")
async def audit_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    before = _int(request.query.get("before"), 0) or None
    entries = await asyncio.to_thread(
        console.app.store.console.audit_trail, limit=100, before_id=before
    )
    shown = [{"entry": e, "changes": _changes(e.before, e.after)} for e in entries]
    return console.page(request, "audit.html", entries=shown)


def _changes(before: str, after: str) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field that differs."""
    try:
        old = json.loads(before) if before else {}
        new = json.loads(after) if after else {}
    except ValueError:
        return [("", before, after)]
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [("", before, after)]
    keys = sorted(set(old) | set(new))
    show = lambda v: "" if v is None else (v if isinstance(v, str) else json.dumps(v))  # noqa: E731
    return [(k, show(old.get(k)), show(new.get(k))) for k in keys if old.get(k) != new.get(k)]


@routes.get("/users", name="users")
async def users_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    return console.page(request, "users.html", users=console.app.store.console.users(), roles=ROLES)


@routes.post("/users", name="users_post")
async def users_post(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await _form(request)
    email, role = normal_email(form.get("email", "")), form.get("role", "")
    before = console.app.store.console.user(email)
    await asyncio.to_thread(
        console.auth.add_user,
        email,
        role=role,
        name=form.get("name", ""),
        password=form.get("password") or None,
    )
    console.edits.audit(
        signed_in(request).who,
        "user added" if before is None else "user changed",
        email,
        json.dumps({"role": before.role}) if before else "",
        json.dumps({"role": role}),
    )
    raise web.HTTPSeeOther(f"{console.root}/users?done=saved")


@routes.post("/users/disable", name="user_disable")
async def user_disable(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    email = normal_email((await _form(request)).get("email", ""))
    if console.app.store.console.disable_user(email, now=console.clock()):
        console.edits.audit(signed_in(request).who, "user disabled", email, "", "")
    raise web.HTTPSeeOther(f"{console.root}/users?done=disabled")


@routes.get("/tokens", name="tokens")
async def tokens_page(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    return console.page(request, "tokens.html", tokens=console.app.store.console.tokens(), new=None)


@routes.post("/tokens", name="tokens_post")
async def tokens_post(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await _form(request)
    who = signed_in(request).who
    token, plain = console.auth.new_token(form.get("name", ""), who=who)
    console.edits.audit(
        who, "token created", f"token {token.id}", "", json.dumps({"name": token.name})
    )
    return console.page(
        request, "tokens.html", tokens=console.app.store.console.tokens(), new=(token, plain)
    )


@routes.post("/tokens/{id:\\d{1,12}}/revoke", name="token_revoke")
async def token_revoke(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    token_id = _int(request.match_info["id"], 0)
    who = signed_in(request).who
    if console.app.store.console.revoke_token(token_id, who=who, now=console.clock()):
        console.edits.audit(who, "token revoked", f"token {token_id}", "", "")
    raise web.HTTPSeeOther(f"{console.root}/tokens?done=revoked")
