"""Outbound webhooks: endpoints (subscriptions), messages (one per event and endpoint) and
delivery attempts (one row per HTTP try)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.models.base import Base, BigId, id_column


class WebhookEndpoint(Base):
    """A receiver URL, the events it wants, its signing secret and its delivery state.

    ``next_attempt_at`` holds the endpoint back after a failed try (its messages wait in
    order); ``lease_owner``/``lease_until`` let one worker at a time deliver to it.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = id_column()
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    events: Mapped[list[str]]                      # exact names, "prefix.*" or "*"
    secret: Mapped[str] = mapped_column(String(100))   # whsec_<base64>
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    failure_streak: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id",
                                                                     ondelete="SET NULL"))
    updated_at: Mapped[datetime]


class WebhookMessage(Base):
    """One event for one endpoint; ``msg_id`` is its ``webhook-id`` on every try and replay."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_messages_endpoint_event"),
        UniqueConstraint("msg_id", name="uq_webhook_messages_msg_id"),
        # The delivery queue: an endpoint's pending messages in order.
        Index("ix_webhook_messages_pending", "endpoint_id", "id",
              sqlite_where=text("state = 'pending'"),
              postgresql_where=text("state = 'pending'")),
        Index("ix_webhook_messages_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = id_column()
    endpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id",
                                                               ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigId)   # the outbox event (none for tests)
    event_type: Mapped[str] = mapped_column(String(64))
    msg_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]                       # {type, timestamp, data}
    state: Mapped[str] = mapped_column(String(16))        # pending | delivered | failed
    trigger: Mapped[str] = mapped_column(String(8), default="auto")  # of the next try
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP try of a message: what came back and how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_message", "message_id", "id"),
                      Index("ix_webhook_attempts_endpoint", "endpoint_id", "at"))

    id: Mapped[int] = id_column()
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_messages.id",
                                                              ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id",
                                                               ondelete="CASCADE"))
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    trigger: Mapped[str] = mapped_column(String(8))       # auto | replay
