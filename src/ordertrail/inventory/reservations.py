"""Reservations: hold stock for an order's needs, wait visibly for what is short, allocate
receipts to waiting orders, release on cancel, consume on shipment.

No oversell: stock is taken for an order only by one conditional UPDATE of the stock row
(``on_hand - reserved >= :qty``); a writer that loses the race gets no row back and plans
again from fresh numbers. Rows are taken in stock-row id order, so two orders never lock
each other's rows in opposite orders.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, any_, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.errors import NotFound
from ordertrail.flow import service as flows
from ordertrail.i18n import Msg, render
from ordertrail.inventory import needs as needs_mod
from ordertrail.inventory.catalog import RESERVE_ROLES, ZERO, qty_text, require
from ordertrail.inventory.ledger import STOCK, Movement, change_on_hand
from ordertrail.inventory.needs import Need
from ordertrail.inventory.waits import (
    sync_waits,
    waiting_reason,
)
from ordertrail.jobs.outbox import emit
from ordertrail.models import Order, OrderLine
from ordertrail.models.inventory import (
    OrderStock,
    Qty,
    Reservation,
    StockMovement,
    StockWait,
    Warehouse,
)
from ordertrail.ops import triggers

log = logging.getLogger("ordertrail.inventory")
RES = Reservation.__table__
STATE = OrderStock.__table__
WAITS = StockWait.__table__
OPEN_STATUSES = ("active", "on_hold")
MAX_REPLANS = 8


@dataclass(frozen=True)
class ReservationState:
    """Where an order stands after ``reserve_order``: ``reserved`` (every need held),
    ``waiting`` (``shortfall`` per SKU, ``expected_at`` from procurement), ``none`` (nothing
    tracked: nothing is missing, but ``reservation.completed`` does not fire), ``released``
    or ``closed`` (cancelled/completed order)."""

    order_id: int
    order_no: str
    state: str
    shortfall: dict[str, Decimal] = field(default_factory=dict)
    expected_at: datetime | None = None
    reserved_now: Decimal = ZERO

    @property
    def complete(self) -> bool:
        return self.state in ("reserved", "none")


def _q(name: str) -> Any:
    return bindparam(name, type_=Qty)


# The no-oversell statement: hold ``q`` only if that much is free on the row.
_HOLD = (update(STOCK)
         .where(STOCK.c.id == bindparam("sid"), STOCK.c.on_hand - STOCK.c.reserved >= _q("q"))
         .values(reserved=STOCK.c.reserved + _q("q"), updated_at=bindparam("now")))
_UNHOLD = (update(STOCK)
           .where(STOCK.c.sku == bindparam("b_sku"), STOCK.c.warehouse_id == bindparam("wid"),
                  STOCK.c.reserved >= _q("q"))
           .values(reserved=STOCK.c.reserved - _q("q"), updated_at=bindparam("now")))


_WH = Warehouse.__table__
_FREE_BASE = (select(STOCK.c.id, STOCK.c.sku, STOCK.c.warehouse_id, _WH.c.code,
                     STOCK.c.on_hand, STOCK.c.reserved)
              .join(_WH, _WH.c.id == STOCK.c.warehouse_id))
_FREE = _FREE_BASE.where(STOCK.c.sku.in_(bindparam("skus", expanding=True)))
# PostgreSQL: an array parameter keeps one statement text (prepared once, never re-planned).
_FREE_PG = _FREE_BASE.where(STOCK.c.sku == any_(bindparam("skus", type_=ARRAY(String))))


@functools.cache
def _upsert_res(dialect: str) -> Any:
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = ins(RES)
    return stmt.on_conflict_do_update(
        index_elements=["order_id", "order_line_id", "sku", "warehouse_id", "purpose"],
        set_={"qty": RES.c.qty + stmt.excluded.qty, "updated_at": stmt.excluded.updated_at})


@functools.cache
def _save_state(dialect: str) -> Any:
    """Write the order's reservation state (the row is made on its first reservation)."""
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = ins(STATE)
    return stmt.on_conflict_do_update(index_elements=["order_id"], set_={
        c: getattr(stmt.excluded, c) for c in ("state", "shortfall", "waiting_since",
                                               "expected_at", "reserved_at", "updated_at")})


def _head(ctx: Ctx, order_id: int) -> Any:
    row = ctx.session.execute(select(Order.order_no, Order.status, Order.custom)
                              .where(Order.id == order_id)).first()
    if row is None:
        raise NotFound(Msg("No order with id {id}.", {"id": order_id}), code="unknown_order")
    return row


def reserve_order(ctx: Ctx, order_id: int) -> ReservationState:
    """Hold free stock for every need not yet covered (preferred warehouse first, then the
    ones with most free stock); record what is short as waiting. Idempotent."""
    s, now = ctx.session, ctx.clock.now()
    head, needs = needs_mod.head_and_needs(s, order_id, lock=True)
    if head is None:
        raise NotFound(Msg("No order with id {id}.", {"id": order_id}), code="unknown_order")
    require(ctx, RESERVE_ROLES, Msg("reserve stock"), f"reserve {head.order_no}")
    if head.status not in OPEN_STATUSES:
        return ReservationState(order_id, head.order_no, "closed")
    if not needs:
        # Nothing of the order is kept in stock here: stock cannot say the materials are
        # ready, so nothing fires; people move the order on by hand.
        return ReservationState(order_id, head.order_no, "none")
    # A first reservation has nothing to count; afterwards, what is held is not asked again.
    have = needs_mod.covered(s, order_id) if head.state is not None else {}
    missing: list[tuple[Need, Decimal]] = []
    for n in needs:
        got = have.get((n.order_line_id, n.sku), ZERO)
        take = min(got, n.qty)
        have[(n.order_line_id, n.sku)] = got - take
        if n.qty > take:
            missing.append((n, n.qty - take))
    taken: list[dict[str, Any]] = []
    if missing:
        preferred = head.custom.get("warehouse")
        missing, taken = _allocate(ctx, missing, preferred, now)
    shortfall: dict[str, Decimal] = {}
    for n, left in missing:
        shortfall[n.sku] = shortfall.get(n.sku, ZERO) + left
    return _settle(ctx, order_id, head, shortfall, taken, now)


def _fire(ctx: Ctx, order_id: int, head: needs_mod.OrderHead) -> None:
    """Fire ``reservation.completed`` if the order's stage waits for it (asked of the cached
    flow first: most stages do not, and then no query is spent)."""
    if head.status != "active":
        return
    _version, flow = flows.definition_by_id(ctx.session, head.flow_version_id)
    if any(t.trigger == "reservation.completed" for t in flow.transitions_from(head.stage)):
        triggers.fire_if_waiting(ctx, order_id, "reservation.completed")


def _allocate(ctx: Ctx, missing: list[tuple[Need, Decimal]], preferred: str | None,
              now: datetime) -> tuple[list[tuple[Need, Decimal]], list[dict[str, Any]]]:
    """Hold what is free for the missing needs; returns what is still missing and the
    reservation rows written."""
    s = ctx.session
    pref_id = (s.scalar(select(Warehouse.id).where(Warehouse.code == preferred))
               if isinstance(preferred, str) else None)
    taken: list[dict[str, Any]] = []
    for _round in range(MAX_REPLANS):
        skus = sorted({n.sku for n, _ in missing})
        free: dict[str, list[list[Any]]] = {}
        for sid, sku, wid, code, on_hand, reserved in s.execute(_FREE, {"skus": skus}):
            if on_hand > reserved:
                free.setdefault(sku, []).append([sid, wid, on_hand - reserved, code])
        for rows in free.values():
            rows.sort(key=lambda r: (r[1] != pref_id, -r[2], r[1]))
        plan: list[tuple[int, int, str, Need, Decimal]] = []
        still: list[tuple[Need, Decimal]] = []
        for n, want in missing:
            for row in free.get(n.sku, []):
                if want <= 0:
                    break
                take = min(want, row[2])
                if take > 0:
                    plan.append((row[0], row[1], row[3], n, take))
                    row[2] -= take
                    want -= take
            if want > 0:
                still.append((n, want))
        if not plan:
            return still, taken
        lost: list[tuple[Need, Decimal]] = []
        for sid, wid, code, n, take in sorted(plan, key=lambda p: p[0]):
            if s.execute(_HOLD, {"sid": sid, "q": take, "now": now}).rowcount == 1:
                taken.append({"order_id": 0, "order_line_id": n.order_line_id, "sku": n.sku,
                              "warehouse_id": wid, "warehouse": code, "purpose": "need",
                              "component_of": n.component_of, "qty": take, "consumed": ZERO,
                              "released": ZERO, "created_at": now, "updated_at": now})
            else:  # another order took it first: plan that part again from fresh numbers
                lost.append((n, take))
        missing = still + lost
        if not lost:
            break
    return missing, taken


def _settle(ctx: Ctx, order_id: int, head: needs_mod.OrderHead,
            shortfall: dict[str, Decimal], taken: list[dict[str, Any]],
            now: datetime) -> ReservationState:
    """Write the reservation rows, the waiting record, timeline, event and trigger."""
    s = ctx.session
    dialect = s.get_bind().dialect.name
    order_no = head.order_no
    if taken:
        for row in taken:
            row["order_id"] = order_id
        s.execute(_upsert_res(dialect), [{k: v for k, v in r.items() if k != "warehouse"}
                                         for r in taken])
    got = sum((r["qty"] for r in taken), ZERO)
    sig = {k: qty_text(v) for k, v in sorted(shortfall.items())}
    if not shortfall:
        if head.state != "reserved":
            if head.state == "waiting":
                s.execute(delete(WAITS).where(WAITS.c.order_id == order_id))
            s.execute(_save_state(dialect), {
                "order_id": order_id, "state": "reserved", "shortfall": {},
                "waiting_since": None, "expected_at": None, "reserved_at": now,
                "updated_at": now})
            items = _items(taken)
            triggers.timeline(ctx, order_id, "stock_reserved", render(Msg(
                "Stock reserved for every need line.")), {"reserved": items})
            emit(s, "reservation.completed", "order", order_no,
                 {"order_no": order_no, "order_id": order_id, "items": items,
                  "at": now.isoformat()}, now)
        _fire(ctx, order_id, head)
        return ReservationState(order_id, order_no, "reserved", {}, None, got)
    expected = needs_mod.expected_receipts(s, list(shortfall))
    first = min(expected.values()) if expected else None
    if head.state != "waiting" or dict(head.shortfall) != sig:
        sync_waits(ctx, order_id, shortfall, expected, now, head.state == "waiting")
        s.execute(_save_state(dialect), {
            "order_id": order_id, "state": "waiting", "shortfall": sig,
            "waiting_since": (head.waiting_since if head.state == "waiting" else None) or now,
            "expected_at": first, "reserved_at": None, "updated_at": now})
        note = render(waiting_reason(shortfall, expected))
        triggers.timeline(ctx, order_id, "waiting_for_stock", note,
                          {"shortfall": sig, "expected_at": first.isoformat() if first else None,
                           "reserved": _items(taken)})
        emit(s, "reservation.waiting", "order", order_no,
             {"order_no": order_no, "order_id": order_id, "shortfall": sig,
              "expected_at": first.isoformat() if first else None, "at": now.isoformat()},
             now)
    return ReservationState(order_id, order_no, "waiting", shortfall, first, got)


def _items(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"sku": r["sku"], "warehouse": r["warehouse"], "qty": qty_text(r["qty"])}
            for r in rows]


# -- receipts to waiting orders -----------------------------------------------------------


def allocate_waiting(ctx: Ctx, skus: Iterable[str]) -> list[int]:
    """Offer free stock of ``skus`` to the orders waiting for them (priority, then oldest);
    returns the orders now completely reserved. Runs as the system."""
    system = Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)
    done: list[int] = []
    seen: set[int] = set()
    for sku in sorted(set(skus)):
        for oid in needs_mod.waiting_orders(ctx.session, [sku]).get(sku, []):
            if oid in seen:
                continue
            if _free(ctx, sku) <= 0:
                break
            seen.add(oid)
            if reserve_order(system, oid).complete:
                done.append(oid)
    return done


def _free(ctx: Ctx, sku: str) -> Decimal:
    total = ZERO
    for on_hand, reserved in ctx.session.execute(select(STOCK.c.on_hand, STOCK.c.reserved)
                                                 .where(STOCK.c.sku == sku)):
        total += on_hand - reserved
    return total


# -- release, consume, finished goods -------------------------------------------------------


def _open_rows(ctx: Ctx, order_id: int, sku: str | None = None) -> list[Any]:
    stmt = (select(RES.c.id, RES.c.sku, RES.c.warehouse_id, RES.c.purpose, RES.c.qty,
                   RES.c.consumed, RES.c.released).where(RES.c.order_id == order_id)
            .order_by((RES.c.purpose != "produced"), RES.c.id))
    if sku is not None:
        stmt = stmt.where(RES.c.sku == sku)
    return [r for r in ctx.session.execute(stmt) if r.qty - r.consumed - r.released > 0]


def release_order(ctx: Ctx, order_id: int, reason: str) -> list[dict[str, Any]]:
    """Give back every open reservation of the order and stop waiting; the freed stock goes
    to orders waiting for it. Returns what was released."""
    s, now = ctx.session, ctx.clock.now()
    head = _head(ctx, order_id)
    require(ctx, RESERVE_ROLES, Msg("release stock"), f"release {head.order_no}")
    rows = _open_rows(ctx, order_id)
    freed: list[dict[str, Any]] = []
    for r in rows:
        left = r.qty - r.consumed - r.released
        if s.execute(_UNHOLD, {"b_sku": r.sku, "wid": r.warehouse_id, "q": left,
                               "now": now}).rowcount != 1:
            raise RuntimeError(f"stock row {r.sku}@{r.warehouse_id} holds less than its "
                               "reservations")
        s.execute(update(RES).where(RES.c.id == r.id).values(
            released=RES.c.released + _q("q"), updated_at=now), {"q": left})
        freed.append({"sku": r.sku, "warehouse_id": r.warehouse_id, "qty": left})
    waited = s.execute(delete(WAITS).where(WAITS.c.order_id == order_id)).rowcount
    state = s.execute(update(STATE).where(STATE.c.order_id == order_id,
                                          STATE.c.state != "released").values(
        state="released", shortfall={}, waiting_since=None, expected_at=None,
        updated_at=now)).rowcount
    if not (freed or waited or state):
        return []
    codes = dict(s.execute(select(Warehouse.id, Warehouse.code)).all())
    items = _items([{**r, "warehouse": codes.get(r["warehouse_id"])} for r in freed])
    triggers.timeline(ctx, order_id, "stock_released", reason, {"released": items})
    emit(s, "reservation.released", "order", head.order_no,
         {"order_no": head.order_no, "order_id": order_id, "reason": reason, "items": items,
          "at": now.isoformat()}, now)
    allocate_waiting(ctx, {r["sku"] for r in freed})
    return items


def _already(ctx: Ctx, order_id: int, kind: str, ref_type: str, ref_id: str,
             sku: str | None = None) -> bool:
    stmt = select(StockMovement.id).where(
        StockMovement.order_id == order_id, StockMovement.kind == kind,
        StockMovement.ref_type == ref_type, StockMovement.ref_id == ref_id)
    if sku is not None:
        stmt = stmt.where(StockMovement.sku == sku)
    return ctx.session.scalar(stmt.limit(1)) is not None


def consume(ctx: Ctx, order_id: int, skus_qty: dict[str, Decimal], *, reason: str,
            ref_type: str, ref_id: str) -> list[Movement]:
    """Issue what the order used: its reservations of each SKU first (finished goods before
    need lines), then free stock. Once per (order, ref_type, ref_id): a second call is a
    no-op. What neither covers is logged and reported in the event, never taken below 0."""
    s, now = ctx.session, ctx.clock.now()
    head = _head(ctx, order_id)
    if _already(ctx, order_id, "issue", ref_type, ref_id):
        return []
    codes = dict(s.execute(select(Warehouse.id, Warehouse.code)).all())
    moves: list[Movement] = []
    unfilled: dict[str, str] = {}
    common = {"reason": reason, "ref_type": ref_type, "ref_id": ref_id, "order_id": order_id}
    for sku, qty in sorted(skus_qty.items()):
        left = Decimal(qty)
        for r in _open_rows(ctx, order_id, sku):
            take = min(left, r.qty - r.consumed - r.released)
            if take <= 0:
                continue
            m = change_on_hand(ctx, kind="issue", sku=sku, wid=r.warehouse_id,
                               code=codes[r.warehouse_id], delta=-take, reserved_delta=-take,
                               **common)
            if m is None:
                continue
            s.execute(update(RES).where(RES.c.id == r.id).values(
                consumed=RES.c.consumed + _q("q"), updated_at=now), {"q": take})
            moves.append(m)
            left -= take
        if left > 0:
            free = [(wid, on_hand - reserved) for wid, on_hand, reserved in s.execute(
                select(STOCK.c.warehouse_id, STOCK.c.on_hand, STOCK.c.reserved)
                .where(STOCK.c.sku == sku)) if on_hand > reserved]
            for wid, avail in sorted(free, key=lambda f: -f[1]):
                take = min(left, avail)
                m = change_on_hand(ctx, kind="issue", sku=sku, wid=wid, code=codes[wid],
                                   delta=-take, **common)
                if m is not None:
                    moves.append(m)
                    left -= take
                if left <= 0:
                    break
        if left > 0:
            unfilled[sku] = qty_text(left)
            log.warning("inventory: %s %s of order %s: %s of %s not in stock; nothing issued "
                        "for it", ref_type, ref_id, head.order_no, qty_text(left), sku)
    items = [{"sku": m.sku, "warehouse": m.warehouse, "qty": qty_text(-m.qty)} for m in moves]
    if moves or unfilled:
        triggers.timeline(ctx, order_id, "stock_issued", reason,
                          {"ref_type": ref_type, "ref_id": ref_id, "issued": items,
                           "unfilled": unfilled})
        emit(s, "reservation.consumed", "order", head.order_no,
             {"order_no": head.order_no, "order_id": order_id, "ref_type": ref_type,
              "ref_id": ref_id, "items": items, "unfilled": unfilled, "at": now.isoformat()},
             now)
    return moves


def receive_produced(ctx: Ctx, order_id: int, sku: str, warehouse: str, qty: Decimal, *,
                     ref_id: str) -> None:
    """Finished goods from work order ``ref_id``: a receipt, held at once for the order's
    lines of that SKU; a surplus goes to waiting orders. Once per (work order, SKU)."""
    from ordertrail.inventory.catalog import warehouse_id

    s, now = ctx.session, ctx.clock.now()
    head = _head(ctx, order_id)
    if _already(ctx, order_id, "receipt", "work_order", ref_id, sku):
        return
    wid = warehouse_id(ctx, warehouse, f"finished goods {sku} of {ref_id}")
    qty = Decimal(qty)
    reason = render(Msg("Finished goods of work order {ref}.", {"ref": ref_id}))
    m = change_on_hand(ctx, kind="receipt", sku=sku, wid=wid, code=warehouse, delta=qty,
                       reason=reason, ref_type="work_order", ref_id=ref_id, order_id=order_id)
    assert m is not None
    left = qty
    held: list[dict[str, Any]] = []
    lines = s.execute(select(OrderLine.id, OrderLine.qty).where(
        OrderLine.order_id == order_id, OrderLine.sku == sku).order_by(OrderLine.line_no))
    have: dict[int, Decimal] = {}
    for line_id, got, released in s.execute(select(RES.c.order_line_id, RES.c.qty,
                                                   RES.c.released).where(
            RES.c.order_id == order_id, RES.c.sku == sku, RES.c.purpose == "produced")):
        have[line_id] = have.get(line_id, ZERO) + got - released
    sid = s.scalar(select(STOCK.c.id).where(STOCK.c.sku == sku, STOCK.c.warehouse_id == wid))
    for line_id, line_qty in lines:
        take = min(left, line_qty - have.get(line_id, ZERO))
        if take <= 0 or s.execute(_HOLD, {"sid": sid, "q": take, "now": now}).rowcount != 1:
            continue
        held.append({"order_id": order_id, "order_line_id": line_id, "sku": sku,
                     "warehouse_id": wid, "purpose": "produced", "component_of": None,
                     "qty": take, "consumed": ZERO, "released": ZERO, "created_at": now,
                     "updated_at": now})
        left -= take
    if held:
        s.execute(_upsert_res(s.get_bind().dialect.name), held)
    triggers.timeline(ctx, order_id, "goods_received", reason,
                      {"sku": sku, "warehouse": warehouse, "qty": qty_text(qty),
                       "work_order": ref_id, "reserved": qty_text(qty - left)})
    emit(s, "stock.received", "stock", f"{sku}@{warehouse}",
         {"movement_ids": [m.id], "kind": "receipt", "sku": sku, "warehouse": warehouse,
          "to_warehouse": None, "qty": qty_text(qty), "reason": reason,
          "ref_type": "work_order", "ref_id": ref_id, "order_no": head.order_no,
          "actor": ctx.actor.name, "at": now.isoformat()}, now)
    if left > 0:
        allocate_waiting(ctx, [sku])
