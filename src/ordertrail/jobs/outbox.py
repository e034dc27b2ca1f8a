"""Write domain events to the outbox, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ordertrail.db import insert_rows
from ordertrail.models import OutboxEvent


def emit(session: Session, name: str, aggregate: str, aggregate_id: str,
         payload: dict[str, Any], at: datetime) -> None:
    """Add one event; it exists only if the surrounding transaction commits."""
    emit_many(session, [(name, aggregate, aggregate_id, payload)], at)


def emit_many(session: Session, events: Iterable[tuple[str, str, str, dict[str, Any]]],
              at: datetime) -> None:
    """Add many events (name, aggregate, aggregate_id, payload) with one bulk insert."""
    rows = [{"name": name, "aggregate": aggregate, "aggregate_id": aggregate_id,
             "payload": payload, "created_at": at, "available_at": at, "processed_at": None,
             "attempts": 0, "last_error": None}
            for name, aggregate, aggregate_id, payload in events]
    if rows:
        insert_rows(session.connection(), OutboxEvent.__table__, rows)
