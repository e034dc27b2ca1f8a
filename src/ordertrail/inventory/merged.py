"""Many reservations in one pass: what the API's group commit runs when reservation requests
arrive together (see ``reserve_orders``). The one-order path, and the rules both follow, are in
``inventory.reservations``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from ordertrail.context import Ctx
from ordertrail.errors import NotFound
from ordertrail.i18n import Msg, render
from ordertrail.inventory import needs as needs_mod
from ordertrail.inventory.catalog import RESERVE_ROLES, ZERO, qty_text, require
from ordertrail.inventory.ledger import STOCK
from ordertrail.inventory.needs import Need
from ordertrail.inventory.reservations import (
    _FREE,
    _FREE_PG,
    _HOLD,
    OPEN_STATUSES,
    ReservationState,
    _fire,
    _items,
    _save_state,
    _upsert_res,
    reserve_order,
)
from ordertrail.inventory.waits import upsert_waits, waiting_reason
from ordertrail.jobs.outbox import emit_many
from ordertrail.models import Order
from ordertrail.ops import triggers


def reserve_orders(ctx: Ctx, order_ids: list[int]) -> list[ReservationState]:
    """``reserve_order`` for many orders at once (the API's group commit merges concurrent
    requests into one call), one state per id, in order.

    Orders reserved for the first time, without a preferred warehouse, share one read of
    their needs (their order rows locked), one read of the free stock, one write of each kind
    and, last, the holds (stock rows locked in id order, like every other hold, so only from
    there to the commit); they are served in the order given, as if reserved one after
    another. Any other order is reserved on its own
    first (``reserve_order``). If a hold finds less free stock than was read (another writer
    reserved it meanwhile), the call raises ``StockMoved``: the group commit then runs its
    items one by one, and a caller outside it should do the same (``reserve_order``).
    """
    s, now = ctx.session, ctx.clock.now()
    if not order_ids:
        return []
    heads = needs_mod.heads_and_needs(s, order_ids, lock=True)
    missing_ids = [oid for oid in order_ids if oid not in heads]
    if missing_ids:
        raise NotFound(Msg("No order with id {id}.", {"id": missing_ids[0]}),
                       code="unknown_order")
    require(ctx, RESERVE_ROLES, Msg("reserve stock"),
            f"reserve {', '.join(heads[oid][0].order_no for oid in order_ids[:5])}")
    out: dict[int, ReservationState] = {}
    bulk: list[int] = []
    for oid in dict.fromkeys(order_ids):
        head, needs = heads[oid]
        if head.status not in OPEN_STATUSES:
            out[oid] = ReservationState(oid, head.order_no, "closed")
        elif not needs:
            out[oid] = ReservationState(oid, head.order_no, "none")
        elif head.state is None and not isinstance(head.custom.get("warehouse"), str):
            bulk.append(oid)
        else:
            out[oid] = reserve_order(ctx, oid)
    if bulk:
        out.update(_reserve_fresh(ctx, bulk, heads, now))
    return [out[oid] for oid in order_ids]


def reserve_numbers(ctx: Ctx, order_nos: list[str]) -> list[ReservationState]:
    """``reserve_orders`` by order number (NotFound naming the first unknown one)."""
    ids = dict(ctx.session.execute(select(Order.order_no, Order.id)
                                   .where(Order.order_no.in_(order_nos))).all())
    unknown = [no for no in order_nos if no not in ids]
    if unknown:
        raise NotFound(Msg("No order {order_no}.", {"order_no": unknown[0]}),
                       code="unknown_order")
    return reserve_orders(ctx, [ids[no] for no in order_nos])


def _reserve_fresh(ctx: Ctx, order_ids: list[int],
                   heads: dict[int, tuple[needs_mod.OrderHead, list[Need]]],
                   now: datetime) -> dict[int, ReservationState]:
    """The shared pass of ``reserve_orders`` for orders never reserved before."""
    s = ctx.session
    dialect = s.get_bind().dialect.name
    skus = sorted({n.sku for oid in order_ids for n in heads[oid][1]})
    pool: dict[str, list[list[Any]]] = {}
    free = _FREE_PG if dialect == "postgresql" else _FREE
    for sid, sku, wid, code, on_hand, reserved in s.execute(free, {"skus": skus}):
        if on_hand > reserved:
            pool.setdefault(sku, []).append([sid, wid, on_hand - reserved, code])
    holds: dict[int, Decimal] = {}
    taken_by: dict[int, list[dict[str, Any]]] = {}
    short_by: dict[int, dict[str, Decimal]] = {}
    for oid in order_ids:
        taken: list[dict[str, Any]] = []
        shortfall: dict[str, Decimal] = {}
        # Most free first, from the numbers as this order finds them (as _allocate does).
        for sku in {n.sku for n in heads[oid][1]}:
            pool.get(sku, []).sort(key=lambda r: (-r[2], r[1]))
        for n in heads[oid][1]:
            want = n.qty
            for row in pool.get(n.sku, []):
                if want <= 0:
                    break
                take = min(want, row[2])
                if take > 0:
                    row[2] -= take
                    want -= take
                    holds[row[0]] = holds.get(row[0], ZERO) + take
                    taken.append({"order_id": oid, "order_line_id": n.order_line_id,
                                  "sku": n.sku, "warehouse_id": row[1], "warehouse": row[3],
                                  "purpose": "need", "component_of": n.component_of,
                                  "qty": take, "consumed": ZERO, "released": ZERO,
                                  "created_at": now, "updated_at": now})
            if want > 0:
                shortfall[n.sku] = shortfall.get(n.sku, ZERO) + want
        taken_by[oid], short_by[oid] = taken, shortfall
    rows = [{k: v for k, v in r.items() if k != "warehouse"}
            for oid in order_ids for r in taken_by[oid]]
    if rows:
        s.execute(_upsert_res(dialect), rows)
    short_skus = sorted({sku for oid in order_ids for sku in short_by[oid]})
    expected = needs_mod.expected_receipts(s, short_skus) if short_skus else {}
    states, waits, notes, events = [], [], [], []
    result: dict[int, ReservationState] = {}
    done: list[int] = []
    for oid in order_ids:
        head, shortfall, taken = heads[oid][0], short_by[oid], taken_by[oid]
        no = head.order_no
        got = sum((r["qty"] for r in taken), ZERO)
        items = _items(taken)
        if not shortfall:
            states.append({"order_id": oid, "state": "reserved", "shortfall": {},
                           "waiting_since": None, "expected_at": None, "reserved_at": now,
                           "updated_at": now})
            notes.append((oid, "stock_reserved", render(Msg(
                "Stock reserved for every need line.")), {"reserved": items}))
            events.append(("reservation.completed", "order", no,
                           {"order_no": no, "order_id": oid, "items": items,
                            "at": now.isoformat()}))
            result[oid] = ReservationState(oid, no, "reserved", {}, None, got)
            done.append(oid)
            continue
        sig = {k: qty_text(v) for k, v in sorted(shortfall.items())}
        mine = {sku: at for sku, at in expected.items() if sku in shortfall}
        first = min(mine.values()) if mine else None
        waits.extend({"order_id": oid, "sku": sku, "short_qty": q, "since_at": now,
                      "expected_at": mine.get(sku), "updated_at": now}
                     for sku, q in sorted(shortfall.items()))
        states.append({"order_id": oid, "state": "waiting", "shortfall": sig,
                       "waiting_since": now, "expected_at": first, "reserved_at": None,
                       "updated_at": now})
        notes.append((oid, "waiting_for_stock", render(waiting_reason(shortfall, mine)),
                      {"shortfall": sig, "expected_at": first.isoformat() if first else None,
                       "reserved": items}))
        events.append(("reservation.waiting", "order", no,
                       {"order_no": no, "order_id": oid, "shortfall": sig,
                        "expected_at": first.isoformat() if first else None,
                        "at": now.isoformat()}))
        result[oid] = ReservationState(oid, no, "waiting", shortfall, first, got)
    s.execute(_save_state(dialect), states)
    if waits:
        s.execute(upsert_waits(dialect), waits)
    triggers.timeline_many(ctx, notes)
    emit_many(s, events, now)
    # The holds come last, in stock-row order: the rows stay locked (PostgreSQL) only from
    # here to the commit. Each is the no-oversell conditional UPDATE; one that finds less free
    # than was read (another writer got there first) fails the whole call, which the group
    # commit then runs again order by order (``reserve_order`` plans again from fresh rows).
    _hold_many(s, dialect, holds, now)
    for oid in done:
        _fire(ctx, oid, heads[oid][0])
    return result


# PostgreSQL: lock the rows in id order, then every hold in one UPDATE over the arrays.
_LOCK_ROWS = text(f"SELECT id FROM {STOCK.name} WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
_HOLD_ALL = text(
    f"UPDATE {STOCK.name} AS s SET reserved = s.reserved + v.q, updated_at = :now "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:qs AS numeric[])) AS v(sid, q) "
    "WHERE s.id = v.sid AND s.on_hand - s.reserved >= v.q")


def _hold_many(s: Any, dialect: str, holds: dict[int, Decimal], now: datetime) -> None:
    """Every hold of a merged reservation, each the no-oversell conditional update, in
    stock-row order; ``StockMoved`` if one found less free stock than was read."""
    sids = sorted(holds)
    if not sids:
        return
    if dialect == "postgresql":
        s.execute(_LOCK_ROWS, {"ids": sids})
        held = s.execute(_HOLD_ALL, {"ids": sids, "qs": [holds[i] for i in sids],
                                     "now": now}).rowcount
        if held != len(sids):
            raise StockMoved(f"{len(sids) - held} stock row(s) changed while reserving")
        return
    for sid in sids:
        if s.execute(_HOLD, {"sid": sid, "q": holds[sid], "now": now}).rowcount != 1:
            raise StockMoved(f"stock row {sid} changed while reserving")


class StockMoved(RuntimeError):
    """A merged reservation found less free stock than it read: run the orders one by one."""
