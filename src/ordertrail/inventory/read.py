"""Read side of stock for orders: availability, reservations, waiting, shortages.

Availability of an order is four indexed queries whatever its size (order, lines with their
products, stock rows of its SKUs, its reservations): no query per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, any_, bindparam, null, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ordertrail.errors import NotFound
from ordertrail.i18n import Msg, render
from ordertrail.inventory.catalog import ZERO
from ordertrail.inventory.ledger import STOCK
from ordertrail.inventory.needs import fully_reserved, needs_by_number
from ordertrail.inventory.schemas import (
    AvailabilityRead,
    LineAvailability,
    ReservationRead,
    ReservationsRead,
    WarehouseAvailability,
)
from ordertrail.inventory.waits import sku_reason, waiting_reason
from ordertrail.models import Order, OrderLine
from ordertrail.models.inventory import OrderStock, Reservation, StockWait, Warehouse
from ordertrail.order.schemas import Label, WaitingItem, WaitingRead


@dataclass(frozen=True)
class Shortage:
    """A SKU open orders wait for: how much in all, which orders, since when."""

    sku: str
    short_qty: Decimal
    order_ids: list[int]
    waiting_since: datetime


def order_id_of(session: Session, order_no: str) -> int:
    oid = session.scalar(select(Order.id).where(Order.order_no == order_no))
    if oid is None:
        raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                       code="unknown_order")
    return int(oid)


_RES = Reservation.__table__


def _stock_and_mine(sku_filter: Any) -> Any:
    return union_all(
        select(STOCK.c.sku, STOCK.c.warehouse_id, Warehouse.__table__.c.code,
               STOCK.c.on_hand.label("a"), STOCK.c.reserved.label("b"),
               null().label("line_id"))
        .join(Warehouse.__table__, Warehouse.__table__.c.id == STOCK.c.warehouse_id)
        .where(sku_filter),
        select(_RES.c.sku, _RES.c.warehouse_id, null(), _RES.c.qty, _RES.c.released,
               _RES.c.order_line_id)
        .where(_RES.c.order_id == bindparam("oid"), _RES.c.purpose == "need"))


_STOCK_AND_MINE = _stock_and_mine(STOCK.c.sku.in_(bindparam("skus", expanding=True)))
# PostgreSQL: one array parameter, so the text is the same for every order (prepared once).
_STOCK_AND_MINE_PG = _stock_and_mine(
    STOCK.c.sku == any_(bindparam("skus", type_=ARRAY(String))))


def availability(session: Session, order_no: str) -> AvailabilityRead:
    """Per need line: reserved for the order, free stock per warehouse, and whether the line
    is available, partial or short (by how much)."""
    # Two prebuilt Core queries: the order with its need lines; then its SKUs' stock rows
    # and its own reservations together (a UNION ALL told apart by the line column).
    order_id, needs, untracked = needs_by_number(session, order_no)
    if order_id is None:
        raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                       code="unknown_order")
    skus = sorted({n.sku for n in needs})
    stock: dict[str, list[tuple[str, Decimal, Decimal, int]]] = {}
    held: dict[tuple[int, str, int], Decimal] = {}
    if skus:
        conn = session.connection()
        stmt = _STOCK_AND_MINE_PG if conn.dialect.name == "postgresql" else _STOCK_AND_MINE
        rows = conn.execute(stmt, {"skus": skus, "oid": order_id}).all()
        for sku, wid, code, a, b, _line in sorted(
                (r for r in rows if r[5] is None), key=lambda r: r[2]):
            stock.setdefault(sku, []).append((code, a, b, wid))
        for sku, wid, _code, qty, released, line_id in rows:
            if line_id is not None:
                held[(line_id, sku, wid)] = held.get((line_id, sku, wid), ZERO) + qty - released
    lines: list[LineAvailability] = []
    for n in needs:
        per_wh = []
        reserved_total = free_total = ZERO
        for code, on_hand, reserved, wid in stock.get(n.sku, []):
            mine = held.pop((n.order_line_id, n.sku, wid), ZERO)
            free = max(on_hand - reserved, ZERO)
            reserved_total += mine
            free_total += free
            per_wh.append(WarehouseAvailability(warehouse=code, on_hand=on_hand, available=free,
                                                reserved_for_order=mine))
        reserved_total = min(reserved_total, n.qty)
        short = max(n.qty - reserved_total - free_total, ZERO)
        state = ("available" if short == 0 else
                 "partial" if reserved_total + free_total > 0 else "short")
        lines.append(LineAvailability(
            line_no=n.line_no, sku=n.sku, component_of=n.component_of, qty=n.qty,
            reserved=reserved_total, available=free_total, state=state, short=short,
            warehouses=per_wh))
    states = {ln.state for ln in lines}
    overall = ("available" if states <= {"available"} else
               "short" if states == {"short"} else "partial")
    return AvailabilityRead(order_no=order_no, state=overall, lines=lines, untracked=untracked)


def waiting_of(session: Session, order_id: int) -> WaitingRead | None:
    """The order's "waiting for stock" record (reason per short SKU, expected date)."""
    rows = list(session.execute(select(StockWait.sku, StockWait.short_qty, StockWait.since_at,
                                       StockWait.expected_at)
                                .where(StockWait.order_id == order_id)
                                .order_by(StockWait.sku)))
    if not rows:
        return None
    shortfall = {r.sku: r.short_qty for r in rows}
    expected = {r.sku: r.expected_at for r in rows if r.expected_at is not None}
    dates = list(expected.values())
    return WaitingRead(
        kind="stock", since=min(r.since_at for r in rows),
        expected_at=min(dates) if dates else None,
        reason=_label(waiting_reason(shortfall, expected)),
        items=[WaitingItem(sku=r.sku, short_qty=r.short_qty, expected_at=r.expected_at,
                           reason=_label(sku_reason(r.sku, r.short_qty, r.expected_at)))
               for r in rows])


def _label(msg: Msg) -> Label:
    return Label(en=render(msg, "en"), zh=render(msg, "zh-CN"))


def reservations_read(session: Session, order_no: str) -> ReservationsRead:
    """The order's reservation rows, its state and what it waits for."""
    order_id = order_id_of(session, order_no)
    rows = session.execute(
        select(Reservation, Warehouse.code, OrderLine.line_no)
        .join(Warehouse, Warehouse.id == Reservation.warehouse_id)
        .join(OrderLine, OrderLine.id == Reservation.order_line_id)
        .where(Reservation.order_id == order_id)
        .order_by(OrderLine.line_no, Reservation.sku, Warehouse.code))
    items = [ReservationRead(line_no=line_no, sku=r.sku, component_of=r.component_of,
                             warehouse=code, purpose=r.purpose, qty=r.qty, consumed=r.consumed,
                             released=r.released, open=r.qty - r.consumed - r.released)
             for r, code, line_no in rows]
    st = session.get(OrderStock, order_id)
    full = fully_reserved(session, order_id)
    state = st.state if st is not None and st.state != "new" else ("reserved" if items
                                                                    else "none")
    return ReservationsRead(order_no=order_no, state=state, fully_reserved=full,
                            reserved_at=st.reserved_at if st else None, items=items,
                            waiting=waiting_of(session, order_id))


def shortages(session: Session) -> list[Shortage]:
    """What open orders wait for, per SKU (procurement suggests purchases from it)."""
    rows = session.execute(
        select(StockWait.sku, StockWait.order_id, StockWait.short_qty, StockWait.since_at)
        .join(Order, Order.id == StockWait.order_id)
        .where(Order.status.in_(("active", "on_hold")))
        .order_by(StockWait.sku, StockWait.order_id))
    out: dict[str, Shortage] = {}
    for sku, oid, short, since in rows:
        hit = out.get(sku)
        if hit is None:
            out[sku] = Shortage(sku, short, [oid], since)
        else:
            out[sku] = Shortage(sku, hit.short_qty + short, [*hit.order_ids, oid],
                                min(hit.waiting_since, since))
    return list(out.values())
