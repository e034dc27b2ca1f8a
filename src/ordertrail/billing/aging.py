"""Receivable aging: what customers owe on invoices, by how long it is past due, as of a day.

As of day D (in the deployment's time zone): an invoice counts if it was issued by the end of
D and neither voided nor fully paid by then; what it still owed is its amount less the
allocations that had taken effect by then. Days past due are whole days from the due day to
D: 0 or less is ``current``, then 1–30, 31–60, 61–90 and over 90. Amounts in different
currencies are never added up: one row per customer and currency, one total per currency.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from ordertrail.billing.repository import ZERO
from ordertrail.billing.schemas import AgingBuckets, AgingReport, AgingRow, AgingTotal
from ordertrail.billing.terms import local_date
from ordertrail.context import Ctx
from ordertrail.models import Order
from ordertrail.models.billing import Invoice, PaymentAllocation

BUCKETS = ("current", "d1_30", "d31_60", "d61_90", "over_90")


def bucket_of(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "d1_30"
    if days_past_due <= 60:
        return "d31_60"
    if days_past_due <= 90:
        return "d61_90"
    return "over_90"


def _add(target: AgingBuckets, bucket: str, amount: Decimal) -> None:
    setattr(target, bucket, getattr(target, bucket) + amount)
    target.total += amount


def aging(ctx: Ctx, as_of: date | None = None) -> AgingReport:
    """Receivable aging per customer and in total, as of a day (default: today)."""
    tz = ctx.settings.timezone
    day = as_of or local_date(ctx.clock.now(), tz)
    end = datetime.combine(day, time(23, 59, 59, 999999), ZoneInfo(tz)).astimezone(UTC)
    paid = (select(PaymentAllocation.invoice_id,
                   func.sum(PaymentAllocation.amount).label("paid"))
            .where(PaymentAllocation.at <= end)
            .group_by(PaymentAllocation.invoice_id).subquery())
    rows = ctx.session.execute(
        select(Invoice.amount, Invoice.currency, Invoice.due_at, Order.customer_name,
               func.coalesce(paid.c.paid, ZERO).label("paid"))
        .join(Order, Order.id == Invoice.order_id)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.issued_at <= end,
               or_(Invoice.voided_at.is_(None), Invoice.voided_at > end),
               or_(Invoice.paid_at.is_(None), Invoice.paid_at > end)))
    customers: dict[tuple[str, str], AgingRow] = {}
    totals: dict[str, AgingTotal] = {}
    for r in rows:
        owed = r.amount - (r.paid or ZERO)
        if owed <= 0:
            continue
        bucket = bucket_of((day - local_date(r.due_at, tz)).days)
        row = customers.get((r.customer_name, r.currency))
        if row is None:
            row = customers[(r.customer_name, r.currency)] = AgingRow(
                customer=r.customer_name, currency=r.currency, invoices=0)
        total = totals.get(r.currency)
        if total is None:
            total = totals[r.currency] = AgingTotal(currency=r.currency, invoices=0)
        for target in (row, total):
            _add(target, bucket, owed)
            target.invoices += 1
    ordered = sorted(customers.values(), key=lambda c: (c.currency, -c.total, c.customer))
    return AgingReport(as_of=day, timezone=tz, customers=ordered,
                       totals=[totals[c] for c in sorted(totals)])
