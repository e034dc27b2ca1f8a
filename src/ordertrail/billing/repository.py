"""Every query on invoices, payments and their allocations."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from ordertrail.models import Order, OrderLine
from ordertrail.models.billing import Invoice, InvoiceLine, Payment, PaymentAllocation

ZERO = Decimal("0.00")
LIVE = ("open", "partially_paid", "paid")
OPEN = ("open", "partially_paid")


def order_row(session: Session, *, order_no: str | None = None, order_id: int | None = None,
              lock: bool = False) -> Row[Any] | None:
    """The order's billing facts; ``lock``: FOR UPDATE on PostgreSQL, so that two payments
    or invoices of one order are checked one after the other (SQLite writes serially)."""
    stmt = select(Order.id, Order.order_no, Order.currency, Order.total, Order.status,
                  Order.custom, Order.customer_name, Order.stage)
    stmt = stmt.where(Order.order_no == order_no) if order_no is not None else stmt.where(
        Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).first()


def invoiced_total(session: Session, order_id: int) -> Decimal:
    return session.scalar(select(func.coalesce(func.sum(Invoice.amount), ZERO))
                          .where(Invoice.order_id == order_id,
                                 Invoice.status.in_(LIVE))) or ZERO


def paid_total(session: Session, order_id: int) -> Decimal:
    return session.scalar(select(func.coalesce(func.sum(Payment.amount), ZERO))
                          .where(Payment.order_id == order_id)) or ZERO


def has_live_invoice(session: Session, order_id: int) -> bool:
    return session.scalar(select(Invoice.id).where(Invoice.order_id == order_id,
                                                   Invoice.status.in_(LIVE)).limit(1)) is not None


def invoice_by_number(session: Session, number: str, *, lock: bool = False) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.number == number)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def open_invoices(session: Session, order_id: int) -> list[Invoice]:
    """The order's unpaid invoices, oldest due first (the order payments pay them in)."""
    return list(session.scalars(select(Invoice).where(Invoice.order_id == order_id,
                                                      Invoice.status.in_(OPEN))
                                .order_by(Invoice.due_at, Invoice.id)))


def unallocated_payments(session: Session, order_id: int) -> list[Payment]:
    """Prepayments and remainders, oldest received first."""
    return list(session.scalars(select(Payment).where(Payment.order_id == order_id,
                                                      Payment.unallocated > ZERO)
                                .order_by(Payment.received_at, Payment.id)))


def payment_by_reference(session: Session, source: str, reference: str) -> Payment | None:
    return session.scalars(select(Payment).where(Payment.source == source,
                                                 Payment.reference == reference)).first()


def order_lines(session: Session, order_id: int) -> dict[int, OrderLine]:
    return {ln.line_no: ln for ln in session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id))}


def invoiced_qty(session: Session, order_id: int) -> dict[int, Decimal]:
    """Quantity already invoiced per order line id (invoices that are not void)."""
    rows = session.execute(
        select(InvoiceLine.order_line_id, func.sum(InvoiceLine.qty))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.order_id == order_id, Invoice.status.in_(LIVE),
               InvoiceLine.order_line_id.is_not(None))
        .group_by(InvoiceLine.order_line_id))
    return {line_id: qty for line_id, qty in rows}


def lines_of(session: Session, invoice_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    out: dict[int, list[Row[Any]]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    rows = session.execute(
        select(InvoiceLine.invoice_id, InvoiceLine.line_no, OrderLine.line_no.label("order_line"),
               InvoiceLine.description, InvoiceLine.qty, InvoiceLine.amount)
        .outerjoin(OrderLine, OrderLine.id == InvoiceLine.order_line_id)
        .where(InvoiceLine.invoice_id.in_(invoice_ids))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.line_no))
    for row in rows:
        out[row.invoice_id].append(row)
    return out


def allocations_of(session: Session, *, invoice_ids: Sequence[int] = (),
                   payment_ids: Sequence[int] = ()) -> list[Row[Any]]:
    stmt = (select(PaymentAllocation.invoice_id, PaymentAllocation.payment_id,
                   PaymentAllocation.amount, PaymentAllocation.at, Invoice.number)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id))
    if invoice_ids:
        stmt = stmt.where(PaymentAllocation.invoice_id.in_(invoice_ids))
    elif payment_ids:
        stmt = stmt.where(PaymentAllocation.payment_id.in_(payment_ids))
    else:
        return []
    return list(session.execute(stmt.order_by(PaymentAllocation.at, PaymentAllocation.id)))


def orders_by_id(session: Session, ids: Sequence[int]) -> dict[int, Row[Any]]:
    if not ids:
        return {}
    rows = session.execute(select(Order.id, Order.order_no, Order.customer_name)
                           .where(Order.id.in_(sorted(set(ids)))))
    return {r.id: r for r in rows}


def list_invoices(session: Session, *, order_id: int | None, status: str | None,
                  overdue_before: Any | None, before_id: int | None, limit: int,
                  ) -> list[Invoice]:
    stmt = select(Invoice)
    if order_id is not None:
        stmt = stmt.where(Invoice.order_id == order_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    if overdue_before is not None:
        stmt = stmt.where(Invoice.status.in_(OPEN), Invoice.due_at < overdue_before)
    if before_id is not None:
        stmt = stmt.where(Invoice.id < before_id)
    return list(session.scalars(stmt.order_by(Invoice.id.desc()).limit(limit)))


def list_payments(session: Session, *, order_id: int | None, reference: str | None,
                  before_id: int | None, limit: int) -> list[Payment]:
    stmt = select(Payment)
    if order_id is not None:
        stmt = stmt.where(Payment.order_id == order_id)
    if reference is not None:
        stmt = stmt.where(Payment.reference == reference)
    if before_id is not None:
        stmt = stmt.where(Payment.id < before_id)
    return list(session.scalars(stmt.order_by(Payment.id.desc()).limit(limit)))
