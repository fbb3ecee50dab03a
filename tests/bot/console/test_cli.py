"""`partnerbot console user add|list|disable`: people for the console from the command line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bot.app import App
from bot.cli.main import app as cli
from bot.config import load_settings
from bot.serving.console.auth import ConsoleAuth, SignInRefused


def test_people_are_added_listed_and_disabled_from_the_command_line() -> None:
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["console", "user", "add", "Maria@Vendor.com", "--role", "editor", "--password-stdin"],
        input="a long enough password\n",
    )
    assert added.exit_code == 0, added.output
    assert "Added maria@vendor.com (editor)." in added.output
    short = runner.invoke(
        cli, ["console", "user", "add", "x@vendor.com", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    bad_role = runner.invoke(
        cli, ["console", "user", "add", "y@v.com", "--role", "owner", "--no-password"]
    )
    assert bad_role.exit_code == 2 and "the role owner is unknown" in bad_role.output
    listed = runner.invoke(cli, ["console", "user", "list"])
    assert [line.split() for line in listed.output.splitlines()] == [["maria@vendor.com", "editor"]]
    app = App(load_settings())
    try:
        auth = ConsoleAuth(repo=app.store.console, secret_key=None, session_hours=1)
        user = auth.sign_in("maria@vendor.com", "a long enough password", address="t")
        assert user.role == "editor" and user.password_hash != "a long enough password"
        assert runner.invoke(cli, ["console", "user", "disable", "maria@vendor.com"]).exit_code == 0
        with pytest.raises(SignInRefused):
            auth.sign_in("maria@vendor.com", "a long enough password", address="t")
        assert [e.action for e in app.store.console.audit_trail()] == ["user added"]
    finally:
        app.close()
