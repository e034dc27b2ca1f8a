"""The stock ledger: every change of on_hand is one immutable movement row, written together
with one conditional statement on the stock row, so the row always equals its ledger.

The stock row is changed by a single UPDATE whose WHERE clause holds the rule (never
``on_hand < 0``, never ``on_hand < reserved``): concurrent writers cannot both pass it, on
SQLite (one writer at a time) or on PostgreSQL (the second UPDATE re-checks the row after the
first commits). A refused change raises and leaves nothing behind.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Invalid, NotFound
from ordertrail.i18n import Msg
from ordertrail.inventory.catalog import (
    RECEIVE_ROLES,
    STOCK_ROLES,
    ZERO,
    qty_text,
    refuse,
    require,
    warehouse_id,
)
from ordertrail.inventory.schemas import (
    MovementIn,
    MovementPage,
    MovementRead,
    StockList,
    StockRead,
)
from ordertrail.jobs.outbox import emit
from ordertrail.models import Order
from ordertrail.models.inventory import Product, Qty, StockLevel, StockMovement, Warehouse

STOCK = StockLevel.__table__
MOVES = StockMovement.__table__
EVENT_OF = {"receipt": "stock.received", "issue": "stock.issued",
            "adjustment": "stock.adjusted", "transfer": "stock.transferred"}


@dataclass(frozen=True)
class Movement:
    """A ledger row as written."""

    id: int
    kind: str
    sku: str
    warehouse: str
    qty: Decimal
    balance: Decimal
    transfer_id: str | None
    at: datetime


def _q(name: str) -> Any:
    return bindparam(name, type_=Qty)


@functools.cache
def _add_stmt(dialect: str) -> Any:
    """Add to on_hand, creating the stock row on its first movement."""
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    return (ins(STOCK).values(sku=bindparam("b_sku"), warehouse_id=bindparam("wid"),
                              on_hand=_q("d"), reserved=_q("zero"), updated_at=bindparam("now"))
            .on_conflict_do_update(index_elements=["sku", "warehouse_id"],
                                   set_={"on_hand": STOCK.c.on_hand + _q("d"),
                                         "updated_at": bindparam("now")})
            .returning(STOCK.c.on_hand))


# Take from on_hand (and, when consuming a reservation, from reserved) only if the rule holds
# afterwards. One statement: the check and the change cannot be separated by another writer.
_TAKE = (update(STOCK)
         .where(STOCK.c.sku == bindparam("b_sku"), STOCK.c.warehouse_id == bindparam("wid"),
                STOCK.c.on_hand + _q("d") >= STOCK.c.reserved + _q("rd"),
                STOCK.c.reserved + _q("rd") >= _q("zero"))
         .values(on_hand=STOCK.c.on_hand + _q("d"), reserved=STOCK.c.reserved + _q("rd"),
                 updated_at=bindparam("now"))
         .returning(STOCK.c.on_hand))


def change_on_hand(ctx: Ctx, *, kind: str, sku: str, wid: int, code: str, delta: Decimal,
                   reason: str, reserved_delta: Decimal = ZERO, ref_type: str | None = None,
                   ref_id: str | None = None, order_id: int | None = None,
                   transfer_id: str | None = None) -> Movement | None:
    """Write one movement and apply it to the stock row; None when the rule would break
    (the caller refuses or takes less)."""
    s = ctx.session
    now = ctx.clock.now()
    if delta > 0 and not reserved_delta:
        balance = s.execute(_add_stmt(s.get_bind().dialect.name),
                            {"b_sku": sku, "wid": wid, "d": delta, "zero": ZERO,
                             "now": now}).scalar_one()
    else:
        balance = s.execute(_TAKE, {"b_sku": sku, "wid": wid, "d": delta, "rd": reserved_delta,
                                    "zero": ZERO, "now": now}).scalar_one_or_none()
        if balance is None:
            return None
    actor = ctx.actor
    mid = s.execute(insert(MOVES).returning(MOVES.c.id), {
        "kind": kind, "sku": sku, "warehouse_id": wid, "qty": delta, "balance": balance,
        "transfer_id": transfer_id, "actor": actor.name, "actor_id": actor.user_id,
        "reason": reason, "ref_type": ref_type, "ref_id": ref_id, "order_id": order_id,
        "at": now}).scalar_one()
    return Movement(mid, kind, sku, code, delta, balance, transfer_id, now)


def stock_row(session: Session, sku: str, wid: int) -> tuple[Decimal, Decimal]:
    row = session.execute(select(STOCK.c.on_hand, STOCK.c.reserved).where(
        STOCK.c.sku == sku, STOCK.c.warehouse_id == wid)).first()
    return (row[0], row[1]) if row else (ZERO, ZERO)


def _not_enough(ctx: Ctx, sku: str, wid: int, code: str, want: Decimal, label: str) -> Conflict:
    on_hand, reserved = stock_row(ctx.session, sku, wid)
    return refuse(ctx, Conflict(Msg(
        "Not enough stock of {sku} in {warehouse}: on hand {on_hand}, reserved {reserved}, "
        "free {free}; cannot take {qty}.",
        {"sku": sku, "warehouse": code, "on_hand": qty_text(on_hand),
         "reserved": qty_text(reserved), "free": qty_text(on_hand - reserved),
         "qty": qty_text(want)}), code="insufficient_stock"), label)


def _check_sku(ctx: Ctx, sku: str, label: str) -> None:
    if ctx.session.scalar(select(Product.id).where(Product.sku == sku)) is None:
        raise refuse(ctx, Invalid(Msg("Unknown SKU {sku}; add it as a product first.",
                                      {"sku": sku}), code="unknown_sku"), label)


def record(ctx: Ctx, data: MovementIn, *, order_id: int | None = None) -> list[Movement]:
    """Validate and write a movement (a transfer writes its two legs)."""
    kind = data.kind.value
    label = f"{kind} of {data.qty} {data.sku} at {data.warehouse}"
    if kind == "receipt":
        require(ctx, RECEIVE_ROLES, Msg("receive stock"), label)
    else:
        require(ctx, STOCK_ROLES, Msg("move stock"), label)
    if not data.reason.strip():
        raise refuse(ctx, Invalid(Msg("reason: say why the stock moves."),
                                  code="reason_required"), label)
    if data.qty == 0 or (data.qty < 0 and kind != "adjustment"):
        raise refuse(ctx, Invalid(Msg(
            "qty: must be more than 0 (only an adjustment may be negative), not {qty}.",
            {"qty": qty_text(data.qty)}), code="bad_qty"), label)
    if kind == "transfer":
        if not data.to_warehouse:
            raise refuse(ctx, Invalid(Msg("to_warehouse: a transfer needs the warehouse it "
                                          "goes to."), code="transfer_target"), label)
        if data.to_warehouse == data.warehouse:
            raise refuse(ctx, Invalid(Msg("to_warehouse: a transfer must go to another "
                                          "warehouse, not {code}.", {"code": data.warehouse}),
                                      code="transfer_same_warehouse"), label)
    elif data.to_warehouse:
        raise refuse(ctx, Invalid(Msg("to_warehouse: only a transfer has a target "
                                      "warehouse."), code="transfer_target"), label)
    _check_sku(ctx, data.sku, label)
    wid = warehouse_id(ctx, data.warehouse, label)
    common = {"sku": data.sku, "reason": data.reason.strip(), "ref_type": data.ref_type,
              "ref_id": data.ref_id, "order_id": order_id}
    if kind == "transfer":
        assert data.to_warehouse is not None
        to_wid = warehouse_id(ctx, data.to_warehouse, label)
        tid = secrets.token_hex(8)
        out = change_on_hand(ctx, kind=kind, wid=wid, code=data.warehouse, delta=-data.qty,
                             transfer_id=tid, **common)
        if out is None:
            raise _not_enough(ctx, data.sku, wid, data.warehouse, data.qty, label)
        into = change_on_hand(ctx, kind=kind, wid=to_wid, code=data.to_warehouse,
                              delta=data.qty, transfer_id=tid, **common)
        assert into is not None
        moves = [out, into]
    else:
        delta = -data.qty if kind == "issue" else data.qty
        move = change_on_hand(ctx, kind=kind, wid=wid, code=data.warehouse, delta=delta,
                              **common)
        if move is None:
            raise _not_enough(ctx, data.sku, wid, data.warehouse, abs(delta), label)
        moves = [move]
    now = moves[0].at
    emit(ctx.session, EVENT_OF[kind], "stock", f"{data.sku}@{data.warehouse}",
         {"movement_ids": [m.id for m in moves], "kind": kind, "sku": data.sku,
          "warehouse": data.warehouse, "to_warehouse": data.to_warehouse,
          "qty": qty_text(data.qty), "reason": data.reason.strip(), "ref_type": data.ref_type,
          "ref_id": data.ref_id, "actor": ctx.actor.name, "at": now.isoformat()}, now)
    return moves


# -- reading ------------------------------------------------------------------------------


def list_stock(session: Session, sku: str | None = None, warehouse: str | None = None,
               ) -> StockList:
    stmt = (select(STOCK.c.sku, Warehouse.code, STOCK.c.on_hand, STOCK.c.reserved,
                   STOCK.c.updated_at)
            .join(Warehouse, Warehouse.id == STOCK.c.warehouse_id)
            .order_by(STOCK.c.sku, Warehouse.code).limit(5000))
    if sku:
        stmt = stmt.where(STOCK.c.sku == sku)
    if warehouse:
        stmt = stmt.where(Warehouse.code == warehouse)
    return StockList(items=[StockRead(sku=r[0], warehouse=r[1], on_hand=r[2], reserved=r[3],
                                      available=r[2] - r[3], updated_at=r[4])
                            for r in session.execute(stmt)])


def list_movements(session: Session, *, sku: str | None = None, warehouse: str | None = None,
                   kind: str | None = None, ref_type: str | None = None,
                   ref_id: str | None = None, order_no: str | None = None, limit: int = 100,
                   cursor: str | None = None) -> MovementPage:
    """The ledger, newest first, with filters."""
    stmt = (select(StockMovement, Warehouse.code, Order.order_no)
            .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
            .outerjoin(Order, Order.id == StockMovement.order_id)
            .order_by(StockMovement.id.desc()).limit(limit + 1))
    conds = []
    if sku:
        conds.append(StockMovement.sku == sku)
    if warehouse:
        conds.append(Warehouse.code == warehouse)
    if kind:
        if kind not in EVENT_OF:
            raise Invalid(Msg("kind: unknown movement kind {kind}; use {known}.",
                              {"kind": kind, "known": list(EVENT_OF)}), code="bad_kind")
        conds.append(StockMovement.kind == kind)
    if ref_type:
        conds.append(StockMovement.ref_type == ref_type)
    if ref_id:
        conds.append(StockMovement.ref_id == ref_id)
    if order_no:
        oid = session.scalar(select(Order.id).where(Order.order_no == order_no))
        if oid is None:
            raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                           code="unknown_order")
        conds.append(StockMovement.order_id == oid)
    if cursor:
        if not cursor.isdigit():
            raise Invalid(Msg("cursor: use the next_cursor of the previous page."),
                          code="bad_cursor")
        conds.append(StockMovement.id < int(cursor))
    if conds:
        stmt = stmt.where(and_(*conds))
    rows = list(session.execute(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [MovementRead(id=m.id, kind=m.kind, sku=m.sku, warehouse=code, qty=m.qty,
                          balance=m.balance, transfer_id=m.transfer_id, actor=m.actor,
                          reason=m.reason, ref_type=m.ref_type, ref_id=m.ref_id,
                          order_no=order_no_, at=m.at)
             for m, code, order_no_ in rows]
    return MovementPage(items=items, next_cursor=str(items[-1].id) if more else None)


def list_movements_by_ids(session: Session, ids: list[int]) -> list[MovementRead]:
    stmt = (select(StockMovement, Warehouse.code, Order.order_no)
            .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
            .outerjoin(Order, Order.id == StockMovement.order_id)
            .where(StockMovement.id.in_(ids)).order_by(StockMovement.id))
    return [MovementRead(id=m.id, kind=m.kind, sku=m.sku, warehouse=code, qty=m.qty,
                         balance=m.balance, transfer_id=m.transfer_id, actor=m.actor,
                         reason=m.reason, ref_type=m.ref_type, ref_id=m.ref_id,
                         order_no=order_no_, at=m.at)
            for m, code, order_no_ in session.execute(stmt)]
