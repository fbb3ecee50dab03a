"""Read communication files (YAML, or Markdown with YAML front matter) and validate them.

A bad file is refused with the line and the reason of every problem found; a
file that is acceptable but worrying (it does not point customers to their
partner, it reaches no channel) loads with warnings for the admin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.comms.model import DIMENSIONS, Audience, Communication, FAQItem, format_when
from bot.comms.recipients import RecipientList, load_recipients
from bot.comms.routing import Routes
from bot.partners import FILE_NAMES as PARTNERS_FILE_NAMES
from knowledge import bounded_yaml, loaders
from knowledge.documents import LoadFailure
from knowledge.formats import LoadError

COMM_SUFFIXES = (".yml", ".yaml", ".md", ".markdown")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
KNOWN_KEYS = {
    "id",
    "title",
    "sender",
    "audience",
    "channel",
    "send_at",
    "aims",
    "customer_summary",
    "full_text",
    "full_text_url",
    "customer_pointed_to",
    "points_to_partner",
    "talking_points",
    "faq",
    "links",
    "lead_days",
    "recipients",
}


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str
    # The field it is about ("send_at", "audience.regions"; "" for the file as a whole): a
    # form shows the reason beside that field, a file gives the line.
    field: str = ""


@dataclass(frozen=True)
class FileRefused:
    """A file that was not registered, with every problem found (line numbers 1-based)."""

    path: str
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        return "; ".join(f"{self.path}:{p.line}: {p.reason}" for p in self.problems)

    def as_json(self) -> dict[str, Any]:
        return {
            "refused": self.path,
            "problems": [{"line": p.line, "reason": p.reason} for p in self.problems],
        }


@dataclass(frozen=True)
class Loaded:
    path: str
    communication: Communication
    warnings: tuple[str, ...] = field(default=())
    recipients: RecipientList | None = None  # kept apart from the communication


def is_comm_file(path: Path, *, routes_path: Path | None = None) -> bool:
    """Communication files in a folder: YAML/Markdown, not a routes or partners file or a
    README."""
    if path.suffix.lower() not in COMM_SUFFIXES or path.name.startswith(".") or _other_file(path):
        return False
    return not (routes_path is not None and path.resolve() == routes_path.resolve())


def _other_file(path: Path) -> bool:
    """A file the communications folder holds beside the communications."""
    name = path.name.lower()
    return (
        name.startswith("_")
        or path.stem.upper() == "README"
        or name in ("routes.yml", "routes.yaml", *PARTNERS_FILE_NAMES)
    )


def discover(folder: Path, *, routes_path: Path | None = None) -> Iterator[Path | FileRefused]:
    """The communication files in a folder, sorted, and every one skipped on the way
    (hidden, a broken or looping link, a link out of the folder) as refused with why.
    Links are followed only to files inside the folder."""
    for found in loaders.discover(folder, suffixes=COMM_SUFFIXES, what="communications folder"):
        if isinstance(found, LoadFailure):
            if not _other_file(Path(found.path)):
                yield FileRefused(found.path, (Problem(1, found.reason),))
        elif is_comm_file(found, routes_path=routes_path):
            yield found


def read_comm_file(path: Path, rel: str) -> bytes | FileRefused:
    """A communication file's bytes, its size checked before it is read."""
    try:
        return loaders.read_file(path)
    except LoadError as e:
        return FileRefused(rel, (Problem(1, str(e)),))


# -- YAML with line numbers -----------------------------------------------------------------------
def _lines(node: yaml.Node, offset: int) -> dict[str, int]:
    """Line (1-based) of each top-level value and of each audience tag ('audience.regions.0')."""
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        name = str(key.value)
        lines[name] = key.start_mark.line + 1 + offset
        if name == "audience" and isinstance(value, yaml.MappingNode):
            for dim_key, dim_value in value.value:
                dim = str(dim_key.value)
                lines[f"audience.{dim}"] = dim_key.start_mark.line + 1 + offset
                items = dim_value.value if isinstance(dim_value, yaml.SequenceNode) else [dim_value]
                for i, item in enumerate(items):
                    lines[f"audience.{dim}.{i}"] = item.start_mark.line + 1 + offset
        elif isinstance(value, yaml.SequenceNode):
            for i, item in enumerate(value.value):
                lines[f"{name}.{i}"] = item.start_mark.line + 1 + offset
    return lines


def _parse_yaml(text: str, offset: int) -> tuple[Any, dict[str, int]] | Problem:
    try:
        # One bounded parse: the node tree gives line numbers, the same tree gives the data.
        node, data = bounded_yaml.parse(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = (mark.line + 1 if mark else 1) + offset
        reason = " ".join(str(p) for p in (e.context, e.problem) if p) or str(e)
        return Problem(line, f"bad YAML: {reason}")
    except yaml.YAMLError as e:
        return Problem(1 + offset, f"bad YAML: {e}")
    return data, _lines(node, offset) if node is not None else {}


def _split_markdown(text: str) -> tuple[str, int, str] | Problem:
    """(front matter, line offset of its first line minus one, body)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return Problem(1, "a Markdown communication starts with '---' front matter (id, send_at…)")
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "".join(lines[1:i]), 1, "".join(lines[i + 1 :])
    return Problem(1, "the front matter starting with '---' never ends (add a closing '---')")


# -- field conversion -----------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _str_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


def _send_at(value: Any) -> datetime | str:
    """A timezone-aware datetime, or the reason it is not one."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return (
            f"send_at {value.isoformat()} has no time: give a date-time with a UTC offset, "
            f"e.g. {value.isoformat()}T09:00:00+00:00"
        )
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            return (
                f"send_at {value!r} is not an ISO 8601 date-time (e.g. 2027-01-20T09:00:00+11:00)"
            )
    else:
        return f"send_at {value!r} is not a date-time (e.g. 2027-01-20T09:00:00+11:00)"
    if dt.tzinfo is None or dt.utcoffset() is None:
        return (
            f"send_at {dt.isoformat()} has no UTC offset: add one, e.g. "
            f"{dt.isoformat(timespec='minutes')}+00:00"
        )
    return dt


def parse_when(value: str) -> datetime | str:
    """Parse a WHEN given on the command line (same rules as send_at)."""
    return _send_at(value)


def load_communication(
    path: Path,
    *,
    routes: Routes,
    now: datetime,
    rel: str | None = None,
    data: bytes | None = None,
) -> Loaded | FileRefused:
    """Read and validate one communication file (never raises for a bad file)."""
    rel = rel or path.name
    try:
        raw = path.read_bytes() if data is None else data
        text = raw.decode("utf-8-sig")
    except OSError as e:
        return FileRefused(rel, (Problem(1, f"could not be read ({e.strerror})"),))
    except UnicodeDecodeError:
        return FileRefused(rel, (Problem(1, "is not UTF-8 text"),))

    body = ""
    offset = 0
    if path.suffix.lower() in (".md", ".markdown"):
        split = _split_markdown(text)
        if isinstance(split, Problem):
            return FileRefused(rel, (split,))
        text, offset, body = split
    parsed = _parse_yaml(text, offset)
    if isinstance(parsed, Problem):
        return FileRefused(rel, (parsed,))
    meta, lines = parsed
    if not isinstance(meta, dict):
        return FileRefused(
            rel, (Problem(1 + offset, "expected a mapping of fields (id: …, send_at: …)"),)
        )
    return _validate(
        rel, meta, lines, body.strip(), routes=routes, now=now, first=1 + offset, base=path.parent
    )


def load_fields(
    meta: dict[str, Any], *, routes: Routes, now: datetime, rel: str = "form"
) -> Loaded | FileRefused:
    """Validate a communication given as fields (the console's form, the API's JSON body) by
    the rules a file is read by, with the same messages; each problem names its field. A
    recipient list is given inline (there is no folder to hold a CSV beside it)."""
    if isinstance(meta.get("recipients"), str):
        reason = "recipients is a list of customers here (customer_id, customer_name, partner_id)"
        return FileRefused(rel, (Problem(1, reason, "recipients"),))
    return _validate(rel, meta, {}, "", routes=routes, now=now, first=1, base=Path("/nonexistent"))


def _validate(
    rel: str,
    meta: dict[str, Any],
    lines: dict[str, int],
    body: str,
    *,
    routes: Routes,
    now: datetime,
    first: int,
    base: Path,
) -> Loaded | FileRefused:
    problems: list[Problem] = []
    warnings: list[str] = []

    def line(key: str) -> int:
        return lines.get(key, first)

    def at(key: str, reason: str) -> Problem:
        """A problem with the field `key` names ("audience.regions.0" is audience.regions)."""
        return Problem(
            line(key),
            reason,
            ".".join(key.split(".")[:2]) if "audience" in key else key.split(".")[0],
        )

    def require(key: str, what: str) -> str:
        value = _text(meta.get(key))
        if not value:
            problems.append(at(key, f"missing {key} ({what})"))
        return value

    for key in meta:
        if str(key) not in KNOWN_KEYS:
            warnings.append(f"{rel}:{line(str(key))}: unknown field {key!r} ignored")

    comm_id = require("id", "a stable identifier, e.g. smb-licensing-2027")
    if comm_id and not ID_PATTERN.match(comm_id):
        problems.append(
            at(
                "id",
                f"id {comm_id!r} must be lower-case letters, digits, '.', '_' or '-' "
                "(at most 64 characters)",
            )
        )
    title = require("title", "the subject line customers see")
    aims = require("aims", "why it is sent")
    summary = _text(meta.get("customer_summary"))
    full_text = _text(meta.get("full_text")) or body
    if not summary and full_text:
        summary = full_text.split("\n\n", 1)[0].strip()
    if not summary:
        problems.append(
            at("customer_summary", "missing customer_summary (what customers are told)")
        )

    send_at: datetime | None = None
    if meta.get("send_at") in (None, ""):
        problems.append(at("send_at", "missing send_at (e.g. send_at: 2027-01-20T09:00:00+11:00)"))
    else:
        value = _send_at(meta["send_at"])
        if isinstance(value, str):
            problems.append(at("send_at", value))
        elif value <= now:
            problems.append(
                at(
                    "send_at",
                    f"send_at {format_when(value)} is in the past (now {format_when(now, value)})",
                )
            )
        else:
            send_at = value

    audience_raw = meta.get("audience") or {}
    tags: dict[str, tuple[str, ...]] = {}
    if not isinstance(audience_raw, dict):
        problems.append(at("audience", "audience must map regions/segments/products/… to lists"))
    else:
        for dim, values in audience_raw.items():
            dim = str(dim)
            if dim not in DIMENSIONS:
                problems.append(
                    at(
                        f"audience.{dim}",
                        f"unknown audience dimension {dim!r} (use {', '.join(DIMENSIONS)})",
                    )
                )
                continue
            items = _str_list(values)
            if items is None:
                problems.append(at(f"audience.{dim}", f"audience.{dim} must be a list"))
                continue
            tags[dim] = items
            if not routes.exists:
                continue
            for i, tag in enumerate(items):
                if not routes.is_known(dim, tag):
                    known = ", ".join(routes.known(dim)) or "none"
                    problems.append(
                        at(
                            f"audience.{dim}.{i}",
                            f"unknown audience tag {tag!r} in {dim} (known: {known}; "
                            f"add it to the routes file {routes.path} if it is new)",
                        )
                    )

    lead_days: tuple[int, ...] | None = None
    if meta.get("lead_days") not in (None, "", []):
        raw_days = meta["lead_days"]
        if isinstance(raw_days, int) and not isinstance(raw_days, bool):
            raw_days = [raw_days]
        if isinstance(raw_days, str):
            raw_days = [p.strip() for p in raw_days.split(",") if p.strip()]
        try:
            days = tuple(int(d) for d in raw_days)
            if any(d <= 0 or d > 365 for d in days):
                raise ValueError
            lead_days = days
        except (TypeError, ValueError):
            problems.append(
                at(
                    "lead_days",
                    f"lead_days {meta['lead_days']!r} must be whole days between 1 and 365, "
                    "e.g. [14, 3, 1]",
                )
            )

    faq: list[FAQItem] = []
    for i, item in enumerate(meta.get("faq") or []):
        if not isinstance(item, dict) or not _text(item.get("q")) or not _text(item.get("a")):
            problems.append(at(f"faq.{i}", "each faq entry needs q: and a:"))
            continue
        faq.append(FAQItem(_text(item["q"]), _text(item["a"])))

    lists: dict[str, tuple[str, ...]] = {}
    for key in ("talking_points", "links"):
        items = _str_list(meta.get(key))
        if items is None:
            problems.append(at(key, f"{key} must be a list of strings"))
            items = ()
        lists[key] = items

    pointed_to = _text(meta.get("customer_pointed_to"))
    explicit = meta.get("points_to_partner")
    if explicit is not None and not isinstance(explicit, bool):
        problems.append(at("points_to_partner", "points_to_partner must be true/false"))
        explicit = None
    points_to_partner = (
        bool(explicit) if explicit is not None else "partner" in pointed_to.casefold()
    )

    recipients: RecipientList | None = None
    if meta.get("recipients") not in (None, "", []):
        listed = load_recipients(
            meta["recipients"], base=base, line_of=lambda i: line(f"recipients.{i}")
        )
        if isinstance(listed, RecipientList):
            recipients = listed
            warnings.extend(f"{rel}: {w}" for w in listed.warnings)
        else:
            problems.extend(at("recipients", reason) for reason in listed)

    if problems or send_at is None:
        return FileRefused(rel, tuple(sorted(problems, key=lambda p: p.line)))

    comm = Communication(
        id=comm_id,
        title=title,
        sender=_text(meta.get("sender")) or "The vendor",
        send_at=send_at,
        audience=Audience(**tags),
        channel=_text(meta.get("channel")) or "email",
        aims=aims,
        customer_summary=summary,
        full_text=full_text if full_text != summary else "",
        full_text_url=_text(meta.get("full_text_url")) or None,
        customer_pointed_to=pointed_to,
        points_to_partner=points_to_partner,
        talking_points=lists["talking_points"],
        faq=tuple(faq),
        links=lists["links"],
        lead_days=lead_days,
        recipients_file=recipients.source if recipients else None,
        recipients_digest=recipients.digest if recipients else None,
    )
    if not points_to_partner:
        where = f"customers are pointed to: {pointed_to}" if pointed_to else "it names no contact"
        warnings.append(
            f"{rel}:{line('customer_pointed_to')}: “{title}” does not point customers to their "
            f"partner ({where}). It is registered anyway; partners asked to be named as the "
            "source of more information."
        )
    if not routes.exists:
        warnings.append(
            f"no routes file at {routes.path}: audience tags were not checked and the "
            "communication reaches no partner channel (see PARTNERBOT_COMMS_ROUTES)"
        )
    elif not routes.channels_for(comm):
        warnings.append(f"{rel}: no route matches this audience, so no partner channel is told")
    return Loaded(rel, comm, tuple(warnings), recipients)
