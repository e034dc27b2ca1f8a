"""`ordertrail sla policy …`: list, add, rm SLA policies (wired under `sla` by the root CLI)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="SLA policies: list, add, rm.", no_args_is_help=True)


def _base() -> Any:
    from ordertrail import cli

    return cli


@app.command("list")
def list_() -> None:
    """SLA policies, with what they match and change."""
    from ordertrail.sla import policy

    def run(session: Session, _s: Settings) -> None:
        rows = policy.list_policies(session)
        if not rows:
            typer.echo("no SLA policies")
        for p in rows:
            change = f"× {p.factor:g}" if p.factor is not None else f"= {p.target}"
            scope = f"{p.flow or '*'}/{p.stage or '*'}"
            extra = f" in {p.calendar}" if p.calendar else ""
            state = "" if p.enabled else " (disabled)"
            typer.echo(f"{p.id:>4} {p.name:<20} {scope:<24} {change}{extra}  when "
                       f"{p.when or 'always'}  position {p.position}{state}")

    _base().with_session(run)


@app.command("add")
def add(
    name: Annotated[str, typer.Option(help="a name, e.g. VIP")],
    when: Annotated[str | None, typer.Option(help='condition, e.g. \'"vip" in tags\'')] = None,
    factor: Annotated[float | None, typer.Option(help="multiply targets, e.g. 0.5")] = None,
    target: Annotated[str | None, typer.Option(help="replace targets, e.g. 1h")] = None,
    flow: Annotated[str | None, typer.Option(help="only this flow")] = None,
    stage: Annotated[str | None, typer.Option(help="only this stage")] = None,
    calendar: Annotated[str | None, typer.Option(help="count in this calendar")] = None,
    position: Annotated[int, typer.Option(help="lower is tried first")] = 100,
) -> None:
    """Add an SLA policy; give --factor or --target."""
    from ordertrail.calendar.cli import cli_ctx
    from ordertrail.calendar.schemas import PolicyIn
    from ordertrail.sla import policy

    base = _base()
    with base.friendly_errors():
        data = PolicyIn(name=name, when=when, factor=factor, target=target, flow=flow,
                        stage=stage, calendar=calendar, position=position)

    def run(session: Session, settings: Settings) -> None:
        p = policy.create_policy(cli_ctx(session, settings), data)
        typer.echo(f"SLA policy {p.id} ({p.name}) added")

    base.with_session(run)


@app.command("rm")
def rm(policy_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Remove an SLA policy."""
    from ordertrail.calendar.cli import cli_ctx
    from ordertrail.sla import policy

    def run(session: Session, settings: Settings) -> None:
        policy.delete_policy(cli_ctx(session, settings), policy_id)
        typer.echo(f"SLA policy {policy_id} removed")

    _base().with_session(run)
