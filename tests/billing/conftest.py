"""Helpers for billing tests: orders at chosen stages, finance users acting on them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.billing import service
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.flow import planner
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, TimelineEntry
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from tests.conftest import ctx_for, order_body

# make_to_order up to delivered, by hand (the triggers' transitions allow people too).
TO_DELIVERED = ("material_check", "production", "qc", "outbound", "shipped", "delivered")


@pytest.fixture
def fin(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Fiona (finance)."""
    return ctx_for(db, "fiona", clock, settings)


@pytest.fixture
def sales(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    return ctx_for(db, "alice", clock, settings)


@pytest.fixture
def root(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    return ctx_for(db, "root", clock, settings)


def new_order(ctx: Ctx, flow: str = "make_to_order", *, total: str = "1000.00",
              **body: Any) -> str:
    """An order whose total is ``total`` (one line: 10 × total/10)."""
    price = Decimal(total) / 10
    body.setdefault("lines", [{"sku": "GEAR-40", "name": "Gear 40T", "qty": 10,
                               "unit_price": str(price)}])
    order = orders.create_order(ctx, OrderCreate.model_validate(order_body(flow, **body)))
    return order.order_no


def to_delivered(ctx: Ctx, order_no: str) -> None:
    for stage in TO_DELIVERED:
        orders.act(ctx, order_no, planner.Advance(stage))


def stage_of(db: Session, order_no: str) -> tuple[str, str]:
    db.expire_all()
    row = db.execute(select(Order.stage, Order.status).where(Order.order_no == order_no)).one()
    return row.stage, row.status


def timeline_kinds(db: Session, order_no: str) -> list[str]:
    oid = db.scalar(select(Order.id).where(Order.order_no == order_no))
    return list(db.scalars(select(TimelineEntry.kind).where(TimelineEntry.order_id == oid)
                           .order_by(TimelineEntry.id)))


def pay(ctx: Ctx, order_no: str | None, amount: str, **kw: Any) -> Any:
    return service.record_payment(ctx, service.PaymentRequest(
        amount=Decimal(amount), order_no=order_no, **kw))
