"""The read side of billing: invoices, payments and an order's billing summary as API shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ordertrail.billing import repository as repo
from ordertrail.billing import service
from ordertrail.billing.schemas import (
    AllocationRead,
    BillingSummary,
    InvoiceLineRead,
    InvoicePage,
    InvoiceRead,
    PaymentPage,
    PaymentRead,
)
from ordertrail.billing.terms import local_date
from ordertrail.context import Ctx
from ordertrail.errors import Invalid
from ordertrail.i18n import Msg
from ordertrail.models.billing import Invoice, Payment

ZERO = repo.ZERO


def _alloc(row: Any) -> AllocationRead:
    return AllocationRead(invoice=row.number, payment_id=row.payment_id, amount=row.amount,
                          at=row.at)


def invoice_reads(ctx: Ctx, invoices: Sequence[Invoice]) -> list[InvoiceRead]:
    """Invoices with their lines and allocations (three queries for any number)."""
    ids = [i.id for i in invoices]
    orders = repo.orders_by_id(ctx.session, [i.order_id for i in invoices])
    lines = repo.lines_of(ctx.session, ids)
    allocs: dict[int, list[AllocationRead]] = {i: [] for i in ids}
    for row in repo.allocations_of(ctx.session, invoice_ids=ids):
        allocs[row.invoice_id].append(_alloc(row))
    now, tz = ctx.clock.now(), ctx.settings.timezone
    today = local_date(now, tz)
    out = []
    for inv in invoices:
        order = orders[inv.order_id]
        due = local_date(inv.due_at, tz)
        unpaid = inv.status in repo.OPEN
        late = (today - due).days if unpaid else 0
        out.append(InvoiceRead(
            number=inv.number, order_no=order.order_no, customer=order.customer_name,
            currency=inv.currency, amount=inv.amount, paid_amount=inv.paid_amount,
            open_amount=inv.amount - inv.paid_amount if unpaid else ZERO,
            status=inv.status, terms=inv.terms, issued_at=inv.issued_at, due_at=inv.due_at,
            due_date=due, overdue=unpaid and now > inv.due_at, days_overdue=max(late, 0),
            paid_at=inv.paid_at, voided_at=inv.voided_at, void_reason=inv.void_reason,
            note=inv.note, issued_by=inv.created_by_name,
            lines=[InvoiceLineRead(line_no=ln.line_no, order_line_no=ln.order_line,
                                   description=ln.description, qty=ln.qty, amount=ln.amount)
                   for ln in lines[inv.id]],
            allocations=allocs[inv.id]))
    return out


def invoice_read(ctx: Ctx, invoice: Invoice) -> InvoiceRead:
    return invoice_reads(ctx, [invoice])[0]


def payment_reads(ctx: Ctx, payments: Sequence[Payment],
                  duplicate: bool = False) -> list[PaymentRead]:
    ids = [p.id for p in payments]
    orders = repo.orders_by_id(ctx.session, [p.order_id for p in payments])
    allocs: dict[int, list[AllocationRead]] = {i: [] for i in ids}
    for row in repo.allocations_of(ctx.session, payment_ids=ids):
        allocs[row.payment_id].append(_alloc(row))
    return [PaymentRead(
        id=p.id, order_no=orders[p.order_id].order_no, amount=p.amount, currency=p.currency,
        unallocated=p.unallocated, received_at=p.received_at, method=p.method,
        source=p.source, reference=p.reference, payer=p.payer, note=p.note,
        recorded_by=p.created_by_name, created_at=p.created_at, import_id=p.import_id,
        allocations=allocs[p.id], duplicate=duplicate) for p in payments]


def payment_read(ctx: Ctx, payment: Payment, duplicate: bool = False) -> PaymentRead:
    return payment_reads(ctx, [payment], duplicate)[0]


def _cursor(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise Invalid(Msg("cursor: use the next_cursor of the previous page."),
                      field="cursor")
    return int(text)


def _order_id(ctx: Ctx, order_no: str | None) -> int | None:
    if order_no is None:
        return None
    return service.load_order(ctx, order_no, lock=False).id


STATUSES = ("open", "partially_paid", "paid", "void")


def invoice_page(ctx: Ctx, *, order_no: str | None = None, status: str | None = None,
                 overdue: bool = False, cursor: str | None = None,
                 limit: int = 50) -> InvoicePage:
    """Invoices, newest first; ``overdue``: unpaid and past due now."""
    if status is not None and status not in STATUSES:
        raise Invalid(Msg("status: use one of {statuses}.", {"statuses": list(STATUSES)}),
                      field="status")
    rows = repo.list_invoices(ctx.session, order_id=_order_id(ctx, order_no), status=status,
                              overdue_before=ctx.clock.now() if overdue else None,
                              before_id=_cursor(cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return InvoicePage(items=invoice_reads(ctx, rows),
                       next_cursor=str(rows[-1].id) if more else None)


def payment_page(ctx: Ctx, *, order_no: str | None = None, reference: str | None = None,
                 cursor: str | None = None, limit: int = 50) -> PaymentPage:
    """Payments, newest recorded first."""
    rows = repo.list_payments(ctx.session, order_id=_order_id(ctx, order_no),
                              reference=reference, before_id=_cursor(cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return PaymentPage(items=payment_reads(ctx, rows),
                       next_cursor=str(rows[-1].id) if more else None)


def summary(ctx: Ctx, order_no: str) -> BillingSummary:
    """What an order costs, what is invoiced and paid, and what is still owed."""
    order = service.load_order(ctx, order_no, lock=False)
    invoices = list(reversed(repo.list_invoices(ctx.session, order_id=order.id, status=None,
                                                overdue_before=None, before_id=None,
                                                limit=10_000)))
    payments = list(reversed(repo.list_payments(ctx.session, order_id=order.id,
                                                reference=None, before_id=None,
                                                limit=10_000)))
    inv = invoice_reads(ctx, invoices)
    invoiced = sum((i.amount for i in inv if i.status != "void"), ZERO)
    paid = sum((p.amount for p in payments), ZERO)
    return BillingSummary(
        order_no=order.order_no, customer=order.customer_name, currency=order.currency,
        total=order.total, invoiced=invoiced, not_invoiced=max(order.total - invoiced, ZERO),
        paid=paid, outstanding=order.total - paid,
        unallocated=sum((p.unallocated for p in payments), ZERO),
        overdue=sum((i.open_amount for i in inv if i.overdue), ZERO),
        fully_paid=paid >= order.total, invoices=inv, payments=payment_reads(ctx, payments))
