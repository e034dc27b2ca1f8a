"""The order aggregate: order, lines, stage visits, timeline, approvals, numbering."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ordertrail.kit.types import ExactDecimal
from ordertrail.models.base import Base, BigId, id_column


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("external_source", "external_ref", name="uq_orders_external"),
        Index("ix_orders_stage_created", "stage", "created_at", "id"),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_flow_stage_created", "flow_id", "stage", "created_at", "id"),
        Index("ix_orders_stage_entered", "stage", "stage_entered_at", "id"),
        Index("ix_orders_promised", "promised_at", "id"),
        Index("ix_orders_customer_phone", "customer_phone"),
        Index("ix_orders_external_ref", "external_ref"),
    )

    id: Mapped[int] = id_column()
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    flow_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("flow_versions.id"))
    flow_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # active, on_hold, completed, cancelled
    stage_entered_at: Mapped[datetime]
    held_at: Mapped[datetime | None]

    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    customer_email: Mapped[str | None] = mapped_column(String(254))
    customer_country: Mapped[str | None] = mapped_column(String(2))
    customer_province: Mapped[str | None] = mapped_column(String(64))
    customer_city: Mapped[str | None] = mapped_column(String(64))
    customer_address: Mapped[str | None] = mapped_column(String(500))

    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    shipping_fee: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    discount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    total: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))
    line_count: Mapped[int]
    total_qty: Mapped[Decimal] = mapped_column(ExactDecimal(18, 3))
    channel: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16))
    promised_at: Mapped[datetime | None]
    external_source: Mapped[str | None] = mapped_column(String(64))
    external_ref: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[list[str]]
    custom: Mapped[dict[str, Any]]

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    lines: Mapped[list[OrderLine]] = relationship(
        lazy="raise", order_by="OrderLine.line_no", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": row_version}


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line"),)

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    qty: Mapped[Decimal] = mapped_column(ExactDecimal(18, 3))
    unit_price: Mapped[Decimal] = mapped_column(ExactDecimal(18, 4))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal(18, 2))


class StageVisit(Base):
    """One stay of an order in one stage: when it entered, when it left, who was responsible."""

    __tablename__ = "stage_visits"
    __table_args__ = (
        Index("ix_stage_visits_order", "order_id", "entered_at"),
        # At most one open visit per order; also the index behind "the current visit".
        Index("uq_stage_visits_open", "order_id", unique=True,
              sqlite_where=text("exited_at IS NULL"),
              postgresql_where=text("exited_at IS NULL")),
        # The sweeper's queues (sla/sweep.py): only deadlines not yet claimed are in them.
        Index("ix_stage_visits_warn", "warn_at",
              sqlite_where=text("warn_state = 'pending'"),
              postgresql_where=text("warn_state = 'pending'")),
        Index("ix_stage_visits_due", "due_at",
              sqlite_where=text("due_state = 'pending'"),
              postgresql_where=text("due_state = 'pending'")),
        Index("ix_stage_visits_late_risk", "late_risk_at",
              sqlite_where=text("late_state = 'pending'"),
              postgresql_where=text("late_state = 'pending'")),
    )

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime]
    exited_at: Mapped[datetime | None]
    responsible_role: Mapped[str | None] = mapped_column(String(32))
    responsible_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    sla_target: Mapped[str | None] = mapped_column(String(64))
    held_seconds: Mapped[int] = mapped_column(Integer, default=0)
    exit_reason: Mapped[str | None] = mapped_column(String(32))
    # Deadline (sla/deadlines.py): stored at entry, never recomputed on a tick. While the
    # order is held, due_at/warn_at are None and remaining_seconds keeps the business time
    # left; resuming sets them again from the resume time.
    calendar_id: Mapped[str | None] = mapped_column(String(32))
    target_seconds: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    late_risk_at: Mapped[datetime | None]
    # pending (the sweeper will claim it), raised (claimed), None (no deadline / closed)
    warn_state: Mapped[str | None] = mapped_column(String(8))
    due_state: Mapped[str | None] = mapped_column(String(8))
    late_state: Mapped[str | None] = mapped_column(String(8))
    outcome: Mapped[str | None] = mapped_column(String(8))  # met, breached
    variance_seconds: Mapped[int | None] = mapped_column(Integer)  # business s; < 0 early


class TimelineEntry(Base):
    """Append-only history: who did what, in which role, when, why and from where."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_order", "order_id", "at", "id"),)

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(32))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]


class Approval(Base):
    """One approver's decision on one level of one approval round (a stage visit)."""

    __tablename__ = "approvals"
    __table_args__ = (
        UniqueConstraint("visit_id", "level", "user_id", name="uq_approvals_visit_level_user"),
        Index("ix_approvals_order", "order_id"),
    )

    id: Mapped[int] = id_column()
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    visit_id: Mapped[int] = mapped_column(BigId, ForeignKey("stage_visits.id", ondelete="CASCADE"))
    level: Mapped[int]
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    user_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class OrderNumberCounter(Base):
    """Per-prefix counters for order numbers, bumped with an atomic upsert."""

    __tablename__ = "order_number_counters"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigId)
