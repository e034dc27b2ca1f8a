"""CLI: `ordertrail procurement …` (placeholder until the domain lands)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Procurement: suppliers, purchase orders, supplier links, receipts.",
    no_args_is_help=True)
