"""Helpers for SLA tests: retail orders at chosen moments, the open visit, alert counts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import OutboxEvent, StageVisit, User
from ordertrail.models.alert import Alert
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from ordertrail.sla import deadlines
from tests.conftest import ctx_for, order_body


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh_typical() -> Iterator[None]:
    deadlines.clear_cache()
    yield
    deadlines.clear_cache()


@pytest.fixture
def sam(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Sam (service) answers for retail review; Grace (manager) is Sam's manager."""
    users = {u.name: u for u in db.scalars(select(User))}
    users["sam"].manager_id = users["grace"].id
    db.flush()
    return ctx_for(db, "sam", clock, settings)


def retail_order(ctx: Ctx, **body: Any) -> str:
    body.setdefault("promised_at", None)
    order = orders.create_order(ctx, OrderCreate.model_validate(order_body("retail", **body)))
    return order.order_no


def open_visit(db: Session, order_no: str) -> StageVisit:
    from ordertrail.models import Order

    order = db.scalars(select(Order).where(Order.order_no == order_no)).one()
    db.expire_all()
    return db.scalars(select(StageVisit).where(StageVisit.order_id == order.id,
                                               StageVisit.exited_at.is_(None))).one()


def visits(db: Session, order_no: str) -> list[StageVisit]:
    from ordertrail.models import Order

    order = db.scalars(select(Order).where(Order.order_no == order_no)).one()
    db.expire_all()
    return list(db.scalars(select(StageVisit).where(StageVisit.order_id == order.id)
                           .order_by(StageVisit.id)))


def alerts_of(db: Session, order_no: str | None = None) -> list[Alert]:
    db.expire_all()
    stmt = select(Alert).order_by(Alert.id)
    if order_no is not None:
        stmt = stmt.where(Alert.order_no == order_no)
    return list(db.scalars(stmt))


def events(db: Session, name: str) -> list[OutboxEvent]:
    return list(db.scalars(select(OutboxEvent).where(OutboxEvent.name == name)
                           .order_by(OutboxEvent.id)))


def count_events(db: Session, name: str) -> int:
    return db.scalar(select(func.count()).select_from(OutboxEvent)
                     .where(OutboxEvent.name == name)) or 0


