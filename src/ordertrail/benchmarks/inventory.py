"""Figures: availability of a 50-line order, and reservations per second without oversell.

Setup through the services (products, two warehouses, receipts, orders). Measured:

- ``inventory_availability_50_lines_ms``: one ``availability()`` of a 50-line order, each in
  its own session (as the API's reader runs it); the median of ``calls``. Baseline, in the
  same run: one indexed SELECT of the same order's lines in a session of its own.
- ``inventory_reservations_rate``: ``orders`` one-line orders over 20 SKUs, each SKU
  stocked for only 3/4 of its orders (over two warehouses), each reserved as the API's
  ``POST …/reservations`` runs it: the group committer merges the requests that arrive
  together into one ``reserve_orders`` call and one commit (the API's stock writer: one
  thread, on SQLite and PostgreSQL), 16 callers at a time each waiting for its
  answer (the answer's read of the order's reservations is not timed). Every call counts
  (a shortfall is written as waiting, with its timeline row and event). Checked: exactly the
  stocked units are held, and each stock row equals its ledger. Baseline: the bare
  no-oversell UPDATE of a stock row through the same committer and callers.

``python -m ordertrail.benchmarks.inventory [--quick] URL`` prints the figures as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.benchmarks.common import (
    Figure,
    host_info,
    latency_summary,
    log,
    median,
    prepare,
    user_with_key,
)
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import make_sessionmaker, write_session
from ordertrail.inventory import service as inv
from ordertrail.inventory.schemas import ProductCreate, WarehouseCreate
from ordertrail.kit.clock import SystemClock
from ordertrail.models import Order, OrderLine
from ordertrail.models.inventory import Reservation, StockLevel, StockMovement
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate

TARGET_MS = 5.0
TARGET_RATE = 1000.0
QUICK = {"lines": 50, "orders": 400, "calls": 200}
FULL = {"lines": 50, "orders": 4000, "calls": 2000}
HOT = "HOT-"
HOT_SKUS = 20  # the one-line orders spread over these SKUs, each stocked for 3/4 of demand
CLIENTS = 16   # callers at a time, each waiting for its answer (as API clients do)


def _order(lines: list[tuple[str, int]], n: int) -> OrderCreate:
    return OrderCreate.model_validate({
        "flow": "retail", "customer": {"name": f"bench {n}"},
        "lines": [{"sku": sku, "name": sku, "qty": q, "unit_price": "1"} for sku, q in lines]})


def _setup(engine: Engine, lines: int, orders_n: int) -> tuple[str, list[int], int]:
    """Products, warehouses, stock; a ``lines``-line order and ``orders_n`` one-line orders.
    Returns the big order's number, the small orders' ids and the stocked hot units."""
    actor, _key = user_with_key(engine, "bench-inventory", ["manager"])
    factory = make_sessionmaker(engine)
    clock = SystemClock()
    settings = Settings(database_url=str(engine.url))
    hot = [f"{HOT}{i:02d}" for i in range(HOT_SKUS)]
    demand = {sku: len(range(i, orders_n, HOT_SKUS)) for i, sku in enumerate(hot)}
    stock = {sku: d * 3 // 4 for sku, d in demand.items()}
    stocked = sum(stock.values())
    with write_session(factory) as s:
        ctx = Ctx(s, actor, clock, settings)
        for code in ("W1", "W2"):
            inv.create_warehouse(ctx, WarehouseCreate(code=code, name=code))
        skus = [f"P-{i:04d}" for i in range(lines)]
        for sku in [*skus, *hot]:
            inv.create_product(ctx, ProductCreate(sku=sku, name=sku))
        # Lines of every kind: some served from one warehouse, some from two, some short.
        receipts = [(sku, wh, q) for i, sku in enumerate(skus)
                    for wh, q in (("W1", i % 4), ("W2", 3 if i % 5 else 0))]
        for sku, n in stock.items():
            receipts += [(sku, "W1", n // 2), (sku, "W2", n - n // 2)]
        for sku, wh, q in receipts:
            if q > 0:
                inv.receive(ctx, sku, wh, Decimal(q), reason="bench")
        (big,) = orders.create_orders(ctx, [_order([(sku, 5) for sku in skus], 0)])
    ids: list[int] = []
    for start in range(0, orders_n, 500):
        with write_session(factory) as s:
            ctx = Ctx(s, actor, clock, settings)
            nos = orders.create_orders(ctx, [_order([(hot[n % HOT_SKUS], 1)], n) for n in
                                             range(start, min(start + 500, orders_n))])
            by_no = dict(s.execute(select(Order.order_no, Order.id)
                                   .where(Order.order_no.in_(nos))).all())
            ids.extend(by_no[no] for no in nos)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:   # statistics, as autovacuum keeps them in a live
            conn.execute(text("ANALYZE"))   # database (just-loaded tables have none)
    return big, ids, stocked


def _availability(factory: sessionmaker[Session], order_no: str, calls: int,
                  ) -> tuple[list[float], list[float], str]:
    def timed(fn: Any) -> list[float]:
        out = []
        for _ in range(calls):
            started = time.perf_counter()
            with factory() as session:
                fn(session)
            out.append((time.perf_counter() - started) * 1000)
        return out

    with factory() as session:
        state = inv.availability(session, order_no).state
        oid = session.scalar(select(Order.id).where(Order.order_no == order_no))
    for _ in range(20):  # warm caches and the connection pool
        with factory() as session:
            inv.availability(session, order_no)
    samples = timed(lambda s: inv.availability(s, order_no))
    baseline = timed(lambda s: s.execute(select(OrderLine.sku, OrderLine.qty)
                                         .where(OrderLine.order_id == oid)).all())
    return samples, baseline, state


def _threads(n: int, items: list[Any], fn: Any) -> float:
    """Seconds for ``n`` threads to run ``fn`` over ``items`` (shared queue)."""
    lock = threading.Lock()
    pending = list(reversed(items))
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                item = pending.pop()
            try:
                fn(item)
            except BaseException as exc:  # noqa: BLE001 - reported after the run
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def _reservations(engine: Engine, ids: list[int], stocked: int, clients: int,
                  ) -> tuple[float, float, dict[str, Any]]:
    """Reservations as the API writes them: the group committer merges the requests that
    arrive together into one ``reserve_orders`` call and one commit; ``clients`` callers at
    a time, each waiting for its answer."""
    from ordertrail.api.deps import AppState, stock_committer

    factory = make_sessionmaker(engine)
    clock = SystemClock()
    settings = Settings(database_url=str(engine.url))
    # The API's own writer of reservations (one thread on both databases).
    committer = stock_committer(AppState(engine=engine, factory=factory, clock=clock,
                                         settings=settings))
    writers = committer.writers
    done: list[bool] = []
    sizes: list[int] = []

    def merged(s: Session, oids: list[int]) -> list[bool]:
        sizes.append(len(oids))
        return [r.complete for r in inv.reserve_orders(Ctx(s, SYSTEM_ACTOR, clock, settings),
                                                        oids)]

    def reserve(oid: int) -> None:
        done.append(committer.submit_batched("reserve", oid, merged).result())

    seconds = _threads(clients, ids, reserve)
    with factory() as s:
        held = s.scalar(select(func.sum(StockLevel.reserved))
                        .where(StockLevel.sku.like(f"{HOT}%")))
        rows = s.scalar(select(func.count()).select_from(Reservation))
        ledger_ok = _ledger_ok(s)
    # Baseline: the bare conditional UPDATE of a stock row through the same committer.
    with write_session(factory) as s:
        s.execute(text("UPDATE stock_levels SET on_hand = on_hand + :n WHERE sku = 'P-0000'"),
                  {"n": len(ids) * 1000})
    stmt = text("UPDATE stock_levels SET reserved = reserved + :q WHERE sku = 'P-0000' "
                "AND on_hand - reserved >= :q")
    q = 1000 if engine.dialect.name == "sqlite" else 1  # SQLite stores thousandths

    def bare(_i: int) -> None:
        committer.submit(lambda s: s.execute(stmt, {"q": q})).result()

    base_seconds = _threads(clients, list(range(len(ids))), bare)
    check = {"orders": len(ids), "stocked_units": stocked, "completed": sum(done),
             "waiting": len(done) - sum(done), "units_held": str(held),
             "reservation_rows": rows, "ledger_equals_rows": ledger_ok,
             "writers": writers, "merged_calls": len(sizes),
             "orders_per_call": round(len(ids) / max(len(sizes), 1), 1)}
    check["no_oversell"] = bool(sum(done) == stocked and Decimal(held or 0) == stocked
                                and ledger_ok)
    return len(ids) / seconds, len(ids) / base_seconds, check


def _ledger_ok(s: Session) -> bool:
    sums = dict(((r[0], r[1]), r[2]) for r in s.execute(
        select(StockMovement.sku, StockMovement.warehouse_id, func.sum(StockMovement.qty))
        .group_by(StockMovement.sku, StockMovement.warehouse_id)))
    return all(row.on_hand == sums.get((row.sku, row.warehouse_id), 0)
               and row.on_hand >= row.reserved for row in s.scalars(select(StockLevel)))


def run_inventory(url: str, *, lines: int = 50, orders: int = 4000, calls: int = 2000,
                  ) -> list[Figure]:
    """Both inventory figures on the database at ``url`` (migrated here)."""
    engine = prepare(url)
    kind = engine.dialect.name
    try:
        log(f"inventory/{kind}: catalog, stock, a {lines}-line order and {orders} orders")
        big, ids, stocked = _setup(engine, lines, orders)
        factory = make_sessionmaker(engine)
        log(f"inventory/{kind}: availability x{calls}")
        samples, baseline, state = _availability(factory, big, calls)
        value = median(samples)
        avail = Figure(
            name=f"inventory_availability_{lines}_lines_ms", database=kind, value=value,
            unit="ms", baseline=median(baseline),
            baseline_of="one indexed SELECT of the same order's lines, own session",
            target=f"< {TARGET_MS:g} ms per call", ok=value < TARGET_MS,
            detail={"lines": lines, "state": state, **latency_summary(samples)})
        clients = CLIENTS
        log(f"inventory/{kind}: {orders} reservations, {clients} callers")
        rate, base_rate, check = _reservations(engine, ids, stocked, clients)
        quick = orders < FULL["orders"]
        res = Figure(
            name="inventory_reservations_rate", database=kind, value=rate,
            unit="reservations/s", baseline=base_rate,
            baseline_of="the bare conditional UPDATE of a stock row through the same "
                        "group committer",
            target=f">= {TARGET_RATE:,.0f}/s and no oversell",
            ok=None if quick else bool(rate >= TARGET_RATE and check["no_oversell"]),
            detail={"callers": clients, **check})
        return [avail, res]
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a scratch database URL (tables are created in it)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for fig in run_inventory(args.url, **(QUICK if args.quick else FULL)):
        print(json.dumps({**fig.as_json(), "host": host_info()}), flush=True)


if __name__ == "__main__":
    main()
