"""A communication's recipient list: the customers who get it, each with its partner of record.

Given in the communication file, either as a CSV beside it

    recipients: recipients.csv

whose header names `customer_id`, `customer_name` and `partner_id` (other columns are
ignored and never stored), or inline:

    recipients:
      - {customer_id: C-1001, customer_name: Bondi Bakery, partner_id: harbour-it}

A blank `partner_id` means the partner of record is not known. The list is bounded
(rows, bytes, characters per value) and checked line by line; a bad list refuses the
communication file, naming the list's line and the reason.

The list never becomes part of the communication (its JSON, its index document, the
outbox or the logs hold a digest and counts only); the state store keeps it until the
send date plus PARTNERBOT_RECIPIENTS_RETENTION_DAYS.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.partners import Partners
from bot.store.types import Recipient

INLINE = "inline"
COLUMNS = ("customer_id", "customer_name", "partner_id")
MAX_RECIPIENTS = 100_000
MAX_BYTES = 20_000_000
MAX_VALUE = 200  # characters in one id or name
MAX_PROBLEMS = 20  # problems listed before "… and N more"


@dataclass(frozen=True)
class RecipientList:
    """A validated recipient list and where it came from (a CSV's name, or "inline")."""

    source: str
    recipients: tuple[Recipient, ...]
    warnings: tuple[str, ...] = ()

    @cached_property
    def digest(self) -> str:
        """Changes when any customer, name or partner of record changes (not the order)."""
        rows = sorted((r.customer_id, r.customer_name, r.partner_id) for r in self.recipients)
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()

    def counts(self) -> dict[str, int]:
        """Customers per partner of record ('' for the ones without)."""
        return dict(Counter(r.partner_id for r in self.recipients))


@dataclass(frozen=True)
class Split:
    """Customers by partner, as the admin sees it: partners in the partners file, and the
    customers whose partner of record is blank or not in the file (counted, not dropped)."""

    partners: dict[str, int] = field(default_factory=dict)  # partner id → customers
    blank: int = 0
    unlisted: dict[str, int] = field(default_factory=dict)  # id not in the partners file

    @property
    def unknown(self) -> int:
        return self.blank + sum(self.unlisted.values())

    @property
    def total(self) -> int:
        return sum(self.partners.values()) + self.unknown


def split(counts: Mapping[str, int], partners: Partners) -> Split:
    """Customer counts per partner of record, against the partners file."""
    known: dict[str, int] = {}
    unlisted: dict[str, int] = {}
    for partner_id, n in sorted(counts.items()):
        if partner_id and partners.get(partner_id) is not None:
            known[partner_id] = n
        elif partner_id:
            unlisted[partner_id] = n
    return Split(known, counts.get("", 0), unlisted)


# -- loading ---------------------------------------------------------------------------------------
def load_recipients(
    value: Any, *, base: Path, line_of: Callable[[int], int]
) -> RecipientList | list[str]:
    """The list a communication file's `recipients:` gives, or the reasons it is refused.
    `base`: the communication file's folder (a CSV must be inside it); `line_of(i)`: the
    file line of the i-th inline entry."""
    if isinstance(value, str):
        return _load_csv(value.strip(), base)
    if isinstance(value, list):
        rows = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                return [f"line {line_of(i)}: each recipient is a mapping ({', '.join(COLUMNS)})"]
            rows.append((line_of(i), {str(k).strip().lower(): v for k, v in item.items()}))
        return _validate(INLINE, rows, at=lambda line: f"line {line}")
    return ["recipients is a CSV file name beside this file, or a list of customers"]


def _load_csv(name: str, base: Path) -> RecipientList | list[str]:
    path = base / name
    if not name.lower().endswith(".csv"):
        return [f"recipients {name!r} is not a .csv file"]
    try:
        resolved, root = path.resolve(strict=True), base.resolve()
    except (OSError, RuntimeError):
        return [f"recipients file {name} does not exist beside the communication file"]
    if not resolved.is_relative_to(root):
        return [f"recipients file {name} is outside the communication's folder; refused"]
    if not resolved.is_file():
        return [f"recipients file {name} is not a regular file"]
    try:
        size = resolved.stat().st_size
        if size > MAX_BYTES:
            return [f"{name} is {size:,} bytes; a recipient list is at most {MAX_BYTES:,}"]
        text = resolved.read_bytes().decode("utf-8-sig")
    except OSError as e:
        return [f"{name} cannot be read ({e.strerror})"]
    except UnicodeDecodeError:
        return [f"{name} is not UTF-8 text"]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            return [
                f"{name}:1: the header must name {', '.join(COLUMNS)} (missing: "
                f"{', '.join(missing)})"
            ]
        rows = []
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((reader.line_num, dict(zip(header, row, strict=False))))
            if len(rows) > MAX_RECIPIENTS:
                break
    except csv.Error as e:
        return [f"{name}:{reader.line_num}: not valid CSV ({e})"]
    ignored = [h for h in header if h and h not in COLUMNS]
    result = _validate(name, rows, at=lambda line: f"{name}:{line}")
    if ignored and isinstance(result, RecipientList):
        note = f"{name}: column(s) {', '.join(ignored)} ignored (not stored)"
        result = RecipientList(result.source, result.recipients, (*result.warnings, note))
    return result


def _cell(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if len(text) <= MAX_VALUE and "\n" not in text else None


def _validate(
    source: str, rows: Iterable[tuple[int, Mapping[str, Any]]], *, at: Callable[[int], str]
) -> RecipientList | list[str]:
    """Rows checked: an id each, values short, one partner of record per customer."""
    problems: list[str] = []
    seen: dict[str, tuple[int, Recipient]] = {}
    repeats = 0
    for count, (line, row) in enumerate(rows, start=1):
        where = at(line)
        if count > MAX_RECIPIENTS:
            problems.append(f"more than {MAX_RECIPIENTS:,} recipients; split the communication")
            break
        values = {c: _cell(row.get(c)) for c in COLUMNS}
        if any(v is None for v in values.values()):
            bad = next(c for c, v in values.items() if v is None)
            problems.append(f"{where}: {bad} must be one line of at most {MAX_VALUE} characters")
            continue
        customer_id, name, partner_id = (str(values[c]) for c in COLUMNS)
        if not customer_id:
            problems.append(f"{where}: customer_id is empty")
            continue
        recipient = Recipient(customer_id, name, partner_id.lower())
        if customer_id in seen:
            first_line, first = seen[customer_id]
            if first.partner_id != recipient.partner_id:
                before, now = first.partner_id or "(none)", recipient.partner_id or "(none)"
                problems.append(
                    f"{where}: customer {customer_id} is listed at {at(first_line)} for partner "
                    f"{before} and here for {now}: a customer has one partner of record"
                )
            repeats += 1
            continue
        seen[customer_id] = (line, recipient)
    if problems:
        more = len(problems) - MAX_PROBLEMS
        return problems[:MAX_PROBLEMS] + ([f"… and {more} more"] if more > 0 else [])
    warnings = (f"{source}: {repeats} repeated customer row(s) ignored",) if repeats else ()
    return RecipientList(source, tuple(r for _, r in seen.values()), warnings)


def source_hash(path: Path, data: bytes, recipients: str | None) -> str:
    """The content hash of a communication file together with the recipient list it names,
    so editing only the CSV beside it is a change too."""
    digest = hashlib.sha256(data)
    if recipients and recipients != INLINE:
        try:
            digest.update(b"\0" + (path.parent / recipients).read_bytes())
        except OSError:
            digest.update(b"\0(missing)")
    return digest.hexdigest()
