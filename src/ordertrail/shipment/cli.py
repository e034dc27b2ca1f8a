"""`ordertrail shipment …`: create, show, track, enter events, poll, dead letters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from ordertrail.config import Settings

app = typer.Typer(help="Shipments: create, show, track, event, poll, dead letters.",
                  no_args_is_help=True)


def _base() -> Any:
    from ordertrail import cli  # the root CLI owns sessions and error handling

    return cli


def _lines(specs: list[str] | None) -> list[dict[str, Any]] | None:
    if not specs:
        return None
    out = []
    for spec in specs:
        key, sep, qty = spec.partition(":")
        try:
            amount = Decimal(qty)
        except InvalidOperation:
            amount = None
        if not sep or amount is None:
            raise ValueError(f"--line {spec!r}: write LINE_NO:QTY or SKU:QTY, e.g. 1:2")
        out.append({"line_no": int(key), "qty": str(amount)} if key.isdigit()
                   else {"sku": key, "qty": str(amount)})
    return out


@app.command("create")
def create(
    order_no: str,
    number: Annotated[str, typer.Option("--number", help="tracking number")],
    user: Annotated[str, typer.Option("--as", help="acting user name")],
    carrier: Annotated[str | None, typer.Option(help="courier slug; default: detected")] = None,
    provider: Annotated[str | None, typer.Option(help="tracking provider; default: "
                                                      "configured")] = None,
    line: Annotated[list[str] | None, typer.Option(help="LINE_NO:QTY or SKU:QTY; repeat; "
                                                        "default: all unshipped")] = None,
    scenario: Annotated[str | None, typer.Option(help="simulated carrier scenario")] = None,
) -> None:
    """Put a parcel on an order (fires the flow's shipment.created step)."""
    from ordertrail.shipment import read, service
    from ordertrail.shipment.schemas import ShipmentCreate

    base = _base()
    with base.friendly_errors():
        body = ShipmentCreate.model_validate({
            "carrier": carrier, "tracking_number": number, "provider": provider,
            "lines": _lines(line), "scenario": scenario})

    def run(session: Session, settings: Settings) -> None:
        ctx = base._ctx(session, settings, user)
        shipment, detected = service.create_shipment(ctx, order_no, body)
        shown = read.shipment_read(ctx, shipment, detected)
        typer.echo(f"shipment {shown.id}: {shown.carrier} {shown.tracking_number} on "
                   f"{shown.order_no} ({shown.provider}), {shown.status}")

    base.with_session(run)


@app.command("show")
def show(shipment_id: int, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A shipment with its events."""
    from ordertrail.context import SYSTEM_ACTOR, Ctx
    from ordertrail.kit.clock import SystemClock
    from ordertrail.shipment import read

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = Ctx(session, SYSTEM_ACTOR, SystemClock(), settings)
        from ordertrail.shipment.service import get_shipment

        shipment = read.shipment_read(ctx, get_shipment(ctx, shipment_id))
        events = read.event_page(ctx, shipment_id)
        if json_out:
            base._print_json({**shipment.model_dump(mode="json"),
                              "events": [e.model_dump(mode="json") for e in events.events]})
            return
        typer.echo(f"{shipment.carrier} {shipment.tracking_number}  {shipment.substatus}  "
                   f"order {shipment.order_no or '-'}")
        for e in events.events:
            typer.echo(f"  {e.occurred_at:%Y-%m-%d %H:%M}Z  {e.substatus:<28} "
                       f"{e.location or '':<8} {e.description}")

    base.with_session(run)


@app.command("track")
def track(number: str) -> None:
    """Everything known about a tracking number, as JSON."""
    from ordertrail.context import SYSTEM_ACTOR, Ctx
    from ordertrail.kit.clock import SystemClock
    from ordertrail.shipment import read

    base = _base()
    base.with_session(lambda session, settings: base._print_json(read.track(
        Ctx(session, SYSTEM_ACTOR, SystemClock(), settings), number).model_dump(mode="json")))


@app.command("event")
def event(
    shipment_id: int,
    status: Annotated[str, typer.Option(help="unified status, e.g. in_transit")],
    description: Annotated[str, typer.Option(help="what happened")],
    user: Annotated[str, typer.Option("--as", help="acting user name")],
    at: Annotated[datetime | None, typer.Option(help="when (ISO 8601 with offset); "
                                                     "default now")] = None,
    substatus: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Enter a checkpoint by hand, for carriers without an API."""
    from ordertrail.shipment import service
    from ordertrail.shipment.schemas import ManualEventIn

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        ctx = base._ctx(session, settings, user)
        body = ManualEventIn.model_validate({
            "occurred_at": (at or ctx.clock.now()).isoformat(), "status": status,
            "substatus": substatus, "description": description, "location": location})
        report = service.add_manual_event(ctx, shipment_id, body)
        typer.echo(f"stored {report.stored}, duplicates {report.duplicates}")

    base.with_session(run)


@app.command("poll")
def poll() -> None:
    """Run one poller round now: subscribe new shipments, poll the due ones."""
    from ordertrail.db import make_sessionmaker
    from ordertrail.kit.clock import SystemClock
    from ordertrail.shipment.poller import Poller

    base = _base()
    with base.friendly_errors():
        settings = base.get_settings()
        engine = base._engine(settings)
        try:
            report = Poller(make_sessionmaker(engine), SystemClock(), settings).run_once()
        finally:
            engine.dispose()
    typer.echo(f"claimed {report.claimed}, registered {report.registered}, fetched "
               f"{report.fetched}, stored {report.stored}, failed {report.failed}")
    for slug, error in report.errors.items():
        typer.echo(f"  {slug}: {error}", err=True)


@app.command("dead-letters")
def dead_letters(user: Annotated[str, typer.Option("--as", help="acting user name")]) -> None:
    """Carrier pushes that could not be read (JSON)."""
    from ordertrail.shipment.hooks import list_dead_letters

    base = _base()
    base.with_session(lambda session, settings: base._print_json(list_dead_letters(
        base._ctx(session, settings, user)).model_dump(mode="json")))


@app.command("replay")
def replay(dead_id: int, user: Annotated[str, typer.Option("--as")]) -> None:
    """Read a dead letter again and ingest it."""
    from ordertrail.shipment.hooks import replay as do_replay

    base = _base()

    def run(session: Session, settings: Settings) -> None:
        result = do_replay(base._ctx(session, settings, user), dead_id)
        if not result.ok:
            base.fail(f"dead letter {dead_id} still cannot be read: {result.reason}")
        typer.echo(f"replayed: stored {result.stored}, duplicates {result.duplicates}")

    base.with_session(run)
