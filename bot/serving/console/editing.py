"""Communications changed in the console or through the API: the same fields as a file, read
by the same validation (bot/comms/loading.py `load_fields`), registered by the same
registry (routing, outbox), each change audited (who, when, before → after).

Where the truth lives: the state store. A file's communication changed here is marked as
changed outside its file (the registry then refuses the file over it); a change based on
a version that has changed since is refused (`EditConflict`), never applied over it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.comms.loading import FileRefused, load_fields
from bot.comms.model import DIMENSIONS, Communication, Record
from bot.comms.registry import ACTIVE, Communications, RegisterResult
from bot.prompts import message
from bot.store import ConsoleRepository

logger = logging.getLogger(__name__)

TEXT_FIELDS = (
    "id",
    "title",
    "sender",
    "channel",
    "send_at",
    "aims",
    "customer_summary",
    "full_text",
    "full_text_url",
    "customer_pointed_to",
)
LINE_LISTS = ("talking_points", "links")


@dataclass
class Outcome:
    """What a save did, or the problems by field (the same messages a file gets)."""

    result: RegisterResult | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result is not None


def meta_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """A form's fields as a communication file's fields (lists one per line or by commas)."""
    meta: dict[str, Any] = {k: form.get(k, "").strip() for k in TEXT_FIELDS if form.get(k)}
    for key in LINE_LISTS:
        lines = [line.strip() for line in form.get(key, "").splitlines() if line.strip()]
        if lines:
            meta[key] = lines
    audience = {
        dim: [t.strip() for t in form.get(f"audience.{dim}", "").split(",") if t.strip()]
        for dim in DIMENSIONS
    }
    if any(audience.values()):
        meta["audience"] = {d: tags for d, tags in audience.items() if tags}
    if form.get("lead_days", "").strip():
        meta["lead_days"] = form["lead_days"].strip()
    pointed = form.get("points_to_partner", "")
    if pointed in ("yes", "no"):
        meta["points_to_partner"] = pointed == "yes"
    faq = _faq(form.get("faq", ""))
    if faq:
        meta["faq"] = faq
    return meta


def _faq(text: str) -> list[dict[str, str]]:
    """'Q: …' and 'A: …' lines as FAQ entries (an entry missing either is left for the
    validator to name)."""
    entries: list[dict[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line[:2].upper() == "Q:":
            entries.append({"q": line[2:].strip(), "a": ""})
        elif line[:2].upper() == "A:" and entries:
            entries[-1]["a"] = (entries[-1]["a"] + " " + line[2:].strip()).strip()
        elif line and entries:
            key = "a" if entries[-1]["a"] else "q"
            entries[-1][key] = (entries[-1][key] + " " + line).strip()
    return entries


def form_from_comm(comm: Communication) -> dict[str, str]:
    """A registered communication as the form's fields."""
    values = {k: str(getattr(comm, k) or "") for k in TEXT_FIELDS}
    values["send_at"] = comm.send_at.isoformat()
    for key in LINE_LISTS:
        values[key] = "\n".join(getattr(comm, key))
    for dim in DIMENSIONS:
        values[f"audience.{dim}"] = ", ".join(comm.audience.tags(dim))
    values["lead_days"] = ", ".join(str(d) for d in comm.lead_days or ())
    values["points_to_partner"] = "yes" if comm.points_to_partner else "no"
    values["faq"] = "\n".join(f"Q: {f.q}\nA: {f.a}" for f in comm.faq)
    return values


def file_data(comm: Communication) -> dict[str, Any]:
    """A registered communication as a communication file says it (the console's download,
    to bring a file up to date with the console's version)."""
    data: dict[str, Any] = {k: getattr(comm, k) for k in TEXT_FIELDS if getattr(comm, k)}
    data["send_at"] = comm.send_at.isoformat()
    data["audience"] = {d: list(comm.audience.tags(d)) for d in DIMENSIONS if comm.audience.tags(d)}
    for key in LINE_LISTS:
        if getattr(comm, key):
            data[key] = list(getattr(comm, key))
    if comm.faq:
        data["faq"] = [{"q": f.q, "a": f.a} for f in comm.faq]
    if comm.lead_days:
        data["lead_days"] = list(comm.lead_days)
    data["points_to_partner"] = comm.points_to_partner
    return data


def snapshot(record: Record | None) -> str:
    """What the audit trail keeps of a communication: its fields and status (JSON)."""
    if record is None:
        return ""
    return json.dumps(
        {"status": record.status, **file_data(record.comm)}, sort_keys=True, default=str
    )


class ConsoleEdits:
    """Create, edit, reschedule and cancel communications for a person or an integration."""

    def __init__(
        self, *, comms: Communications, repo: ConsoleRepository, now: Callable[[], datetime]
    ) -> None:
        self.comms = comms
        self.repo = repo
        self.now = now

    def audit(self, who: str, action: str, subject: str, before: str, after: str) -> None:
        self.repo.audit(
            who=who, action=action, subject=subject, before=before, after=after, now=self.now()
        )

    def save(
        self,
        meta: dict[str, Any],
        *,
        who: str,
        origin: str,
        editing: str | None = None,
        expect: str | None = None,
    ) -> Outcome:
        """Register a new communication (`editing` None) or a new version of one. `origin`:
        "console" or "api" (where a communication made here is said to come from)."""
        loaded = load_fields(meta, routes=self.comms.routes, now=self.comms.now(), rel=origin)
        if isinstance(loaded, FileRefused):
            return Outcome(problems=by_field(loaded))
        comm = loaded.communication
        before = self.comms.get(comm.id)
        if editing is not None and comm.id != editing:
            return Outcome(problems={"id": [message("console_id_cannot_change", id=editing)]})
        if editing is None and before is not None and before.status in ACTIVE:
            other = before.source if before.from_file else message("comms_the_console")
            return Outcome(problems={"id": [message("comms_id_taken", id=comm.id, other=other)]})
        result = self.comms.register(
            comm,
            source=before.source if before is not None and before.source else origin,
            file_hash=before.file_hash if before is not None else None,
            warnings=loaded.warnings,
            who=who,
            recipients=loaded.recipients,
            expect=expect if editing is not None else (expect or before_version(before)),
            outside_file=True,
        )
        self.comms.refresh_index()
        if result.action != "unchanged":
            self.audit(who, result.action, comm.id, snapshot(before), snapshot(result.record))
        return Outcome(result=result)

    def reschedule(self, comm_id: str, when: str, *, who: str, expect: str | None) -> Record:
        before = self.comms.require(comm_id)
        self.comms.reschedule(comm_id, when, who=who, expect=expect, outside_file=True)
        after = self.comms.require(comm_id)
        self.audit(who, "rescheduled", comm_id, snapshot(before), snapshot(after))
        return after

    def cancel(self, comm_id: str, *, who: str, expect: str | None) -> Record:
        before = self.comms.require(comm_id)
        record, _ = self.comms.cancel(comm_id, who=who, expect=expect, outside_file=True)
        self.audit(who, "cancelled", comm_id, snapshot(before), snapshot(record))
        return record


def before_version(before: Record | None) -> str:
    """A new communication expects none to exist (or one cancelled or sent before, revived)."""
    return "new" if before is None else before.version


def by_field(refused: FileRefused) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for p in refused.problems:
        problems.setdefault(p.field or "form", []).append(p.reason)
    return problems
