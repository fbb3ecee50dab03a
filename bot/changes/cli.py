"""`partnerbot changes …` commands."""

from __future__ import annotations

import typer

changes_app = typer.Typer(help="Program changes detected when documents are re-indexed.")
