"""What a message shows, decided once for every platform: an answer, an abstention, a notice.

A platform maps a `Layout` to its own format (Block Kit, embeds, terminal text) and
its limits; what goes in it — the abstention heading, the numbered sources or the
closest documents, "as of", the buttons — is the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.models import Answer, Citation, Notice
from bot.prompts import message
from bot.text import closest_documents


@dataclass(frozen=True, slots=True)
class Item:
    """A source line: `number` is None for the closest documents of an abstention."""

    title: str
    section: str
    url: str | None = None
    number: int | None = None
    date: date | None = None
    path: str = ""

    @property
    def label(self) -> str:
        return f"{self.title} › {self.section}" if self.section else self.title


@dataclass(frozen=True, slots=True)
class Button:
    action: str  # the chat service's button action: feedback_up, share, acknowledge, …
    label: str
    value: str
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Layout:
    body: str  # Markdown
    heading: str | None = None  # shown above the body (abstention, notice title)
    items_heading: str | None = None
    items: tuple[Item, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    note: str | None = None  # small print under the message ("as of 2026-08-15")
    link: str | None = None
    buttons: tuple[Button, ...] = ()
    abstained: bool = False


def answer_layout(answer: Answer, *, shareable: bool = False) -> Layout:
    """An answer with its numbered sources, or an abstention with the closest documents;
    👍/👎 when it was recorded, and "Post to channel" when `shareable`."""
    if answer.abstained:
        items = [_item(c, numbered=False) for c in closest_documents(answer)]
        heading, items_heading = message("abstained_heading"), message("closest_heading")
    else:
        items = [_item(c, numbered=True) for c in sorted(answer.cited, key=lambda c: c.number)]
        heading, items_heading = None, message("sources_heading")
    buttons: list[Button] = []
    if answer.interaction_id is not None and answer.kind == "answer":
        value = str(answer.interaction_id)
        buttons += [
            Button("feedback_up", message("button_helpful"), value),
            Button("feedback_down", message("button_not_helpful"), value),
        ]
        if shareable:
            buttons.append(Button("share", message("button_share"), value, primary=True))
    as_of = answer.as_of and not answer.abstained
    return Layout(
        body=answer.text,
        heading=heading,
        items_heading=items_heading if items else None,
        items=tuple(items),
        note=message("as_of", date=answer.as_of.isoformat()) if as_of and answer.as_of else None,
        buttons=tuple(buttons),
        abstained=answer.abstained,
    )


def notice_layout(notice: Notice) -> Layout:
    buttons = tuple(
        Button(b.kind, b.label, b.value, primary=b.kind == "acknowledge") for b in notice.buttons
    )
    link = notice.link if notice.link and notice.link not in notice.text else None
    return Layout(
        body=notice.text, heading=notice.title, fields=notice.fields, link=link, buttons=buttons
    )


def _item(c: Citation, *, numbered: bool) -> Item:
    return Item(
        title=c.title,
        section=c.section,
        url=c.url,
        number=c.number if numbered else None,
        date=c.effective_date,
        path=c.path,
    )
