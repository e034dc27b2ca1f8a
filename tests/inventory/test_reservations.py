"""Reservations: holding stock for an order's needs, waiting visibly for what is short,
receipts allocated to waiting orders, release on cancel, consumption on shipment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ordertrail.flow import planner
from ordertrail.inventory import needs as needs_mod
from ordertrail.inventory import service as inv
from ordertrail.jobs.worker import drain
from ordertrail.models import Order
from ordertrail.models.inventory import StockMovement
from ordertrail.order import read as order_read
from ordertrail.order import service as orders
from ordertrail.shipment.schemas import ShipmentCreate
from ordertrail.shipment.service import create_shipment
from tests.conftest import ctx_for
from tests.inventory.conftest import (
    D,
    check_ledger,
    events,
    level,
    new_order,
    receive,
    timeline_kinds,
)

EXPECTED = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def test_reserve_across_warehouses_most_available_first_and_idempotent(catalog, alice):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 3)
    receive(catalog, "GEAR-40", "SH2", 5)
    order = new_order(alice, [("GEAR-40", 6)])
    state = inv.reserve_order(catalog, order.id)
    assert state.state == "reserved" and state.complete and state.reserved_now == 6
    assert level(db, "GEAR-40", "SH2") == (5, 5) and level(db, "GEAR-40", "SZ1") == (3, 1)
    again = inv.reserve_order(catalog, order.id)
    assert again.state == "reserved" and again.reserved_now == 0
    assert len(timeline_kinds(db, order.id, "stock_reserved")) == 1
    (event,) = events(db, "reservation.completed")
    assert event.payload["order_no"] == order.order_no
    assert {(i["warehouse"], i["qty"]) for i in event.payload["items"]} == {("SH2", "5"),
                                                                           ("SZ1", "1")}
    assert inv.fully_reserved(db, order.id)
    check_ledger(db)


def test_the_preferred_warehouse_goes_first(catalog, alice):
    receive(catalog, "GEAR-40", "SZ1", 3)
    receive(catalog, "GEAR-40", "SH2", 5)
    order = new_order(alice, [("GEAR-40", 4)], custom={"warehouse": "SZ1"})
    inv.reserve_order(catalog, order.id)
    assert level(catalog.session, "GEAR-40", "SZ1") == (3, 3)
    assert level(catalog.session, "GEAR-40", "SH2") == (5, 1)


def test_short_order_waits_visibly_once_per_change(catalog, alice, monkeypatch):
    db = catalog.session
    monkeypatch.setattr(needs_mod, "expected_receipts",
                        lambda session, skus: {"GEAR-40": EXPECTED})
    receive(catalog, "GEAR-40", "SZ1", 4)
    order = new_order(alice, [("GEAR-40", 10), ("PLATE-1", 1), ("NOT-A-PRODUCT", 1)])
    state = inv.reserve_order(catalog, order.id)
    assert state.state == "waiting" and state.shortfall == {"GEAR-40": 6, "PLATE-1": 1}
    assert state.expected_at == EXPECTED
    inv.reserve_order(catalog, order.id)                 # a retry: nothing new to tell
    (row,) = timeline_kinds(db, order.id, "waiting_for_stock")
    assert row.note == ("Waiting for stock: GEAR-40 short by 6 (expected 2026-12-03), "
                        "PLATE-1 short by 1 (no receipt expected yet).")
    assert row.data["shortfall"] == {"GEAR-40": "6", "PLATE-1": "1"}
    assert [e.payload["shortfall"] for e in events(db, "reservation.waiting")] == [
        {"GEAR-40": "6", "PLATE-1": "1"}]
    shown = order_read.order_read(alice, orders.get_order(alice, order.order_no))
    assert shown.waiting is not None and shown.waiting.kind == "stock"
    assert shown.waiting.expected_at == EXPECTED
    assert [(i.sku, i.short_qty) for i in shown.waiting.items] == [("GEAR-40", 6),
                                                                   ("PLATE-1", 1)]
    assert "缺" in shown.waiting.reason.zh
    assert [(s.sku, s.short_qty, s.order_ids) for s in inv.shortages(db)] == [
        ("GEAR-40", 6, [order.id]), ("PLATE-1", 1, [order.id])]
    receive(catalog, "GEAR-40", "SH2", 2)                # part of it: the shortfall changes
    assert len(timeline_kinds(db, order.id, "waiting_for_stock")) == 2
    receive(catalog, "GEAR-40", "SH2", 10)
    receive(catalog, "PLATE-1", "SZ1", 1)
    assert inv.reservations_read(db, order.order_no).state == "reserved"
    assert len(timeline_kinds(db, order.id, "stock_reserved")) == 1
    assert order_read.order_read(alice, orders.get_order(alice, order.order_no)).waiting is None
    assert inv.shortages(db) == []
    assert level(db, "GEAR-40", "SH2") == (12, 6)
    check_ledger(db)


def test_receipts_go_to_waiting_orders_by_priority_then_age(catalog, alice, clock):
    db = catalog.session
    made = {}
    for name, priority in (("old_normal", "normal"), ("low", "low"), ("urgent", "urgent"),
                           ("new_normal", "normal")):
        made[name] = new_order(alice, [("GEAR-40", 2)], priority=priority)
        clock.advance(timedelta(minutes=1))
        inv.reserve_order(catalog, made[name].id)
    assert inv.waiting_orders(db, ["GEAR-40"])["GEAR-40"] == [
        made[n].id for n in ("urgent", "old_normal", "new_normal", "low")]
    receive(catalog, "GEAR-40", "SZ1", 5)
    done = {n for n, o in made.items() if inv.fully_reserved(db, o.id)}
    assert done == {"urgent", "old_normal"}
    # the fifth unit is held for the next in line, which still waits for one more
    assert inv.reservations_read(db, made["new_normal"].order_no).waiting.items[0].short_qty == 1
    assert inv.reservations_read(db, made["low"].order_no).state == "waiting"
    check_ledger(db)


def test_cancel_releases_and_the_stock_goes_to_the_next_order(catalog, alice, factory, clock,
                                                               settings):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 3)
    first = new_order(alice, [("GEAR-40", 3)])
    second = new_order(alice, [("GEAR-40", 2)])
    drain(factory, clock, settings)                      # retail review reserves on entry
    assert inv.fully_reserved(db, first.id) and not inv.fully_reserved(db, second.id)
    sam = ctx_for(db, "sam", clock, settings)
    orders.act(sam, first.order_no, planner.Cancel("customer changed their mind"))
    db.flush()
    drain(factory, clock, settings)
    assert inv.reservations_read(db, first.order_no).state == "released"
    assert inv.fully_reserved(db, second.id)
    assert level(db, "GEAR-40", "SZ1") == (3, 2)
    (row,) = timeline_kinds(db, first.id, "stock_released")
    assert "cancelled" in row.note and row.actor == "system"
    assert events(db, "reservation.released")[0].payload["items"] == [
        {"sku": "GEAR-40", "warehouse": "SZ1", "qty": "3"}]
    check_ledger(db)


def test_make_to_order_components_then_finished_goods_then_shipment(
        catalog, alice, factory, clock, settings):
    db = catalog.session
    receive(catalog, "BOLT-M8", "SZ1", 10)
    receive(catalog, "PLATE-1", "SH2", 5)
    order = new_order(alice, [("PUMP-7", 3)], flow="make_to_order")
    assert [(n.sku, n.qty, n.component_of) for n in inv.needs_of_order(db, order.id)] == [
        ("BOLT-M8", 6, "PUMP-7"), ("PLATE-1", 3, "PUMP-7")]
    orders.act(alice, order.order_no, planner.Advance("material_check"))
    db.flush()
    drain(factory, clock, settings)
    db.expire_all()
    assert db.scalar(select(Order.stage).where(Order.id == order.id)) == "production"
    assert level(db, "BOLT-M8", "SZ1") == (10, 6)
    # the work order starts: its components leave stock
    inv.consume(catalog, order.id, {"BOLT-M8": D(6), "PLATE-1": D(3)}, reason="WO start",
                ref_type="work_order", ref_id="WO-1")
    inv.consume(catalog, order.id, {"BOLT-M8": D(6), "PLATE-1": D(3)}, reason="WO start",
                ref_type="work_order", ref_id="WO-1")    # a retry: once only
    assert level(db, "BOLT-M8", "SZ1") == (4, 0) and level(db, "PLATE-1", "SH2") == (2, 0)
    assert inv.fully_reserved(db, order.id)              # consumed still counts
    inv.receive_produced(catalog, order.id, "PUMP-7", "SZ1", D(3), ref_id="WO-1")
    inv.receive_produced(catalog, order.id, "PUMP-7", "SZ1", D(3), ref_id="WO-1")
    assert level(db, "PUMP-7", "SZ1") == (3, 3)
    create_shipment(catalog, order.order_no, ShipmentCreate(
        carrier="sf", tracking_number="SF1000000000091", provider="manual"))
    db.flush()
    drain(factory, clock, settings)
    assert level(db, "PUMP-7", "SZ1") == (0, 0)
    issued = db.scalars(select(StockMovement).where(StockMovement.ref_type == "shipment")).all()
    assert [(m.sku, m.qty) for m in issued] == [("PUMP-7", -3)]
    rows = {(r.sku, r.purpose): r for r in inv.reservations_read(db, order.order_no).items}
    assert rows[("PUMP-7", "produced")].consumed == 3 and rows[("BOLT-M8", "need")].open == 0
    assert timeline_kinds(db, order.id, "goods_received")[0].data["reserved"] == "3"
    check_ledger(db)


def test_shipment_of_stocked_lines_consumes_their_reservations(catalog, alice, factory, clock,
                                                               settings):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 5)
    order = new_order(alice, [("GEAR-40", 2), ("UNTRACKED", 1)])
    drain(factory, clock, settings)
    create_shipment(catalog, order.order_no, ShipmentCreate(
        carrier="sf", tracking_number="SF1000000000092", provider="manual"))
    db.flush()
    drain(factory, clock, settings)
    assert level(db, "GEAR-40", "SZ1") == (3, 0)
    (row,) = timeline_kinds(db, order.id, "stock_issued")
    assert row.data["issued"] == [{"sku": "GEAR-40", "warehouse": "SZ1", "qty": "2"}]
    check_ledger(db)


def test_availability_per_line_and_warehouse(catalog, alice):
    db = catalog.session
    receive(catalog, "GEAR-40", "SZ1", 3)
    receive(catalog, "GEAR-40", "SH2", 1)
    receive(catalog, "BOLT-M8", "SZ1", 4)
    order = new_order(alice, [("GEAR-40", 3), ("PUMP-7", 3), ("UNTRACKED", 1)])
    a = inv.availability(db, order.order_no)
    assert a.state == "partial" and a.untracked == ["UNTRACKED"]
    by = {ln.sku: ln for ln in a.lines}
    assert by["GEAR-40"].state == "available" and by["GEAR-40"].available == 4
    assert [(w.warehouse, w.available) for w in by["GEAR-40"].warehouses] == [("SH2", 1),
                                                                              ("SZ1", 3)]
    assert by["BOLT-M8"].state == "partial" and by["BOLT-M8"].short == 2
    assert by["PLATE-1"].state == "short" and by["PLATE-1"].short == 3
    assert by["PLATE-1"].component_of == "PUMP-7"
    inv.reserve_order(catalog, order.id)
    after = {ln.sku: ln for ln in inv.availability(db, order.order_no).lines}
    assert after["GEAR-40"].reserved == 3 and after["GEAR-40"].state == "available"


def test_an_order_with_nothing_tracked_counts_as_reserved(catalog, alice):
    order = new_order(alice, [("UNTRACKED", 2)])
    assert inv.reserve_order(catalog, order.id).state == "none"
    assert inv.fully_reserved(catalog.session, order.id)
    assert inv.availability(catalog.session, order.order_no).state == "available"
    assert timeline_kinds(catalog.session, order.id, "stock_reserved",
                          "waiting_for_stock") == []
