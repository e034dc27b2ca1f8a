"""Helpers for procurement tests: products, a warehouse, a supplier and orders waiting for
stock (reserved through inventory, so the shortages are real)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, TimelineEntry
from ordertrail.models.inventory import Product, Warehouse
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from ordertrail.procurement import service
from ordertrail.procurement.schemas import SupplierCreate
from tests.conftest import ctx_for, order_body

SKUS = ("BOLT-M8", "GEAR-40", "NUT-M8")


def add_catalog(session: Session, clock: FrozenClock) -> None:
    """Products BOLT-M8, GEAR-40, NUT-M8 and the warehouse MAIN (no stock)."""
    now = clock.now()
    session.add(Warehouse(code="MAIN", name="Main warehouse", created_at=now))
    for sku in SKUS:
        session.add(Product(sku=sku, name=sku, unit="pcs", make_to_order=False, bom=[],
                            created_at=now, updated_at=now))
    session.flush()


@pytest.fixture
def catalog(db: Session, clock: FrozenClock) -> None:
    add_catalog(db, clock)


@pytest.fixture
def buyer(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Grace (manager) buys."""
    return ctx_for(db, "grace", clock, settings)


@pytest.fixture
def acme(buyer: Ctx, catalog: None) -> str:
    service.create_supplier(buyer, SupplierCreate(code="ACME", name="Acme Metal 五金厂",
                                                  lead_time_days=5, locale="zh-CN"))
    return "ACME"


def waiting_order(ctx: Ctx, lines: dict[str, int]) -> tuple[int, str]:
    """A retail order for these SKUs, reserved (nothing in stock: it waits)."""
    from ordertrail.inventory import service as inventory

    body = order_body("retail", lines=[{"sku": sku, "name": sku, "qty": qty,
                                        "unit_price": "1.00"} for sku, qty in lines.items()])
    order = orders.create_order(ctx, OrderCreate.model_validate(body))
    system = Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)
    inventory.reserve_order(system, order.id)
    ctx.session.flush()
    return order.id, order.order_no


def timeline(db: Session, order_id: int, kind: str) -> list[TimelineEntry]:
    db.expire_all()
    return list(db.scalars(select(TimelineEntry).where(TimelineEntry.order_id == order_id,
                                                       TimelineEntry.kind == kind)
                           .order_by(TimelineEntry.id)))


def stage(db: Session, order_id: int) -> str:
    db.expire_all()
    return db.scalar(select(Order.stage).where(Order.id == order_id))


def on_hand(db: Session, sku: str) -> Decimal:
    from sqlalchemy import func

    from ordertrail.models.inventory import StockLevel

    db.expire_all()
    return db.scalar(select(func.coalesce(func.sum(StockLevel.on_hand), 0))
                     .where(StockLevel.sku == sku)) or Decimal(0)
