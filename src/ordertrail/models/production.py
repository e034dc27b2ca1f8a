"""production: work centers, routings, work orders with their steps, components and QC."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.kit.types import ExactDecimal
from ordertrail.models.base import Base, BigId, id_column

QTY = ExactDecimal(18, 3)
MINUTES = ExactDecimal(18, 3)


class WorkCenter(Base):
    """Where steps run: ``capacity`` steps at once, counted in a business calendar."""

    __tablename__ = "work_centers"

    id: Mapped[int] = id_column()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    calendar_id: Mapped[str] = mapped_column(String(32), default="cn")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoutingStep(Base):
    """One step of a product's routing (steps run in ``seq`` order)."""

    __tablename__ = "routing_steps"
    __table_args__ = (UniqueConstraint("sku", "seq", name="uq_routing_steps_sku_seq"),)

    id: Mapped[int] = id_column()
    sku: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    work_center_id: Mapped[int] = mapped_column(BigId, ForeignKey("work_centers.id"))
    setup_minutes: Mapped[Decimal] = mapped_column(MINUTES)
    minutes_per_unit: Mapped[Decimal] = mapped_column(MINUTES)
    updated_at: Mapped[datetime]


class WorkOrder(Base):
    """Production of one make-to-order line.

    ``late_alert_state`` is what the sweeper still watches (see production/alerts.py):
    ``watch_start`` (planned start and finish), ``watch_finish`` (the finish only), ``raised``
    (both alerts done) or ``off`` (finished or cancelled). Each claim moves it forward with
    one conditional UPDATE, so an alert is opened once however many sweepers run.
    """

    __tablename__ = "work_orders"
    __table_args__ = (
        # One live work order per order line (planning is idempotent).
        Index("uq_work_orders_line", "order_line_id", unique=True,
              sqlite_where=text("status != 'cancelled'"),
              postgresql_where=text("status != 'cancelled'")),
        Index("ix_work_orders_order", "order_id"),
        Index("ix_work_orders_status", "status", "id"),
        # The late sweeps: due starts and due finishes still watched.
        Index("ix_work_orders_late_start", "planned_start",
              sqlite_where=text("late_alert_state = 'watch_start'"),
              postgresql_where=text("late_alert_state = 'watch_start'")),
        Index("ix_work_orders_late_finish", "planned_finish",
              sqlite_where=text("late_alert_state IN ('watch_start', 'watch_finish')"),
              postgresql_where=text("late_alert_state IN ('watch_start', 'watch_finish')")),
    )

    id: Mapped[int] = id_column()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id",
                                                                 ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[Decimal] = mapped_column(QTY)
    # planned, in_progress, completed (waiting for QC), rework, done, cancelled
    status: Mapped[str] = mapped_column(String(16))
    planned_start: Mapped[datetime]
    planned_finish: Mapped[datetime]
    actual_start: Mapped[datetime | None]
    actual_finish: Mapped[datetime | None]
    late_alert_state: Mapped[str] = mapped_column(String(16), default="watch_start")
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]


class WorkOrderStep(Base):
    """A step of one work order, copied from the routing when planned (or a rework step)."""

    __tablename__ = "work_order_steps"
    __table_args__ = (UniqueConstraint("work_order_id", "seq",
                                       name="uq_work_order_steps_work_order_id_seq"),
                      Index("ix_work_order_steps_center_open", "work_center_id",
                            "planned_finish", sqlite_where=text("actual_finish IS NULL"),
                            postgresql_where=text("actual_finish IS NULL")))

    id: Mapped[int] = id_column()
    work_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("work_orders.id",
                                                                 ondelete="CASCADE"))
    seq: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # routing, rework
    work_center_id: Mapped[int] = mapped_column(BigId, ForeignKey("work_centers.id"))
    setup_minutes: Mapped[Decimal] = mapped_column(MINUTES)
    minutes_per_unit: Mapped[Decimal] = mapped_column(MINUTES)
    planned_minutes: Mapped[Decimal] = mapped_column(MINUTES)
    planned_start: Mapped[datetime]
    planned_finish: Mapped[datetime]
    actual_start: Mapped[datetime | None]
    actual_finish: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class WorkOrderComponent(Base):
    """A BOM component of a work order: line quantity × BOM quantity."""

    __tablename__ = "work_order_components"
    __table_args__ = (UniqueConstraint("work_order_id", "sku",
                                       name="uq_work_order_components_work_order_id_sku"),)

    id: Mapped[int] = id_column()
    work_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("work_orders.id",
                                                                 ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[Decimal] = mapped_column(QTY)
    consumed_at: Mapped[datetime | None]


class QcResult(Base):
    """One quality check of a completed work order: pass or fail, why, and who."""

    __tablename__ = "work_order_qc"
    __table_args__ = (Index("ix_work_order_qc_work_order", "work_order_id", "id"),)

    id: Mapped[int] = id_column()
    work_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("work_orders.id",
                                                                 ondelete="CASCADE"))
    result: Mapped[str] = mapped_column(String(8))  # pass, fail
    note: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id",
                                                                     ondelete="SET NULL"))
    by_name: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
