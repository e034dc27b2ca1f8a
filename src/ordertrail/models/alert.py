"""Stage deadlines live on stage_visits; alerts and their escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.models.base import Base, BigId, id_column


class Alert(Base):
    """One alert per cause (``cause`` is unique): what is wrong, for whom, and how far it has
    been escalated. Opened, escalated and auto-resolved by the sweeper and the SLA consumers;
    acknowledged, assigned and resolved by people."""

    __tablename__ = "alerts"
    __table_args__ = (
        # The escalation sweep: open (unacknowledged) alerts by their next escalation time.
        Index("ix_alerts_escalate", "escalate_at",
              sqlite_where=text("state = 'open'"), postgresql_where=text("state = 'open'")),
        # The inbox: newest first, usually filtered by state.
        Index("ix_alerts_state", "state", "id"),
        Index("ix_alerts_order", "order_id", "state"),
        Index("ix_alerts_shipment", "shipment_id",
              sqlite_where=text("shipment_id IS NOT NULL"),
              postgresql_where=text("shipment_id IS NOT NULL")),
    )

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(String(128), unique=True)
    severity: Mapped[str] = mapped_column(String(16))  # info, warning, critical
    state: Mapped[str] = mapped_column(String(16))  # open, acknowledged, resolved, auto_resolved
    level: Mapped[int] = mapped_column(Integer, default=1)
    # No foreign key on order_id or visit_id: the sweeper opens thousands of alerts per
    # statement, and on PostgreSQL each referential check read (and key-share locked) the
    # order's row, a tenth of the sweep. Alerts are written only for orders the same
    # transaction has just read, and orders are never deleted (they are cancelled).
    order_id: Mapped[int | None] = mapped_column(BigId)
    order_no: Mapped[str | None] = mapped_column(String(64))
    shipment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shipments.id",
                                                                      ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(BigId)
    stage: Mapped[str | None] = mapped_column(String(64))
    responsible_role: Mapped[str | None] = mapped_column(String(32))
    responsible_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    title: Mapped[dict[str, Any]]  # {"en": ..., "zh": ...}
    detail: Mapped[dict[str, Any]]
    data: Mapped[dict[str, Any]]
    due_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    # Escalation: the next level's time (business time in calendar_id), None at the last level.
    calendar_id: Mapped[str | None] = mapped_column(String(32))
    escalate_after: Mapped[int | None] = mapped_column(Integer)  # business seconds per level
    escalation_roles: Mapped[list[str]]
    escalate_at: Mapped[datetime | None]
    last_escalated_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    acked_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
