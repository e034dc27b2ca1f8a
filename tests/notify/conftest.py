"""Helpers for notification tests: contexts, channels, alert events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.jobs.registry import Event
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import User
from ordertrail.models.notify import Notification, NotificationChannel, RecordedMessage


def system_ctx(session: Session, clock: FrozenClock, settings: Settings) -> Ctx:
    return Ctx(session=session, actor=SYSTEM_ACTOR, clock=clock, settings=settings)


@pytest.fixture
def sctx(db: Session, clock: FrozenClock, settings: Settings, people: Any) -> Ctx:
    """A system context over the test transaction, with the PEOPLE users present."""
    return system_ctx(db, clock, settings)


def add_channel(session: Session, clock: FrozenClock, owner_type: str, owner: str, url: str,
                **extra: Any) -> NotificationChannel:
    from ordertrail.notify.channels import kind_for

    row = NotificationChannel(owner_type=owner_type, owner=owner, kind=kind_for(url), url=url,
                              locale=extra.pop("locale", "zh-CN"),
                              quiet_calendar=extra.pop("quiet_calendar", None),
                              digest=extra.pop("digest", "none"),
                              enabled=extra.pop("enabled", True), created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def user_id(session: Session, name: str) -> int:
    return session.scalars(select(User.id).where(User.name == name)).one()


_seq = iter(range(1, 10_000))


def alert_event(name: str = "alert.opened", *, alert_id: int = 7, level: int = 1,
                kind: str = "stage_overdue", order_no: str | None = "SO20261121-00042",
                stage: str | None = "review", users: list[int] | None = None,
                roles: list[str] | None = None, **payload: Any) -> Event:
    body = {"alert_id": alert_id, "kind": kind, "severity": "critical", "state": "open",
            "level": level, "order_no": order_no, "shipment_id": None, "stage": stage,
            "title": {"en": "Review is overdue", "zh": "订单审核已超时"},
            "detail": {"en": "2 business hours passed", "zh": "已超过 2 个工作小时"},
            "due_at": "2026-11-20T04:00:00+00:00",
            "recipients": {"users": users or [], "roles": roles or []},
            "at": datetime(2026, 11, 20, 4, tzinfo=UTC).isoformat(), **payload}
    return Event(id=next(_seq), name=name, aggregate="alert", aggregate_id=str(alert_id),
                 payload=body, created_at=datetime(2026, 11, 20, 4, tzinfo=UTC))


def rows(session: Session, **where: Any) -> list[Notification]:
    stmt = select(Notification).order_by(Notification.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Notification, key) == value)
    return list(session.scalars(stmt))


def recorded(session: Session, target: str | None = None) -> list[RecordedMessage]:
    stmt = select(RecordedMessage).order_by(RecordedMessage.id)
    if target:
        stmt = stmt.where(RecordedMessage.target == target)
    return list(session.scalars(stmt))
