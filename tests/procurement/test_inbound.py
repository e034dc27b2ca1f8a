"""The inbound parcel: tracked by the shipment hub without an order; its delivery (a carrier
push through ingestion) receives the goods, and the waiting order moves on by itself."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.errors import Conflict
from ordertrail.flow import planner
from ordertrail.jobs.worker import drain
from ordertrail.models import OutboxEvent, Shipment
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from ordertrail.procurement import receiving, suggest
from ordertrail.procurement.schemas import FromShortages
from ordertrail.shipment.inbound import create_inbound_shipment
from ordertrail.shipment.ingest import ingest
from tests.conftest import ctx_for, order_body
from tests.procurement.conftest import on_hand, stage, timeline

NUMBER = "SF1234567890123"


def _event(clock, minutes: int, sub: str, text: str) -> CarrierEvent:
    return CarrierEvent(clock.now() + timedelta(minutes=minutes), sub.split(".")[0], sub, text,
                        None, "深圳")


def _material_check_order(db, clock, settings) -> tuple[int, str]:
    """A make-to-order order at material_check, waiting for 6 × BOLT-M8 (a bought part)."""
    from ordertrail.inventory import service as inventory

    alice = ctx_for(db, "alice", clock, settings)
    body = order_body("make_to_order", lines=[{"sku": "BOLT-M8", "name": "Bolt", "qty": 6,
                                               "unit_price": "0.50"}])
    order = orders.create_order(alice, OrderCreate.model_validate(body))
    orders.act(alice, order.order_no, planner.Advance("material_check"))
    inventory.reserve_order(Ctx(db, SYSTEM_ACTOR, clock, settings), order.id)
    db.flush()
    return order.id, order.order_no


def test_inbound_shipment_has_no_order_and_announces_itself(db, buyer, catalog):
    s = create_inbound_shipment(buyer, "sf 1234 5678 90123", carrier="sf", provider="manual")
    assert (s.order_id, s.carrier, s.tracking_number, s.status) == (None, "sf", NUMBER,
                                                                    "pending")
    created = db.scalars(select(OutboxEvent).where(OutboxEvent.name == "shipment.created",
                                                   OutboxEvent.aggregate_id == str(s.id))).one()
    assert created.payload["order_no"] is None and created.payload["inbound"] is True
    with pytest.raises(Conflict, match="already tracked"):
        create_inbound_shipment(buyer, NUMBER, carrier="sf")


def test_delivery_of_the_inbound_parcel_receives_and_moves_the_order_on(
        db, factory, clock, settings, buyer, acme):
    order_id, _no = _material_check_order(db, clock, settings)
    assert stage(db, order_id) == "material_check"
    po = suggest.from_shortages(buyer, FromShortages(supplier="ACME"))
    receiving.set_tracking(buyer, po, "sf", NUMBER, provider="manual")
    (shipped,) = timeline(db, order_id, "po_shipped")
    assert NUMBER in shipped.note
    db.commit()
    drain(factory, clock, settings)   # shipment.created etc.: nothing for procurement

    system = Ctx(db, SYSTEM_ACTOR, clock, settings)
    ingest(system, "generic", [TrackingUpdate(NUMBER, (
        _event(clock, -600, "in_transit.picked_up", "已揽收"),))], "push")
    db.commit()
    drain(factory, clock, settings)
    (moving,) = timeline(db, order_id, "inbound_in_transit")
    assert moving.source == "carrier" and po.po_no in moving.note
    assert on_hand(db, "BOLT-M8") == 0

    ingest(system, "generic", [TrackingUpdate(NUMBER, (
        _event(clock, -60, "delivered.signed", "已签收"),))], "push")
    db.commit()
    drain(factory, clock, settings)
    db.expire_all()
    db.refresh(po)
    assert po.status == "received"
    assert on_hand(db, "BOLT-M8") == Decimal(6)
    (received,) = timeline(db, order_id, "po_received")
    assert received.source == "carrier" and received.actor == "system"
    assert stage(db, order_id) == "production"     # reservation.completed fired
    assert db.get(Shipment, po.shipment_id).status == "delivered"

    # a repeated delivery push changes nothing
    ingest(system, "generic", [TrackingUpdate(NUMBER, (
        _event(clock, -60, "delivered.signed", "已签收"),))], "push")
    db.commit()
    drain(factory, clock, settings)
    assert on_hand(db, "BOLT-M8") == Decimal(6)


def test_no_automatic_receipt_when_the_po_says_so(db, factory, clock, settings, buyer, acme):
    from ordertrail.procurement import service
    from ordertrail.procurement.schemas import PoCreate

    po = service.create_po(buyer, PoCreate(supplier="ACME", receive_on_delivery=False,
                                           lines=[{"sku": "NUT-M8", "qty": 2}]))
    receiving.set_tracking(buyer, po, "sf", NUMBER, provider="manual")
    ingest(Ctx(db, SYSTEM_ACTOR, clock, settings), "generic", [TrackingUpdate(NUMBER, (
        _event(clock, -60, "delivered.signed", "已签收"),))], "push")
    db.commit()
    drain(factory, clock, settings)
    db.refresh(po)
    assert po.status == "draft" and on_hand(db, "NUT-M8") == 0
