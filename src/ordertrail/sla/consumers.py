"""Outbox consumers, jobs and pumps of this domain (registered with ordertrail.jobs.registry).

- ``sla.sweep`` every 30 s: one sweep (sla/sweep.py) in the job's transaction.
- A parcel in trouble (``shipment.exception``, ``shipment.attempt_failed``) opens a
  ``shipment_exception`` (critical) or ``delivery_failed`` alert and, when that alert is new,
  tells the order it is delayed (``order.delayed``) with an estimate of the new time: the
  parcel's ETA (else the promised time, else now, whichever is latest) plus
  ``EXCEPTION_DELAY`` (2 days) for an exception or ``ATTEMPT_DELAY`` (1 day) for a failed
  delivery attempt.
- A parcel that moves on (``shipment.status_changed``, ``shipment.delivered``) resolves its
  alerts; an order that moves on (``order.stage_changed``/``completed``/``cancelled``)
  resolves the alerts of the stage it left. The sweeper does the same as a safety net.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select

from ordertrail.context import Ctx
from ordertrail.flow import service as flows
from ordertrail.jobs.outbox import emit_many
from ordertrail.jobs.registry import Event, consumer, periodic
from ordertrail.models import Order, Shipment, StageVisit
from ordertrail.models.alert import Alert
from ordertrail.sla import alerts
from ordertrail.sla.sweep import STAGE_KINDS, delayed_event, sweep_session

EXCEPTION_DELAY = timedelta(days=2)
ATTEMPT_DELAY = timedelta(days=1)
_A = Alert.__table__
_V = StageVisit.__table__


@periodic("sla.sweep", every=timedelta(seconds=30))
def sweep_job(ctx: Ctx, payload: dict[str, Any]) -> None:
    """Claim every passed deadline and open, escalate and resolve alerts."""
    sweep_session(ctx.session, ctx.clock.now(), ctx.settings)


def _expected(base: list[datetime | None], now: datetime, delay: timedelta) -> datetime:
    return max([t for t in base if t is not None] + [now]) + delay


@consumer("sla.shipment_problem", "shipment.exception", "shipment.attempt_failed")
def shipment_problem(ctx: Ctx, event: Event) -> None:
    """A lost, damaged, returned or undeliverable parcel: alert and tell the order."""
    session, now, p = ctx.session, ctx.clock.now(), event.payload
    shipment = session.get(Shipment, int(p["shipment_id"]))
    if shipment is None:
        return
    failed = event.name == "shipment.attempt_failed"
    kind = "delivery_failed" if failed else "shipment_exception"
    order = session.get(Order, shipment.order_id) if shipment.order_id else None
    flow = flows.definition_by_id(session, order.flow_version_id)[1] if order else None
    description = p.get("description") or p.get("substatus") or shipment.substatus
    spec = alerts.AlertSpec(
        kind=kind, cause=f"{kind}:shipment:{shipment.id}",
        order_id=order.id if order else None, order_no=order.order_no if order else None,
        shipment_id=shipment.id, responsible_role="service",
        title=alerts.texts(kind, tracking=shipment.tracking_number, carrier=shipment.carrier,
                           description=description),
        detail=alerts.detail_texts("service", order.order_no if order else None),
        data={"substatus": p.get("substatus"), "location": p.get("location"),
              "occurred_at": p.get("occurred_at"), "carrier": shipment.carrier,
              "tracking_number": shipment.tracking_number},
        escalation=alerts.escalation_of(session, flow))
    opened = alerts.open_alerts(session, now, [spec])
    if opened and order is not None:
        expected = _expected([shipment.eta, shipment.carrier_eta, order.promised_at], now,
                             ATTEMPT_DELAY if failed else EXCEPTION_DELAY)
        emit_many(session, [delayed_event(order.order_no, kind, order.promised_at, expected, now,
                                     shipment.id, shipment.tracking_number)], now)


@consumer("sla.shipment_recovered", "shipment.status_changed", "shipment.delivered")
def shipment_recovered(ctx: Ctx, event: Event) -> None:
    """The parcel moved on: its exception, failed-delivery and silence alerts are over."""
    p = event.payload
    to = p.get("to") or ("delivered" if event.name == "shipment.delivered" else None)
    kinds = ["shipment_no_update"]
    if to != "exception":
        kinds.append("shipment_exception")
    if to != "attempt_fail":
        kinds.append("delivery_failed")
    alerts.auto_resolve(ctx.session, ctx.clock.now(),
                        and_(_A.c.shipment_id == int(p["shipment_id"]), _A.c.kind.in_(kinds)),
                        f"shipment {to or 'moved on'}")


@consumer("sla.order_moved", "order.stage_changed", "order.completed", "order.cancelled")
def order_moved(ctx: Ctx, event: Event) -> None:
    """The order left a stage (or finished): alerts about the stage it left are over."""
    order_id = ctx.session.scalar(select(Order.id).where(
        Order.order_no == event.payload.get("order_no")))
    if order_id is None:
        return
    left = and_(_A.c.order_id == order_id, _A.c.kind.in_(STAGE_KINDS), exists().where(
        _V.c.id == _A.c.visit_id, _V.c.exited_at.is_not(None)))
    now = ctx.clock.now()
    alerts.auto_resolve(ctx.session, now, left, "stage left")
    if event.name in ("order.completed", "order.cancelled"):
        alerts.auto_resolve(ctx.session, now, and_(_A.c.order_id == order_id,
                                                   _A.c.kind == "order_late_risk"),
                            "order finished")
