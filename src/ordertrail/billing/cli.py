"""CLI: `ordertrail billing …` (placeholder until the domain lands)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Billing: invoices, payments, imports, aging.",
    no_args_is_help=True)
