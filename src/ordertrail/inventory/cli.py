"""CLI: `ordertrail inventory …` (placeholder until the domain lands)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Inventory: products, warehouses, stock, movements, availability, reservations.",
    no_args_is_help=True)
