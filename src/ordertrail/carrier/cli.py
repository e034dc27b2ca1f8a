"""`ordertrail carriers …`: couriers and providers, detection, the simulated carrier."""

from __future__ import annotations

import typer

app = typer.Typer(help="Carriers: list, detect, simulate.", no_args_is_help=True)
