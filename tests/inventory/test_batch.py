"""``reserve_orders`` (the API's merged reservations) leaves what reserving the same orders one
by one leaves, and never oversells under concurrent HTTP requests."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordertrail.db import write_session
from ordertrail.inventory import service as inv
from ordertrail.models import OutboxEvent, TimelineEntry
from ordertrail.models.inventory import OrderStock, Reservation, StockLevel, StockWait
from tests.conftest import ctx_for, run_together
from tests.inventory.conftest import check_ledger, level, make_catalog, new_order, receive

SKUS = ("GEAR-40", "BOLT-M8", "PLATE-1", "PUMP-7", "NOT-A-PRODUCT")


def _snapshot(db: Session, ids: list[int]) -> dict[str, Any]:
    db.expire_all()
    return {
        "reservations": sorted(
            (r.order_id, r.order_line_id, r.sku, r.warehouse_id, r.qty)
            for r in db.scalars(select(Reservation).where(Reservation.order_id.in_(ids)))),
        "states": sorted((s.order_id, s.state, tuple(sorted(s.shortfall.items())))
                         for s in db.scalars(select(OrderStock).where(
                             OrderStock.order_id.in_(ids)))),
        "waits": sorted((w.order_id, w.sku, w.short_qty) for w in db.scalars(
            select(StockWait).where(StockWait.order_id.in_(ids)))),
        "stock": sorted((s.sku, s.warehouse_id, s.on_hand, s.reserved)
                        for s in db.scalars(select(StockLevel))),
        "timeline": sorted((t.order_id, t.kind, t.note) for t in db.scalars(
            select(TimelineEntry).where(TimelineEntry.order_id.in_(ids),
                                        TimelineEntry.kind.in_(("stock_reserved",
                                                                "waiting_for_stock"))))),
        "events": sorted((e.name, e.aggregate_id) for e in db.scalars(
            select(OutboxEvent).where(OutboxEvent.name.like("reservation.%")))),
    }


@hsettings(max_examples=15, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_merged_reservations_equal_one_by_one(db, people, clock, settings, seed):
    rng = random.Random(seed)
    outer = db.begin_nested()
    try:
        wang, alice = ctx_for(db, "wang", clock, settings), ctx_for(db, "alice", clock, settings)
        make_catalog(wang)
        for sku in SKUS[:3]:
            for wh in ("SZ1", "SH2"):
                if rng.random() < 0.7:
                    receive(wang, sku, wh, rng.randint(1, 12))
        ids = [new_order(alice, [(rng.choice(SKUS), rng.randint(1, 6))
                                 for _ in range(rng.randint(1, 3))]).id for _ in range(8)]
        # A few were reserved before: the merged call reserves those on their own.
        for oid in ids[:2]:
            inv.reserve_order(wang, oid)
        snaps = []
        for merged in (False, True):
            inner = db.begin_nested()
            if merged:
                states = inv.reserve_orders(wang, ids)
            else:
                states = [inv.reserve_order(wang, oid) for oid in ids]
            db.flush()
            snaps.append((_snapshot(db, ids), [(s.state, s.shortfall) for s in states]))
            check_ledger(db)
            inner.rollback()
        assert snaps[0] == snaps[1]
    finally:
        outer.rollback()


def test_fifty_concurrent_requests_for_the_last_ten_units(committing, live_app, live_people,
                                                          clock, settings):
    with write_session(committing) as s:
        wang = ctx_for(s, "wang", clock, settings)
        make_catalog(wang)
        receive(wang, "GEAR-40", "SZ1", 6)
        receive(wang, "GEAR-40", "SH2", 4)
        alice = ctx_for(s, "alice", clock, settings)
        numbers = [new_order(alice, [("GEAR-40", 1)]).order_no for _ in range(50)]
    with TestClient(live_app) as client:
        def reserve(i: int) -> dict[str, Any]:
            r = client.post(f"/api/v1/orders/{numbers[i]}/reservations",
                            headers=live_people.headers("wang"))
            assert r.status_code == 200, r.text
            return r.json()

        answers = run_together(50, reserve)
    assert sum(a["state"] == "reserved" for a in answers) == 10
    assert sum(a["state"] == "waiting" for a in answers) == 40
    with committing() as s:
        assert level(s, "GEAR-40", "SZ1") == (6, 6) and level(s, "GEAR-40", "SH2") == (4, 4)
        assert s.scalar(select(func.sum(Reservation.qty))) == Decimal(10)
        check_ledger(s)


def test_an_unknown_order_in_a_merged_call_fails_alone(committing, live_app, live_people,
                                                       clock, settings):
    with write_session(committing) as s:
        wang = ctx_for(s, "wang", clock, settings)
        make_catalog(wang)
        receive(wang, "GEAR-40", "SZ1", 5)
        alice = ctx_for(s, "alice", clock, settings)
        numbers = [new_order(alice, [("GEAR-40", 1)]).order_no for _ in range(5)]
    numbers.insert(2, "SO19990101-00001")
    with TestClient(live_app) as client:
        def reserve(i: int) -> int:
            return client.post(f"/api/v1/orders/{numbers[i]}/reservations",
                               headers=live_people.headers("wang")).status_code

        codes = run_together(len(numbers), reserve)
    assert sorted(codes) == [200] * 5 + [404]
