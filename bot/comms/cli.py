"""`partnerbot comms …` commands."""

from __future__ import annotations

import typer

comms_app = typer.Typer(help="Vendor-to-customer communications announced to partners.")
