"""`partnerbot console …`: the people who may sign in to the vendor's console."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from bot.app import App
from bot.cli.session import command_app
from bot.errors import UserError
from bot.serving.console.auth import ConsoleAuth, normal_email
from bot.store import ROLES

console_app = typer.Typer(help="The vendor's console (web pages and API) served by `serve`.")
user_app = typer.Typer(help="People who may sign in to the console.")
console_app.add_typer(user_app, name="user")
out = Console()
MIN_PASSWORD = 12


def _auth(app: App) -> ConsoleAuth:
    s = app.settings
    key = s.console_secret_key.get_secret_value() if s.console_secret_key else None
    return ConsoleAuth(
        repo=app.store.console, secret_key=key, session_hours=s.console_session_hours
    )


@user_app.command("add")
def add(
    email: Annotated[str, typer.Argument(help="Their e-mail address (their sign-in name).")],
    role: Annotated[str, typer.Option(help=f"What they may do: {', '.join(ROLES)}.")] = "viewer",
    name: Annotated[str, typer.Option(help="Their name, as shown.")] = "",
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Sign in with the identity provider only.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add someone to the console (or change their role or password)."""
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = getpass.getpass(f"Password for {email}: ")
        if password != getpass.getpass("Again: "):
            raise typer.BadParameter("the two passwords differ")
    with command_app() as app:
        if password is not None and len(password) < MIN_PASSWORD:
            raise UserError(f"a console password has at least {MIN_PASSWORD} characters")
        new = _auth(app).add_user(email, role=role, name=name, password=password)
        app.store.console.audit(
            who="cli",
            action="user added" if new else "user changed",
            subject=normal_email(email),
            before="",
            after=json.dumps({"role": role}),
            now=datetime.now(UTC),
        )
    out.print(f"{'Added' if new else 'Changed'} {normal_email(email)} ({role}).", highlight=False)


@user_app.command("list")
def list_users() -> None:
    """Everyone who may sign in, with their role."""
    with command_app() as app:
        for user in app.store.console.users():
            state = " (disabled)" if user.disabled else ""
            out.print(f"{user.email}\t{user.role}{state}", highlight=False)


@user_app.command("disable")
def disable(email: Annotated[str, typer.Argument(help="Their e-mail address.")]) -> None:
    """Stop someone signing in (and end their sessions)."""
    with command_app() as app:
        if not app.store.console.disable_user(normal_email(email), now=datetime.now(UTC)):
            raise UserError(f"{email} is not a console user")
    out.print(f"Disabled {normal_email(email)}.", highlight=False)
