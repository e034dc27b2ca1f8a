"""Fire flow triggers and write timeline rows from the operations domains.

Everything here runs in the caller's transaction: the domain change, its timeline row, its
outbox event and the order's move commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.errors import TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.flow import service as flows
from ordertrail.models import Order, TimelineEntry


def waiting_triggers(ctx: Ctx, order_id: int) -> tuple[str, str, set[str]] | None:
    """(order_no, stage, trigger events a transition out of the stage waits for), or None
    when the order is not active."""
    row = ctx.session.execute(select(Order.order_no, Order.stage, Order.status,
                                     Order.flow_version_id).where(Order.id == order_id)).first()
    if row is None or row.status != "active":
        return None
    _version, flow = flows.definition_by_id(ctx.session, row.flow_version_id)
    return row.order_no, row.stage, {t.trigger for t in flow.transitions_from(row.stage)
                                     if t.trigger}


def fire_if_waiting(ctx: Ctx, order_id: int, event: str, note: str | None = None) -> bool:
    """Move the order by ``event`` as the system if its stage waits for it (and the
    transition's condition holds); False when nothing waits. Never raises for a refusal."""
    from ordertrail.order import service as orders  # the order service is above the domains

    waiting = waiting_triggers(ctx, order_id)
    if waiting is None or event not in waiting[2]:
        return False
    system = Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)
    try:
        orders.act(system, waiting[0], planner.Trigger(event, note))
    except TransitionNotAllowed:
        return False
    return True


def timeline(ctx: Ctx, order_id: int, kind: str, note: str | None, data: dict[str, Any],
             *, at: datetime | None = None, role: str | None = None,
             source: str | None = None, actor: str | None = None) -> None:
    """One timeline row on the order, as the acting user (or ``actor``, e.g. a supplier)."""
    who = ctx.actor
    ctx.session.execute(insert(TimelineEntry.__table__), [{
        "order_id": order_id, "at": at or ctx.clock.now(), "kind": kind,
        "actor_id": who.user_id if actor is None else None,
        "actor": actor or who.name, "role": role if role is not None else _role(ctx),
        "from_stage": None, "to_stage": None, "note": note,
        "source": source or who.source, "data": data}])


def timeline_many(ctx: Ctx, rows: list[tuple[int, str, str | None, dict[str, Any]]]) -> None:
    """Timeline rows (order id, kind, note, data) as the acting user, in one statement."""
    if not rows:
        return
    who, now, role = ctx.actor, ctx.clock.now(), _role(ctx)
    ctx.session.execute(insert(TimelineEntry.__table__), [{
        "order_id": order_id, "at": now, "kind": kind, "actor_id": who.user_id,
        "actor": who.name, "role": role, "from_stage": None, "to_stage": None, "note": note,
        "source": who.source, "data": data} for order_id, kind, note, data in rows])


def _role(ctx: Ctx) -> str | None:
    roles = sorted(ctx.actor.roles)
    return roles[0] if roles else None
