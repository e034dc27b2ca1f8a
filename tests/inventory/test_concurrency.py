"""No oversell: 50 reservations at the same moment, each in its own transaction and
connection, for the last 10 units: exactly 10 succeed (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import write_session
from ordertrail.inventory import service as inv
from ordertrail.models.inventory import Reservation, StockWait
from tests.conftest import ctx_for, run_together
from tests.inventory.conftest import check_ledger, level, make_catalog, new_order, receive

ORDERS, UNITS = 50, 10


def test_fifty_concurrent_reservations_of_the_last_ten_units(committing, live_people, clock,
                                                              settings):
    with write_session(committing) as s:
        wang = ctx_for(s, "wang", clock, settings)
        make_catalog(wang)
        receive(wang, "GEAR-40", "SZ1", UNITS)
        alice = ctx_for(s, "alice", clock, settings)
        ids = [new_order(alice, [("GEAR-40", 1)]).id for _ in range(ORDERS)]

    def reserve(i: int) -> bool:
        with write_session(committing) as session:
            ctx = Ctx(session, SYSTEM_ACTOR, clock, settings)
            return inv.reserve_order(ctx, ids[i]).complete

    results = run_together(ORDERS, reserve)
    assert sum(results) == UNITS
    with committing() as s:
        assert level(s, "GEAR-40", "SZ1") == (UNITS, UNITS)
        assert s.scalar(select(func.count()).select_from(Reservation)) == UNITS
        assert s.scalar(select(func.count()).select_from(StockWait)) == ORDERS - UNITS
        assert sum(inv.fully_reserved(s, oid) for oid in ids) == UNITS
        check_ledger(s)
