"""CLI: `ordertrail production …` (placeholder until the domain lands)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Production: work centers, work orders, steps, QC.",
    no_args_is_help=True)
