"""production: outbox consumers (a cancelled order cancels its unfinished work orders)."""

from __future__ import annotations

from sqlalchemy import select

from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.jobs.registry import Event, consumer
from ordertrail.models import Order


@consumer("production.order_cancelled", "order.cancelled")
def order_cancelled(ctx: Ctx, event: Event) -> None:
    """Work orders not yet made are cancelled with their order (idempotent)."""
    from ordertrail.production import service

    order_id = ctx.session.scalar(select(Order.id).where(
        Order.order_no == event.payload.get("order_no")))
    if order_id is None:
        return
    system = Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)
    service.cancel_for_order(system, order_id, "order cancelled")
