"""Helpers for production tests: products with BOMs, make-to-order orders, people."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.flow.plans import Advance
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, OutboxEvent, TimelineEntry
from ordertrail.models.inventory import Product
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from tests.conftest import ctx_for, order_body


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def pete(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Pete works in production."""
    return ctx_for(db, "pete", clock, settings)


@pytest.fixture
def alice(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Alice (sales) creates and accepts orders."""
    return ctx_for(db, "alice", clock, settings)


@pytest.fixture
def root(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    return ctx_for(db, "root", clock, settings)


def product(session: Session, sku: str, *, mto: bool = False,
            bom: dict[str, str] | None = None, at: datetime | None = None) -> None:
    """A product row (made to order with a BOM, or a plain stocked item)."""
    now = at or utc(2026, 11, 1)
    session.add(Product(sku=sku, name=sku.title(), unit="pcs", make_to_order=mto,
                        bom=[{"sku": k, "qty": v} for k, v in (bom or {}).items()],
                        created_at=now, updated_at=now))
    session.flush()


def catalog(session: Session) -> None:
    """A gearbox made to order from 2 gears and 4 bolts; gears and bolts stocked."""
    product(session, "GEAR-40")
    product(session, "BOLT-M8")
    product(session, "GEARBOX", mto=True, bom={"GEAR-40": "2", "BOLT-M8": "4"})
    product(session, "MANUAL")


def mto_order(ctx: Ctx, lines: list[dict[str, Any]] | None = None) -> Order:
    """A make-to-order order in review: 3 gearboxes and a manual (stocked)."""
    lines = lines or [
        {"sku": "GEARBOX", "name": "Gearbox", "qty": 3, "unit_price": "900.00"},
        {"sku": "MANUAL", "name": "Manual", "qty": 1, "unit_price": "5.00"}]
    return orders.create_order(ctx, OrderCreate.model_validate(
        order_body("make_to_order", lines=lines, promised_at=None)))


def accept(ctx: Ctx, order_no: str) -> None:
    orders.act(ctx, order_no, Advance(to="material_check"))


def stage_of(session: Session, order_no: str) -> str:
    session.expire_all()
    return session.scalars(select(Order.stage).where(Order.order_no == order_no)).one()


def timeline_kinds(session: Session, order_id: int) -> list[str]:
    return list(session.scalars(select(TimelineEntry.kind).where(
        TimelineEntry.order_id == order_id).order_by(TimelineEntry.id)))


def timeline_rows(session: Session, order_id: int, kind: str) -> list[TimelineEntry]:
    return list(session.scalars(select(TimelineEntry).where(
        TimelineEntry.order_id == order_id, TimelineEntry.kind == kind)
        .order_by(TimelineEntry.id)))


def events(session: Session, prefix: str) -> list[OutboxEvent]:
    return list(session.scalars(select(OutboxEvent).where(OutboxEvent.name.like(f"{prefix}%"))
                                .order_by(OutboxEvent.id)))


def dec(value: str | int) -> Decimal:
    return Decimal(str(value))
