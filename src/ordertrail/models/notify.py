"""Notification channels, the delivery log, template overrides and the recording channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.models.base import Base, id_column


class NotificationChannel(Base):
    """Where one user or every holder of one role is told: an Apprise URL and preferences."""

    __tablename__ = "notification_channels"
    __table_args__ = (Index("ix_notification_channels_owner", "owner_type", "owner", "id"),)

    id: Mapped[int] = id_column()
    owner_type: Mapped[str] = mapped_column(String(8))  # user | role
    owner: Mapped[str] = mapped_column(String(64))  # user name or role name
    kind: Mapped[str] = mapped_column(String(16))  # email, sms, wecom, ..., record
    url: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8))
    quiet_calendar: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(8), default="none")  # none | hourly | daily
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Notification(Base):
    """One message to one recipient on one channel: the delivery log and the send queue."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The pump's claim: due rows by state and time.
        Index("ix_notifications_due", "state", "send_after", "id"),
        Index("ix_notifications_order", "order_no", "id"),
        Index("ix_notifications_alert", "alert_id", "id"),
        # The digest job: held rows per channel.
        Index("ix_notifications_digest", "channel_id", "state", "id"),
    )

    id: Mapped[int] = id_column()
    created_at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))  # template kind (stage_overdue, shipped, ...)
    alert_id: Mapped[int | None] = mapped_column(BigInteger)
    order_no: Mapped[str | None] = mapped_column(String(64))
    shipment_id: Mapped[int | None] = mapped_column(BigInteger)
    recipient_type: Mapped[str] = mapped_column(String(8))  # user | role | customer
    recipient: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))  # in_app, email, sms, wecom, ...
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str | None] = mapped_column(String(254))  # masked, for display
    url: Mapped[str | None] = mapped_column(Text)  # the Apprise URL; never shown
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # queued | deferred | held (waits for its digest) | sending | sent | failed | dead
    # | skipped | digested (went out inside a digest)
    state: Mapped[str] = mapped_column(String(10))
    send_after: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    digest_id: Mapped[int | None] = mapped_column(BigInteger)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)


class NotificationTemplate(Base):
    """A template override for one message kind in one locale (files are the default)."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("kind", "locale", name="uq_notification_templates_kind"),)

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(64))


class RecordedMessage(Base):
    """What the recording channel (``record://``) 'sent', for tests and the demo."""

    __tablename__ = "recorded_messages"
    __table_args__ = (Index("ix_recorded_messages_target", "target", "id"),)

    id: Mapped[int] = id_column()
    at: Mapped[datetime]
    target: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]]
    notification_id: Mapped[int | None] = mapped_column(BigInteger)


class InstallSecret(Base):
    """Per-install secrets generated on first use (e.g. the tracking-link key)."""

    __tablename__ = "install_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
