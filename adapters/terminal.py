"""The terminal: the thinnest platform. Each line is a question; earlier turns are context;
`/name …` runs a command from the command table (`/help` lists them)."""

from __future__ import annotations

import asyncio
import uuid

from rich.console import Console

from bot.chat.service import ChatService
from bot.models import Actor, Answer, ChatMessage, Conversation, Place, Reply, Turn
from bot.printable import shown

PLATFORM = "console"


def print_answer(answer: Answer, console: Console) -> None:
    """An answer with its date and numbered sources (an abstention: the text alone).
    Text from the documents or the model is shown, never obeyed (bot/printable.py)."""
    console.print(shown(answer.text, keep_lines=True), highlight=False, soft_wrap=True)
    if answer.abstained:
        return
    if answer.as_of:
        console.print(f"[dim](as of {answer.as_of.isoformat()})[/dim]")
    if answer.citations:
        console.print("[bold]Sources[/bold]")
        for c in answer.citations:
            dated = f", {c.effective_date.isoformat()}" if c.effective_date else ""
            console.print(
                f"  \\[{c.number}] {shown(c.label)} ({shown(c.path)}{dated})", highlight=False
            )


def print_reply(reply: Reply, console: Console) -> None:
    if reply.answer is not None:
        print_answer(reply.answer, console)
    else:
        console.print(shown(reply.text, keep_lines=True), highlight=False, soft_wrap=True)


def run_console(chat: ChatService, *, console: Console) -> None:
    asyncio.run(_session(chat, console))


async def _session(chat: ChatService, console: Console) -> None:
    console.print("Ask about the partner program. Empty line or Ctrl-D to quit; /new starts over.")
    me = Actor(PLATFORM, "console", is_admin=True)  # the person at the terminal runs the bot
    history: list[Turn] = []
    while True:
        try:
            text = (await asyncio.to_thread(console.input, "[bold]you>[/bold] ")).strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not text:
            break
        if text == "/new":
            history.clear()
            continue
        if text.startswith("/"):
            print_reply(await chat.run_words(text[1:], actor=me), console)
            continue
        turns = tuple(history)

        async def earlier(turns: tuple[Turn, ...] = turns) -> Conversation:
            return Conversation(turns, bot_present=True)

        message = ChatMessage(text, me, Place(PLATFORM), message_id=uuid.uuid4().hex, direct=True)
        reply = await chat.handle(message, earlier=earlier)
        if reply is None:
            continue
        print_reply(reply, console)
        said = reply.answer.text if reply.answer is not None else reply.text
        history.extend([Turn("user", text), Turn("bot", said)])
