"""billing: invoices, payments, payment imports (tables).

Amounts are exact decimals in the order's currency. ``invoices.paid_amount`` and
``payments.unallocated`` are kept in step with ``payment_allocations`` (the only record of which
payment paid which invoice) by the billing service, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.kit.types import ExactDecimal
from ordertrail.models.base import Base, BigId, id_column

_PENDING = text("overdue_alert_state = 'pending'")


class Invoice(Base):
    """An invoice for (part of) an order. Status: open, partially_paid, paid, void."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_order", "order_id", "id"),
        Index("ix_invoices_status_due", "status", "due_at"),
        # The payment_overdue sweep: only invoices whose overdue alert is not yet claimed.
        Index("ix_invoices_overdue", "due_at", sqlite_where=_PENDING,
              postgresql_where=_PENDING),
    )

    id: Mapped[int] = id_column()
    number: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    paid_amount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    status: Mapped[str] = mapped_column(String(16))
    terms: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime]
    due_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    # pending (the sweeper will claim it once due), raised (alert opened), None (settled)
    overdue_alert_state: Mapped[str | None] = mapped_column(String(8))
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_by_name: Mapped[str] = mapped_column(String(128))


class InvoiceLine(Base):
    """What an invoice bills: part or all of an order line."""

    __tablename__ = "invoice_lines"
    __table_args__ = (Index("ix_invoice_lines_invoice", "invoice_id", "line_no"),
                      Index("ix_invoice_lines_order_line", "order_line_id"))

    id: Mapped[int] = id_column()
    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("invoices.id",
                                                              ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    order_line_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("order_lines.id",
                                                                        ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(200))
    qty: Mapped[Decimal] = mapped_column(ExactDecimal(18, 3))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))


class PaymentImport(Base):
    """One applied CSV import of payments (dry runs leave no row): who, what, and its report."""

    __tablename__ = "payment_imports"

    id: Mapped[int] = id_column()
    source: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    rows: Mapped[int] = mapped_column(Integer)
    applied: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]]


class Payment(Base):
    """Money received for an order. ``reference`` (the bank's or gateway's transaction id) is
    unique per ``source``: recording or importing the same one again is a no-op."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("source", "reference", name="uq_payments_source_reference"),
        Index("ix_payments_order", "order_id", "received_at"),
        Index("ix_payments_received", "received_at", "id"),
    )

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    # Not yet allocated to an invoice (a prepayment): goes to the next invoice issued.
    unallocated: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    received_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(128))
    payer: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    import_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("payment_imports.id",
                                                                    ondelete="SET NULL"))
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_by_name: Mapped[str] = mapped_column(String(128))


class PaymentAllocation(Base):
    """Part of a payment applied to an invoice. ``at`` is when it took effect (the later of
    the payment's receipt and the invoice's issue): receivable aging as of a date counts it
    from then."""

    __tablename__ = "payment_allocations"
    __table_args__ = (Index("ix_payment_allocations_invoice", "invoice_id", "at"),
                      Index("ix_payment_allocations_payment", "payment_id"))

    id: Mapped[int] = id_column()
    payment_id: Mapped[int] = mapped_column(BigId, ForeignKey("payments.id",
                                                              ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(BigId, ForeignKey("invoices.id",
                                                              ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    at: Mapped[datetime]
