"""production: the ``plan_work_orders`` stage action and the state checks behind the
``work_order.*`` triggers (see ordertrail.ops.automation)."""

from __future__ import annotations

from ordertrail.context import Ctx
from ordertrail.ops.automation import OrderRef, action, satisfied


@action("plan_work_orders")
def plan_work_orders(ctx: Ctx, ref: OrderRef) -> None:
    """Work orders for the order's make-to-order lines (idempotent)."""
    from ordertrail.production import service

    service.plan_for_order(ctx, ref.id)


@satisfied("work_order.completed")
def all_completed(ctx: Ctx, ref: OrderRef) -> bool:
    """Every work order of the order is made (completed or already through QC)."""
    from ordertrail.production import read

    return read.all_completed(ctx.session, ref.id)


@satisfied("work_order.qc_passed")
def all_passed(ctx: Ctx, ref: OrderRef) -> bool:
    """Every work order of the order passed QC."""
    from ordertrail.production import read

    return read.all_done(ctx.session, ref.id)


@satisfied("work_order.qc_failed")
def any_failed(ctx: Ctx, ref: OrderRef) -> bool:
    """A work order of the order failed QC and is in rework."""
    from ordertrail.production import read

    return read.any_rework(ctx.session, ref.id)
