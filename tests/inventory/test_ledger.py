"""The movement ledger: receipts, issues, adjustments and transfers keep every stock row
equal to its ledger; bad movements are refused, change nothing and are logged."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from ordertrail.errors import Conflict, Forbidden, Invalid
from ordertrail.inventory import service as inv
from ordertrail.inventory.schemas import MovementIn
from ordertrail.models.inventory import StockMovement
from tests.inventory.conftest import D, check_ledger, events, level, new_order, receive, user


def mv(kind: str, sku: str, wh: str, qty: int | str, **kw: str) -> MovementIn:
    return MovementIn(kind=kind, sku=sku, warehouse=wh, qty=D(qty),
                      reason=kw.pop("reason", "test"), **kw)


def test_receipt_issue_adjust_transfer(catalog):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 10, "PO 1")
    inv.move(catalog, mv("issue", "GEAR-40", "SZ1", 3, reason="sample for customer"))
    inv.move(catalog, mv("adjustment", "GEAR-40", "SZ1", "-1.5", reason="count found less"))
    (out, into) = inv.move(catalog, mv("transfer", "GEAR-40", "SZ1", 2, to_warehouse="SH2"))
    assert out.transfer_id == into.transfer_id and out.qty == -2 and into.qty == 2
    assert level(db, "GEAR-40", "SZ1") == (D("3.5"), 0)
    assert level(db, "GEAR-40", "SH2") == (2, 0)
    page = inv.list_movements(db, sku="GEAR-40")
    assert [m.kind for m in page.items] == ["transfer", "transfer", "adjustment", "issue",
                                            "receipt"]
    assert page.items[-1].actor == "wang" and page.items[-1].reason == "PO 1"
    assert [m.balance for m in page.items] == [2, D("3.5"), D("5.5"), 7, 10]
    assert len(inv.list_movements(db, warehouse="SH2").items) == 1
    assert [s.warehouse for s in inv.list_stock(db, sku="GEAR-40").items] == ["SH2", "SZ1"]
    names = [e.name for e in events(db, "stock.received") + events(db, "stock.transferred")]
    assert names == ["stock.received", "stock.transferred"]
    check_ledger(db)


@pytest.mark.parametrize(("movement", "error", "words"), [
    (dict(kind="issue", sku="GEAR-40", wh="SZ1", qty=6), Conflict, "free 5"),
    (dict(kind="adjustment", sku="GEAR-40", wh="SZ1", qty=-6), Conflict, "cannot take 6"),
    (dict(kind="receipt", sku="NOPE-9", wh="SZ1", qty=1), Invalid, "NOPE-9"),
    (dict(kind="receipt", sku="GEAR-40", wh="XX9", qty=1), Invalid, "XX9"),
    (dict(kind="receipt", sku="GEAR-40", wh="SZ1", qty=0), Invalid, "more than 0"),
    (dict(kind="issue", sku="GEAR-40", wh="SZ1", qty=-1), Invalid, "more than 0"),
    (dict(kind="transfer", sku="GEAR-40", wh="SZ1", qty=1, to_warehouse="SZ1"), Invalid,
     "another warehouse"),
    (dict(kind="transfer", sku="GEAR-40", wh="SZ1", qty=1), Invalid, "to_warehouse"),
    (dict(kind="transfer", sku="GEAR-40", wh="SZ1", qty=9, to_warehouse="SH2"), Conflict,
     "free 5"),
])
def test_bad_movements_change_nothing_and_are_logged(catalog, caplog, movement, error, words):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 5)
    before = db.scalar(select(func.count()).select_from(StockMovement))
    caplog.set_level(logging.WARNING, "ordertrail.inventory")
    args = dict(movement)
    with pytest.raises(error) as caught:
        inv.move(catalog, mv(args.pop("kind"), args.pop("sku"), args.pop("wh"),
                             args.pop("qty"), **args))
    assert words in caught.value.detail()
    assert db.scalar(select(func.count()).select_from(StockMovement)) == before
    assert level(db, "GEAR-40", "SZ1") == (5, 0)
    assert "refused" in caplog.text and "wang" in caplog.text


def test_reserved_stock_cannot_be_issued(catalog, alice):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 5)
    order = new_order(alice, [("GEAR-40", 4)])
    inv.reserve_order(catalog, order.id)
    with pytest.raises(Conflict) as caught:
        inv.move(catalog, mv("issue", "GEAR-40", "SZ1", 2))
    assert "reserved 4, free 1" in caught.value.detail()
    check_ledger(db)


def test_roles_who_may_move_stock(catalog, alice, db, clock, settings):
    with pytest.raises(Forbidden):
        inv.move(alice, mv("receipt", "GEAR-40", "SZ1", 1))
    buyer = user(db, "bob", ["procurement"], clock, settings)
    receive(buyer, "GEAR-40", "SZ1", 1)
    with pytest.raises(Forbidden):
        inv.move(buyer, mv("issue", "GEAR-40", "SZ1", 1))
    assert level(db, "GEAR-40", "SZ1") == (1, 0)


def test_movements_are_immutable(catalog):
    receive(catalog, "GEAR-40", "SZ1", 5)
    db = catalog.session
    with pytest.raises(DatabaseError), db.begin_nested():
        db.execute(text("UPDATE stock_movements SET qty = 0"))


# Any sequence of movements and reservations: the rows equal their ledger, no rule breaks.
STEP = st.one_of(
    st.tuples(st.sampled_from(["receipt", "issue", "adjustment", "transfer"]),
              st.sampled_from(["GEAR-40", "BOLT-M8"]), st.sampled_from(["SZ1", "SH2"]),
              st.integers(-5, 12)),
    st.tuples(st.just("order"), st.sampled_from(["GEAR-40", "BOLT-M8", "PUMP-7"]),
              st.just(""), st.integers(1, 6)),
    st.tuples(st.just("cancel"), st.just(""), st.just(""), st.integers(0, 5)),
    st.tuples(st.just("ship"), st.just(""), st.just(""), st.integers(0, 5)),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=14))
def test_stock_rows_always_equal_their_ledger(catalog, alice, steps):
    db = catalog.session
    nested = db.begin_nested()
    made = []
    try:
        for kind, sku, wh, n in steps:
            try:
                if kind == "order":
                    order = new_order(alice, [(sku, n)])
                    made.append(order.id)
                    inv.reserve_order(catalog, order.id)
                elif kind == "cancel" and made:
                    inv.release_order(catalog, made[n % len(made)], "test")
                elif kind == "ship" and made:
                    oid = made[n % len(made)]
                    inv.consume(catalog, oid, {"GEAR-40": D(1), "BOLT-M8": D(2)},
                                reason="ship", ref_type="shipment", ref_id=str(n))
                elif kind in ("receipt", "issue", "adjustment", "transfer"):
                    other = "SH2" if wh == "SZ1" else "SZ1"
                    with db.begin_nested():
                        inv.move(catalog, mv(kind, sku, wh, n, **(
                            {"to_warehouse": other} if kind == "transfer" else {})))
            except (Conflict, Invalid):
                pass
            check_ledger(db)
    finally:
        nested.rollback()
