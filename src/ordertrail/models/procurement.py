"""procurement: suppliers, purchase orders, supplier updates, receipts (tables).

A purchase order's lines keep what was asked (``qty``) and what arrived (``received_qty``);
its history keeps every date change with who made it (the supplier through the signed link,
or staff); its served orders are the waiting orders it was bought for.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.kit.types import ExactDecimal
from ordertrail.models.base import Base, BigId, Json, id_column

Qty = ExactDecimal(18, 3)
Price = ExactDecimal(18, 4)


class Supplier(Base):
    """Who we buy from; ``locale`` picks the language of their link page."""

    __tablename__ = "suppliers"

    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7)
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PurchaseOrder(Base):
    """One order to a supplier: its dates (asked and promised), status and inbound parcel."""

    __tablename__ = "purchase_orders"
    __table_args__ = (
        Index("ix_purchase_orders_status", "status", "id"),
        Index("ix_purchase_orders_supplier", "supplier_id", "id"),
        Index("ix_purchase_orders_shipment", "shipment_id"),
    )

    id: Mapped[int] = id_column()
    po_no: Mapped[str] = mapped_column(String(64), unique=True)
    supplier_id: Mapped[int] = mapped_column(BigId, ForeignKey("suppliers.id"))
    warehouse: Mapped[str] = mapped_column(String(32))         # warehouse code
    # draft, sent, confirmed, partially_received, received, cancelled
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    expected_at: Mapped[datetime | None]                       # what we asked for
    confirmed_at: Mapped[datetime | None]                      # what the supplier promised
    note: Mapped[str | None] = mapped_column(Text)
    shipment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shipments.id",
                                                                      ondelete="SET NULL"))
    receive_on_delivery: Mapped[bool] = mapped_column(Boolean, default=True)
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id",
                                                                     ondelete="SET NULL"))


class PurchaseOrderLine(Base):
    """One SKU of a purchase order (a SKU appears once per order)."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("po_id", "sku", name="uq_purchase_order_lines_po_sku"),
        Index("ix_purchase_order_lines_sku", "sku", "po_id"),
    )

    id: Mapped[int] = id_column()
    po_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id",
                                                         ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[Decimal] = mapped_column(Qty)
    unit_price: Mapped[Decimal] = mapped_column(Price)
    received_qty: Mapped[Decimal] = mapped_column(Qty)


class PurchaseOrderOrder(Base):
    """A waiting order a purchase order was made for, and for which SKU (and how much was
    short then)."""

    __tablename__ = "purchase_order_orders"
    __table_args__ = (Index("ix_purchase_order_orders_order", "order_id"),)

    po_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id",
                                                         ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"),
                                          primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    short_qty: Mapped[Decimal | None] = mapped_column(Qty)
    linked_at: Mapped[datetime]


class PurchaseOrderHistory(Base):
    """Append-only: what happened to a purchase order, who did it and from where.

    ``kind``: created, sent, confirmed, date_changed, tracking, received, cancelled,
    in_transit. ``source``: supplier (the signed link or its API), api, cli, carrier, system.
    """

    __tablename__ = "purchase_order_history"
    __table_args__ = (Index("ix_purchase_order_history_po", "po_id", "at", "id"),)

    id: Mapped[int] = id_column()
    po_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase_orders.id",
                                                         ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))
    old_date: Mapped[datetime | None]
    new_date: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
