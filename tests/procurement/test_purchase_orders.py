"""Purchase orders through the services: suggestions from shortages, dates, receipts and
their refusals, expected receipts for inventory."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.models import OutboxEvent
from ordertrail.models.inventory import OrderStock, StockMovement
from ordertrail.models.procurement import PurchaseOrderHistory
from ordertrail.procurement import receiving, service, suggest
from ordertrail.procurement.schemas import FromShortages, PoCreate, ReceiptLineIn
from tests.conftest import ctx_for
from tests.procurement.conftest import on_hand, timeline, waiting_order

D = Decimal


def _events(db, name):
    return list(db.scalars(select(OutboxEvent).where(OutboxEvent.name == name)
                           .order_by(OutboxEvent.id)))


def _po(buyer, lines, **kw):
    return service.create_po(buyer, PoCreate.model_validate(
        {"supplier": "ACME", "lines": lines, **kw}))


def test_suggestions_group_shortages_and_a_po_from_them_serves_the_waiting_orders(
        db, buyer, acme, clock):
    first, first_no = waiting_order(buyer, {"BOLT-M8": 3, "GEAR-40": 1})
    second, second_no = waiting_order(buyer, {"BOLT-M8": 4})
    found = {s.sku: s for s in suggest.suggestions(buyer).suggestions}
    assert set(found) == {"BOLT-M8", "GEAR-40"}
    bolt = found["BOLT-M8"]
    assert (bolt.short_qty, bolt.on_order_qty, bolt.suggested_qty) == (D(7), D(0), D(7))
    assert sorted(bolt.order_nos) == sorted([first_no, second_no])
    assert bolt.supplier is None and bolt.expected_at is None   # never bought yet

    po = suggest.from_shortages(buyer, FromShortages(supplier="ACME", skus=["BOLT-M8"]))
    assert po.po_no.startswith("PO20261120-") and po.status == "draft"
    lines = service.lines_of(db, po.id)
    assert [(ln.sku, ln.qty) for ln in lines] == [("BOLT-M8", D(7))]
    # expected = today (Shanghai) + ACME's 5 days lead time
    assert service.day_text(po.expected_at, buyer.settings) == "2026-11-25"
    for order_id in (first, second):
        (row,) = timeline(db, order_id, "po_created")
        assert po.po_no in row.note and "BOLT-M8" in row.note and "2026-11-25" in row.note
        assert row.data["po_no"] == po.po_no and row.actor == "grace"
    assert _events(db, "purchase_order.created")[-1].payload["order_nos"] == sorted(
        [first_no, second_no])

    # covered now: only GEAR-40 is left to buy, and ACME is BOLT-M8's supplier from now on
    after = {s.sku: s for s in suggest.suggestions(buyer).suggestions}
    assert set(after) == {"GEAR-40"}
    covered = {s.sku: s for s in suggest.suggestions(buyer, include_covered=True).suggestions}
    assert covered["BOLT-M8"].on_order_qty == D(7) and covered["BOLT-M8"].suggested_qty == 0
    assert covered["BOLT-M8"].supplier == "ACME" and covered["BOLT-M8"].lead_time_days == 5
    with pytest.raises(Invalid, match="already cover"):
        suggest.from_shortages(buyer, FromShortages(supplier="ACME", skus=["BOLT-M8"]))
    with pytest.raises(Invalid, match="Nothing is short of NUT-M8"):
        suggest.from_shortages(buyer, FromShortages(supplier="ACME", skus=["NUT-M8"]))


def test_expected_receipts_take_the_earliest_promise_else_the_asked_date(db, buyer, acme):
    a = _po(buyer, [{"sku": "BOLT-M8", "qty": 5}], expected_at="2026-12-10")
    _po(buyer, [{"sku": "BOLT-M8", "qty": 5}, {"sku": "GEAR-40", "qty": 1}],
        expected_at="2026-12-05")
    got = service.expected_receipts(db, ["BOLT-M8", "GEAR-40", "NUT-M8"])
    assert {k: service.day_text(v, buyer.settings) for k, v in got.items()} == {
        "BOLT-M8": "2026-12-05", "GEAR-40": "2026-12-05"}
    assert all(v.tzinfo is not None for v in got.values())
    service.confirm(buyer, a.po_no, date(2026, 12, 1), "early")
    assert service.day_text(service.expected_receipts(db, ["BOLT-M8"])["BOLT-M8"],
                            buyer.settings) == "2026-12-01"
    receiving.receive(buyer, a.po_no, [ReceiptLineIn(sku="BOLT-M8", qty=D(5))])
    # received in full: no longer expected
    assert service.day_text(service.expected_receipts(db, ["BOLT-M8"])["BOLT-M8"],
                            buyer.settings) == "2026-12-05"


def test_staff_confirmation_and_date_change_tell_the_waiting_orders(db, buyer, acme):
    order_id, _no = waiting_order(buyer, {"GEAR-40": 2})
    po = _po(buyer, [{"sku": "GEAR-40", "qty": 2, "unit_price": "12.5"}],
             expected_at="2026-11-30")
    service.confirm(buyer, po.po_no, None, "called them")
    assert po.status == "confirmed"
    assert service.day_text(po.confirmed_at, buyer.settings) == "2026-11-30"
    (confirmed,) = timeline(db, order_id, "po_confirmed")
    assert "confirmed delivery on 2026-11-30" in confirmed.note
    assert service.set_date(buyer, po, None, None) is False     # a repeat changes nothing

    service.confirm(buyer, po.po_no, date(2026, 12, 3), "raw material late")
    (moved,) = timeline(db, order_id, "po_date_changed")
    assert "from 2026-11-30 to 2026-12-03" in moved.note and "raw material late" in moved.note
    # the waiting order's expected date follows the promise
    stock = db.get(OrderStock, order_id)
    assert service.day_text(stock.expected_at, buyer.settings) == "2026-12-03"
    kinds = [h.kind for h in db.scalars(select(PurchaseOrderHistory).where(
        PurchaseOrderHistory.po_id == po.id).order_by(PurchaseOrderHistory.id))]
    assert kinds == ["created", "confirmed", "date_changed"]
    changed = _events(db, "purchase_order.date_changed")[-1].payload
    assert changed["po_no"] == po.po_no and changed["date"].startswith("2026-12-02T16:00")
    with pytest.raises(Invalid, match="in the past"):
        service.confirm(buyer, po.po_no, date(2026, 11, 1), None)


def test_a_receipt_puts_stock_in_and_refusals_change_nothing(db, buyer, acme, caplog):
    order_id, _no = waiting_order(buyer, {"BOLT-M8": 4})
    po = suggest.from_shortages(buyer, FromShortages(supplier="ACME"))
    wang = ctx_for(db, "wang", buyer.clock, buyer.settings)

    def moves() -> int:
        return db.scalar(select(func.count()).select_from(StockMovement))

    before = moves()
    caplog.set_level(logging.WARNING, logger="ordertrail.procurement")
    with pytest.raises(NotFound, match="PO-NOPE"):
        receiving.receive(wang, "PO-NOPE", [ReceiptLineIn(sku="BOLT-M8", qty=D(1))])
    with pytest.raises(Invalid, match="GEAR-40 is not on purchase order"):
        receiving.receive(wang, po.po_no, [ReceiptLineIn(sku="BOLT-M8", qty=D(1)),
                                           ReceiptLineIn(sku="GEAR-40", qty=D(1))])
    with pytest.raises(Invalid, match="4 of BOLT-M8 still open, not 5"):
        receiving.receive(wang, po.po_no, [ReceiptLineIn(sku="BOLT-M8", qty=D(3)),
                                           ReceiptLineIn(sku="BOLT-M8", qty=D(2))])
    alice = ctx_for(db, "alice", buyer.clock, buyer.settings)
    with pytest.raises(Forbidden):
        receiving.receive(alice, po.po_no, [ReceiptLineIn(sku="BOLT-M8", qty=D(1))])
    assert moves() == before and on_hand(db, "BOLT-M8") == 0
    assert service.lines_of(db, po.id)[0].received_qty == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "ordertrail.procurement"]
    assert any("PO-NOPE" in m and "wang" in m for m in logged)
    assert any(po.po_no in m and "not on purchase order" in m for m in logged)

    receiving.receive(wang, po.po_no, [ReceiptLineIn(sku="BOLT-M8", qty=D(1))])
    assert po.status == "partially_received"
    receiving.receive(wang, po.po_no, [ReceiptLineIn(sku="BOLT-M8", qty=D(3))])
    assert po.status == "received" and po.received_at is not None
    assert on_hand(db, "BOLT-M8") == 4
    notes = [r.note for r in timeline(db, order_id, "po_received")]
    assert len(notes) == 2 and "BOLT-M8 × 3" in notes[1]
    ref = db.scalars(select(StockMovement).where(StockMovement.kind == "receipt")
                     .order_by(StockMovement.id)).all()
    assert {(m.ref_type, m.ref_id) for m in ref} == {("purchase_order", po.po_no)}
    (received,) = [e for e in _events(db, "purchase_order.received")
                   if e.payload["complete"]]
    assert received.payload["lines"] == {"BOLT-M8": "3"}
    with pytest.raises(Conflict):
        service.cancel(buyer, po.po_no, "too late")


def test_a_cancelled_po_refuses_receipts_and_dates(db, buyer, acme):
    po = _po(buyer, [{"sku": "NUT-M8", "qty": 10}])
    service.cancel(buyer, po.po_no, "supplier closed")
    with pytest.raises(Conflict, match="cancelled"):
        receiving.receive(buyer, po.po_no, [ReceiptLineIn(sku="NUT-M8", qty=D(1))])
    with pytest.raises(Conflict, match="cancelled"):
        service.confirm(buyer, po.po_no, None, None)
    assert service.expected_receipts(db, ["NUT-M8"]) == {}


def test_hand_made_po_refuses_bad_input(db, buyer, acme):
    with pytest.raises(NotFound, match="NOBODY"):
        service.create_po(buyer, PoCreate(supplier="NOBODY", lines=[{"sku": "BOLT-M8",
                                                                      "qty": 1}]))
    with pytest.raises(Invalid, match="UNKNOWN-1"):
        _po(buyer, [{"sku": "UNKNOWN-1", "qty": 1}])
    with pytest.raises(Invalid, match="two lines"):
        _po(buyer, [{"sku": "BOLT-M8", "qty": 1}, {"sku": "BOLT-M8", "qty": 2}])
    with pytest.raises(Invalid, match="warehouse"):
        _po(buyer, [{"sku": "BOLT-M8", "qty": 1}], warehouse="NOWHERE")
    alice = ctx_for(db, "alice", buyer.clock, buyer.settings)
    with pytest.raises(Forbidden):
        service.create_po(alice, PoCreate(supplier="ACME", lines=[{"sku": "BOLT-M8",
                                                                    "qty": 1}]))
    assert service.list_pos(db) == []


def test_to_utc_reads_dates_in_the_install_zone(settings):
    assert service.to_utc(date(2026, 12, 1), settings) == datetime(2026, 11, 30, 16,
                                                                    tzinfo=UTC)
    assert service.to_utc(datetime(2026, 12, 1, 9), settings) == datetime(2026, 12, 1, 1,
                                                                           tzinfo=UTC)
    assert service.to_utc(None, settings) is None
