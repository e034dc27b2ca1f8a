"""The worker side of stage automation: on entering a stage, run its actions, then fire the
triggers whose state already holds."""

from __future__ import annotations

import logging

from sqlalchemy import select

from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.flow import service as flows
from ordertrail.jobs.registry import Event, consumer
from ordertrail.models import Order
from ordertrail.ops import automation, triggers
from ordertrail.ops.automation import OrderRef

log = logging.getLogger(__name__)


def _domains() -> None:
    """Import the modules that register actions and checks."""
    from ordertrail.billing import automation as _billing  # noqa: F401
    from ordertrail.inventory import automation as _inventory  # noqa: F401
    from ordertrail.procurement import automation as _procurement  # noqa: F401
    from ordertrail.production import automation as _production  # noqa: F401


@consumer("ops.stage_entered", "order.created", "order.stage_changed")
def stage_entered(ctx: Ctx, event: Event) -> None:
    """Run the entered stage's ``on_enter`` actions, then level-fire waiting triggers."""
    _domains()
    p = event.payload
    row = ctx.session.execute(select(Order.id, Order.order_no, Order.stage, Order.status,
                                     Order.flow_version_id)
                              .where(Order.order_no == p.get("order_no"))).first()
    entered = p.get("to_stage") or p.get("stage")   # order.created names its first stage
    # Act only if the order still stands where the event says: a later move supersedes it.
    if row is None or row.status != "active" or row.stage != entered:
        return
    system = Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)
    _version, flow = flows.definition_by_id(ctx.session, row.flow_version_id)
    ref = OrderRef(row.id, row.order_no, row.stage)
    for name in flow.stage(row.stage).on_enter:
        fn = automation.ACTIONS.get(name)
        if fn is None:
            log.warning("stage action %s is not registered; skipped", name)
            continue
        fn(system, ref)
    fire_satisfied(system, ref)


def fire_satisfied(ctx: Ctx, ref: OrderRef) -> bool:
    """Fire the first trigger (by name) the order's stage waits for whose state check holds.
    One move only: the stage it enters gets its own ``order.stage_changed`` event, whose
    actions must run before anything moves the order on."""
    _domains()
    waiting = triggers.waiting_triggers(ctx, ref.id)
    if waiting is None:
        return False
    order_no, stage, events = waiting
    here = OrderRef(ref.id, order_no, stage)
    for name in sorted(events):
        check = automation.CHECKS.get(name)
        if check is not None and check(ctx, here):
            return triggers.fire_if_waiting(ctx, ref.id, name)
    return False
