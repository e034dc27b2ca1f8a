"""inventory: products, warehouses, stock ledger, reservations (tables).

Stock levels are a cache of the movement ledger: every change of ``on_hand`` is one row in
``stock_movements`` written in the same statement group (inventory/ledger.py), and
``reserved`` is the sum of the open quantities of ``reservations`` on the row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.kit.types import ExactDecimal
from ordertrail.models.base import Base, BigId, Json, id_column

Qty = ExactDecimal(18, 3)


class Product(Base):
    """A SKU we stock or make; ``bom`` lists the components of a made-to-order product."""

    __tablename__ = "products"

    id: Mapped[int] = id_column()
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16))
    make_to_order: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"sku": "BOLT-M8", "qty": "4"}] (quantities as text: exact decimals in JSON)
    bom: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Warehouse(Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class StockLevel(Base):
    """What one warehouse holds of one SKU: the sum of its ledger (on_hand) and of its open
    reservations (reserved). Never on_hand < 0, never on_hand < reserved."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("sku", "warehouse_id", name="uq_stock_levels_sku_warehouse"),
        Index("ix_stock_levels_warehouse", "warehouse_id", "sku"),
    )

    id: Mapped[int] = id_column()
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("products.sku"))
    warehouse_id: Mapped[int] = mapped_column(BigId, ForeignKey("warehouses.id"))
    on_hand: Mapped[Decimal] = mapped_column(Qty)
    reserved: Mapped[Decimal] = mapped_column(Qty)
    updated_at: Mapped[datetime]


class StockMovement(Base):
    """One immutable ledger row: a signed change of on_hand with who, why and what for.

    A transfer is two rows (out leg < 0, in leg > 0) sharing ``transfer_id``.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_stock", "sku", "warehouse_id", "id"),
        Index("ix_stock_movements_ref", "ref_type", "ref_id"),
        Index("ix_stock_movements_order", "order_id", "id"),
        Index("ix_stock_movements_at", "at", "id"),
    )

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(16))  # receipt, issue, adjustment, transfer
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("products.sku"))
    warehouse_id: Mapped[int] = mapped_column(BigId, ForeignKey("warehouses.id"))
    qty: Mapped[Decimal] = mapped_column(Qty)          # signed
    balance: Mapped[Decimal] = mapped_column(Qty)      # on_hand after this movement
    transfer_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    ref_type: Mapped[str | None] = mapped_column(String(32))
    ref_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id",
                                                                   ondelete="SET NULL"))
    at: Mapped[datetime]


class Reservation(Base):
    """Stock held for one need of one order in one warehouse.

    ``purpose`` is ``need`` (a need line: the product, or a BOM component of a made-to-order
    line) or ``produced`` (finished goods production received for the line). Open quantity
    is ``qty - consumed - released``.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("order_id", "order_line_id", "sku", "warehouse_id", "purpose",
                         name="uq_reservations_need"),
        Index("ix_reservations_stock", "sku", "warehouse_id"),
    )

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id",
                                                                 ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("products.sku"))
    warehouse_id: Mapped[int] = mapped_column(BigId, ForeignKey("warehouses.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    component_of: Mapped[str | None] = mapped_column(String(64))
    qty: Mapped[Decimal] = mapped_column(Qty)
    consumed: Mapped[Decimal] = mapped_column(Qty)
    released: Mapped[Decimal] = mapped_column(Qty)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderStock(Base):
    """An order's reservation state: reserved, waiting (for stock), released or none (no
    tracked needs). ``shortfall`` is what was last told on the timeline."""

    __tablename__ = "order_stock"

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"),
                                          primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    shortfall: Mapped[dict[str, Any]]          # {sku: short qty as text}
    waiting_since: Mapped[datetime | None]
    expected_at: Mapped[datetime | None]
    reserved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class StockWait(Base):
    """One SKU an order waits for: how much is short, since when, expected when."""

    __tablename__ = "stock_waits"
    __table_args__ = (
        UniqueConstraint("order_id", "sku", name="uq_stock_waits_order_sku"),
        Index("ix_stock_waits_sku", "sku", "order_id"),
    )

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    short_qty: Mapped[Decimal] = mapped_column(Qty)
    since_at: Mapped[datetime]
    expected_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
