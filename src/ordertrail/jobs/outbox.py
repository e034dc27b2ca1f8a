"""Write domain events to the outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ordertrail.models import OutboxEvent


def emit(session: Session, name: str, aggregate: str, aggregate_id: str,
         payload: dict[str, Any], at: datetime) -> OutboxEvent:
    """Add one event; it exists only if the surrounding transaction commits."""
    event = OutboxEvent(name=name, aggregate=aggregate, aggregate_id=aggregate_id,
                        payload=payload, created_at=at, available_at=at, attempts=0)
    session.add(event)
    return event
