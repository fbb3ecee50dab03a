"""Terminal chat: the thinnest adapter. Each line is a question; earlier turns are context."""

from __future__ import annotations

from rich.console import Console

from bot.cli import print_answer
from bot.core import PartnerBot
from bot.models import Question, Turn


def run_console(bot: PartnerBot, *, console: Console) -> None:
    console.print("Ask about the partner program. Empty line or Ctrl-D to quit; /new starts over.")
    history: list[Turn] = []
    while True:
        try:
            text = console.input("[bold]you>[/bold] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not text:
            break
        if text == "/new":
            history.clear()
            continue
        answer = bot.ask(
            Question(text=text, history=tuple(history), platform="console", asker="console")
        )
        print_answer(answer)
        history.extend([Turn("user", text), Turn("bot", answer.text)])
