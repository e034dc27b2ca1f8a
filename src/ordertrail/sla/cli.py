"""CLI: Alerts and deadlines (`ordertrail sla sweep`, `ordertrail alerts …`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.calendar import policy_cli
from ordertrail.config import Settings

app = typer.Typer(help="Alerts and deadlines.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts: list, acknowledge, assign, resolve.", no_args_is_help=True)
app.add_typer(policy_cli.app, name="policy", help="SLA policies: list, add, rm.")


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


@app.command("sweep")
def sweep_now(limit: Annotated[int, typer.Option(min=1, help="claims per statement")] = 10_000,
              ) -> None:
    """Run one sweep now: open due alerts, escalate, auto-resolve; print the counts."""
    from ordertrail.config import get_settings
    from ordertrail.db import make_sessionmaker
    from ordertrail.kit.clock import SystemClock
    from ordertrail.sla.sweep import sweep

    base = _base()
    with base.friendly_errors():
        settings = get_settings()
        engine = base._engine(settings)
        try:
            result = sweep(make_sessionmaker(engine), SystemClock(), settings, limit=limit)
        finally:
            engine.dispose()
    typer.echo("  ".join(f"{k}={v}" for k, v in result.as_dict().items()))


@alerts_app.command("list")
def list_alerts(
    state: Annotated[str | None, typer.Option(help="open, acknowledged, resolved, "
                                                   "auto_resolved")] = None,
    kind: Annotated[str | None, typer.Option(help="e.g. stage_overdue")] = None,
    order: Annotated[str | None, typer.Option(help="order number")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts, newest first."""
    from ordertrail.context import SYSTEM_ACTOR, Ctx
    from ordertrail.kit.clock import SystemClock
    from ordertrail.sla import read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = Ctx(session, SYSTEM_ACTOR, SystemClock(), settings)
        page = read.alert_page(ctx, order_no=order, state=state, kind=kind, limit=limit)
        if json_out:
            base._print_json([a.model_dump(mode="json") for a in page.items])
            return
        for a in page.items:
            typer.echo(f"{a.id:>6}  {a.state:<13} {a.kind:<19} L{a.level}  {a.severity:<8} "
                       f"{a.order_no or '-':<16} {a.title['en']}")
        if not page.items:
            typer.echo("no alerts")

    base.with_session(run)


def _act(action: str, alert_id: int, user: str, **kwargs: Any) -> None:
    from ordertrail.sla import alerts, read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = base._ctx(session, settings, user)
        alert = getattr(alerts, action)(ctx, alert_id, **kwargs)
        shown = read.alert_read(ctx, alert)
        typer.echo(f"alert {shown.id}: {shown.state}, level {shown.level}"
                   + (f", assigned to {shown.assignee}" if shown.assignee else ""))

    base.with_session(run)


@alerts_app.command("ack")
def ack(alert_id: int, user: Annotated[str, typer.Option("--user", help="acting user")],
        note: Annotated[str | None, typer.Option()] = None) -> None:
    """Acknowledge an alert (escalation stops)."""
    _act("acknowledge", alert_id, user, note=note)


@alerts_app.command("resolve")
def resolve(alert_id: int, user: Annotated[str, typer.Option("--user", help="acting user")],
            note: Annotated[str | None, typer.Option()] = None) -> None:
    """Resolve an alert."""
    _act("resolve", alert_id, user, note=note)


@alerts_app.command("assign")
def assign(alert_id: int, user: Annotated[str, typer.Option("--user", help="acting user")],
           to: Annotated[str, typer.Option("--to", help="the new assignee's user name")],
           ) -> None:
    """Assign an alert to a user."""
    _act("assign", alert_id, user, user_name=to)
