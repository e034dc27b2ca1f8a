"""inventory: stage actions and trigger state checks (see ordertrail.ops.automation).

``reserve_stock`` holds stock for the order entering the stage (idempotent: entering again
only reserves what is still missing). ``reservation.completed`` holds when every need line
is covered. An order with no tracked needs (none of its lines is a product) is never
waiting for stock, but stock cannot vouch for it either: the trigger does not fire, and
people move it on by hand (the built-in flows let them).
"""

from __future__ import annotations

from ordertrail.context import Ctx
from ordertrail.inventory import service
from ordertrail.ops.automation import OrderRef, action, satisfied


@action("reserve_stock")
def reserve_stock(ctx: Ctx, ref: OrderRef) -> None:
    """Stage action: reserve the order's needs, or record what it waits for."""
    service.reserve_order(ctx, ref.id)


@satisfied("reservation.completed")
def reservation_completed(ctx: Ctx, ref: OrderRef) -> bool:
    """Trigger check: the order has tracked needs and every one is reserved."""
    return bool(service.needs_of_order(ctx.session, ref.id)) and service.fully_reserved(
        ctx.session, ref.id)
