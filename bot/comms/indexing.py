"""Communications in the knowledge index, so ordinary questions find and cite them.

Each upcoming or recently sent communication is one Document (source "comms"); the
registry refreshes them after every change and the dispatcher after every tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.comms.model import Communication, Record, format_when
from knowledge.documents import Document, Section

if TYPE_CHECKING:
    from knowledge.index import SyncReport

logger = logging.getLogger(__name__)

# The knowledge side, as the feature needs it: keep these documents indexed (source "comms").
IndexDocuments = Callable[[list[Document]], "SyncReport"]


class IndexedCommunications:
    """Keeps the index's "comms" documents equal to the communications it should hold."""

    def __init__(
        self, *, index_documents: IndexDocuments | None, records: Callable[[], list[Record]]
    ) -> None:
        self._index_documents = index_documents
        self._records = records  # upcoming and recently sent ones, none cancelled

    def refresh(self) -> None:
        """Index upcoming and recent communications; drop the others. A failure is logged
        (questions may miss them until the next refresh), never raised."""
        if self._index_documents is None:
            return
        try:
            docs = [communication_document(r.comm, r.status) for r in self._records()]
            report = self._index_documents(docs)
        except Exception:
            logger.exception("indexing communications failed; questions may miss them")
            return
        if report.added or report.updated or report.removed:
            logger.info("communications index: %s", report.counts())


def article(word: str) -> str:
    """'an email', 'a letter'."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def document_title(comm: Communication) -> str:
    return f"Customer {comm.channel} of {comm.send_at:%d %b %Y}: {comm.title}"


def communication_document(comm: Communication, status: str) -> Document:
    """Sections: when and to whom, what customers are told, why, where pointed, talking points."""
    day = f"{comm.send_at:%A %d %B %Y}"
    tense = "sent" if status == "sent" else "will send"
    overview = (
        f"Vendor communication to customers: {comm.sender} {tense} {article(comm.channel)} "
        f"to {comm.audience.describe()} on {day} ({format_when(comm.send_at)}), "
        f"in {comm.send_at:%B %Y}. Subject: “{comm.title}”. Status: {status}."
    )
    told = comm.customer_summary
    if comm.full_text:
        told += "\n\n" + comm.full_text
    if comm.full_text_url:
        told += f"\n\nThe full customer-facing text: {comm.full_text_url}"
    pointed = comm.customer_pointed_to or "The communication names no contact for questions."
    pointed += (
        " The communication points customers to their partner for more information."
        if comm.points_to_partner
        else " The communication does not point customers to their partner."
    )
    sections = [
        Section(("When and to whom",), overview),
        Section(("What customers are told",), told),
        Section(("Why it is sent",), comm.aims),
        Section(("Where customers are pointed",), pointed),
    ]
    if comm.talking_points:
        sections.append(
            Section(("Partner talking points",), "\n".join(f"- {p}" for p in comm.talking_points))
        )
    sections.extend(Section(("Partner FAQ", f.q), f"{f.q}\n{f.a}") for f in comm.faq)
    if comm.links:
        sections.append(Section(("Links",), "\n".join(f"- {link}" for link in comm.links)))
    # Its `audience` is whom the vendor writes to (customers), not who may read about it:
    # every partner may ask about a communication, so its document is public.
    return Document(
        path=comm.doc_path,
        title=document_title(comm),
        sections=tuple(sections),
        effective_date=comm.send_at.date(),
        url=comm.full_text_url,
        kind="communication",
    )
