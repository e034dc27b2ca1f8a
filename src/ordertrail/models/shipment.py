"""The shipment aggregate: parcels of an order, their lines, and append-only tracking events.

Also the carrier-facing side tables: pushes for numbers we do not know yet (unmatched),
pushes we could not read (dead letters) and per-provider credential rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.kit.types import ExactDecimal
from ordertrail.models.base import Base, BigId, id_column


class Shipment(Base):
    """One parcel: who carries it, where it is (unified status) and when we look next."""

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("carrier", "tracking_number", name="uq_shipments_carrier_number"),
        Index("ix_shipments_tracking_number", "tracking_number"),
        Index("ix_shipments_order", "order_id"),
        # The poller's queue: only shipments that still expect news are in it.
        Index("ix_shipments_next_check", "next_check_at",
              sqlite_where=text("next_check_at IS NOT NULL"),
              postgresql_where=text("next_check_at IS NOT NULL")),
        Index("ix_shipments_status", "status", "last_event_at"),
    )

    id: Mapped[int] = id_column()
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id",
                                                                   ondelete="CASCADE"))
    carrier: Mapped[str] = mapped_column(String(32))       # courier slug: sf, yto, ups...
    provider: Mapped[str] = mapped_column(String(32))      # tracking source: kuaidi100, sim...
    service: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    origin_city: Mapped[str | None] = mapped_column(String(64))
    origin_province: Mapped[str | None] = mapped_column(String(64))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    destination_city: Mapped[str | None] = mapped_column(String(64))
    destination_province: Mapped[str | None] = mapped_column(String(64))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    weight_kg: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    shipped_at: Mapped[datetime | None]
    carrier_eta: Mapped[datetime | None]
    eta: Mapped[datetime | None]

    status: Mapped[str] = mapped_column(String(24))
    substatus: Mapped[str] = mapped_column(String(48))
    progress_rank: Mapped[int] = mapped_column(Integer, default=0)
    last_event_at: Mapped[datetime | None]
    last_event: Mapped[str | None] = mapped_column(Text)
    last_location: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None]
    # last_event_at of the silence that raised a shipment_no_update alert (sla/sweep.py).
    silence_alerted_at: Mapped[datetime | None]
    event_count: Mapped[int] = mapped_column(Integer, default=0)

    registered_at: Mapped[datetime | None]                 # subscribed with the provider
    last_checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    check_failures: Mapped[int] = mapped_column(Integer, default=0)
    stopped_reason: Mapped[str | None] = mapped_column(String(200))
    meta: Mapped[dict[str, Any]]                           # what providers need to subscribe

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))


class ShipmentLine(Base):
    """How much of one order line travels in one shipment."""

    __tablename__ = "shipment_lines"
    __table_args__ = (
        UniqueConstraint("shipment_id", "order_line_id", name="uq_shipment_lines_line"),
        Index("ix_shipment_lines_order_line", "order_line_id"),
    )

    id: Mapped[int] = id_column()
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipments.id",
                                                               ondelete="CASCADE"))
    order_line_id: Mapped[int] = mapped_column(BigId, ForeignKey("order_lines.id",
                                                                 ondelete="CASCADE"))
    qty: Mapped[Decimal] = mapped_column(ExactDecimal(18, 3))


class TrackingEvent(Base):
    """One carrier checkpoint, stored once (``fingerprint``) whatever order it arrived in."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("shipment_id", "fingerprint", name="uq_tracking_events_fingerprint"),
        Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
    )

    id: Mapped[int] = id_column()
    shipment_id: Mapped[int] = mapped_column(BigId, ForeignKey("shipments.id",
                                                               ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(24))
    substatus: Mapped[str] = mapped_column(String(48))
    description: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))       # push, poll, manual, import
    received_at: Mapped[datetime]


class UnmatchedUpdate(Base):
    """A carrier update for a number no shipment has (yet); attached when one appears."""

    __tablename__ = "unmatched_updates"
    __table_args__ = (
        Index("ix_unmatched_updates_number", "tracking_number",
              sqlite_where=text("attached_at IS NULL"),
              postgresql_where=text("attached_at IS NULL")),
    )

    id: Mapped[int] = id_column()
    provider: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(64))
    courier: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    attached_at: Mapped[datetime | None]
    shipment_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shipments.id",
                                                                      ondelete="SET NULL"))


class WebhookDeadLetter(Base):
    """A signed push we could not read, kept raw so it can be inspected and replayed."""

    __tablename__ = "webhook_dead_letters"
    __table_args__ = (Index("ix_webhook_dead_letters_open", "replayed_at", "id"),)

    id: Mapped[int] = id_column()
    provider: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    content_type: Mapped[str | None] = mapped_column(String(200))
    headers: Mapped[dict[str, Any]]
    query: Mapped[dict[str, Any]]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None]
    replay_result: Mapped[str | None] = mapped_column(Text)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)


class CarrierAccount(Base):
    """Credentials for one provider kept in the database (they override settings)."""

    __tablename__ = "carrier_accounts"

    id: Mapped[int] = id_column()
    provider: Mapped[str] = mapped_column(String(32), unique=True)
    credentials: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
