"""billing: stage actions and trigger state checks (see ordertrail.ops.automation).

- ``issue_invoice`` (a stage's ``on_enter``, e.g. b2b_credit's delivered): invoice whatever is
  not invoiced yet, with the order's default terms. Idempotent: nothing when the order is
  fully invoiced (an order entering the stage again, a job run twice).
- ``invoice.issued`` holds when the order has an invoice that is not void.
- ``payment.fully_paid`` holds when its payments add up to its total: an order paid before it
  reached ``invoiced`` moves on at once, and entering ``paid`` closes it by itself.
"""

from __future__ import annotations

import logging

from ordertrail.billing import service
from ordertrail.context import Ctx
from ordertrail.errors import OrdertrailError
from ordertrail.ops.automation import OrderRef, action, satisfied

log = logging.getLogger("ordertrail.billing")


@action("issue_invoice")
def issue_invoice(ctx: Ctx, ref: OrderRef) -> None:
    """Invoice the rest of the order (default terms); nothing if it is fully invoiced."""
    if service.not_invoiced(ctx.session, ref.id) <= 0:
        return
    try:
        with ctx.session.begin_nested():
            service.issue_invoice(ctx, ref.order_no)
    except OrdertrailError as exc:
        # Bad terms on the order, say: the order stays where it is for finance to invoice
        # by hand; a retry would fail the same way.
        log.warning("billing: issue_invoice for %s at %s skipped: %s", ref.order_no,
                    ref.stage, exc.detail("en"))


@satisfied("invoice.issued")
def invoiced(ctx: Ctx, ref: OrderRef) -> bool:
    return service.has_invoice(ctx.session, ref.id)


@satisfied("payment.fully_paid")
def fully_paid(ctx: Ctx, ref: OrderRef) -> bool:
    return service.fully_paid(ctx.session, ref.id)
