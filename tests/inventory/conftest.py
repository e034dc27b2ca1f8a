"""Helpers for inventory tests: a small catalog, orders of chosen lines, stock checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordertrail.auth import service as auth
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.inventory import service as inv
from ordertrail.inventory.schemas import BomItem, ProductCreate, WarehouseCreate
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import Order, OutboxEvent, TimelineEntry
from ordertrail.models.inventory import Reservation, StockLevel, StockMovement, Warehouse
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from tests.conftest import ctx_for, order_body

D = Decimal


@pytest.fixture
def wang(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Wang (warehouse) keeps the stock."""
    return ctx_for(db, "wang", clock, settings)


@pytest.fixture
def alice(db: Session, people: Any, clock: FrozenClock, settings: Settings) -> Ctx:
    """Alice (sales) takes orders."""
    return ctx_for(db, "alice", clock, settings)


@pytest.fixture
def catalog(wang: Ctx) -> Ctx:
    """Warehouses SZ1 and SH2; products GEAR-40, BOLT-M8, PLATE-1 and the made-to-order
    PUMP-7 (BOM: 2 BOLT-M8 + 1 PLATE-1)."""
    make_catalog(wang)
    return wang


def make_catalog(ctx: Ctx) -> None:
    for code, name in (("SZ1", "Shenzhen 1"), ("SH2", "Shanghai 2")):
        inv.create_warehouse(ctx, WarehouseCreate(code=code, name=name))
    for sku, name in (("GEAR-40", "Gear 40T"), ("BOLT-M8", "Bolt M8"), ("PLATE-1", "Plate")):
        inv.create_product(ctx, ProductCreate(sku=sku, name=name))
    inv.create_product(ctx, ProductCreate(
        sku="PUMP-7", name="Pump", make_to_order=True,
        bom=[BomItem(sku="BOLT-M8", qty=D(2)), BomItem(sku="PLATE-1", qty=D(1))]))


def receive(ctx: Ctx, sku: str, wh: str, qty: int | str, reason: str = "count") -> None:
    inv.receive(ctx, sku, wh, D(qty), reason=reason)


def new_order(ctx: Ctx, lines: list[tuple[str, int | str]], flow: str = "retail",
              **body: Any) -> Order:
    """An order of (sku, qty) lines, created (not reserved)."""
    order = orders.create_order(ctx, OrderCreate.model_validate(order_body(flow, lines=[
        {"sku": sku, "name": sku, "qty": str(q), "unit_price": "10"} for sku, q in lines],
        **body)))
    ctx.session.flush()
    return order


def level(db: Session, sku: str, wh: str) -> tuple[Decimal, Decimal]:
    db.expire_all()
    row = db.execute(select(StockLevel.on_hand, StockLevel.reserved)
                     .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
                     .where(StockLevel.sku == sku, Warehouse.code == wh)).first()
    return (row[0], row[1]) if row else (D(0), D(0))


def check_ledger(db: Session) -> None:
    """Every stock row equals its ledger (on_hand) and its open reservations (reserved),
    and breaks no rule."""
    db.expire_all()
    sums = dict(((r[0], r[1]), r[2]) for r in db.execute(
        select(StockMovement.sku, StockMovement.warehouse_id, func.sum(StockMovement.qty))
        .group_by(StockMovement.sku, StockMovement.warehouse_id)))
    held: dict[tuple[str, int], Decimal] = {}
    for r in db.scalars(select(Reservation)):
        key = (r.sku, r.warehouse_id)
        held[key] = held.get(key, D(0)) + r.qty - r.consumed - r.released
        assert r.qty - r.consumed - r.released >= 0
    for s in db.scalars(select(StockLevel)):
        key = (s.sku, s.warehouse_id)
        assert s.on_hand == sums.get(key, D(0)), key
        assert s.reserved == held.get(key, D(0)), key
        assert s.on_hand >= s.reserved >= 0, key


def timeline_kinds(db: Session, order_id: int, *kinds: str) -> list[TimelineEntry]:
    db.expire_all()
    return list(db.scalars(select(TimelineEntry).where(
        TimelineEntry.order_id == order_id, TimelineEntry.kind.in_(kinds))
        .order_by(TimelineEntry.id)))


def events(db: Session, name: str) -> list[OutboxEvent]:
    return list(db.scalars(select(OutboxEvent).where(OutboxEvent.name == name)
                           .order_by(OutboxEvent.id)))


def user(db: Session, name: str, roles: list[str], clock: FrozenClock,
         settings: Settings) -> Ctx:
    auth.create_user(db, name, roles, clock)
    return ctx_for(db, name, clock, settings)
