"""Shipment alerts: silence per status and carrier, exceptions and failed deliveries from the
carrier's events (through the worker), and auto-resolve when the parcel moves on."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ordertrail.jobs.outbox import emit
from ordertrail.jobs.worker import drain
from ordertrail.models import Order, Shipment
from ordertrail.sla.sweep import sweep
from tests.sla.conftest import alerts_of, events, retail_order


def _parcel(db, clock, order_no, status="in_transit", carrier="sf", hours_quiet=0.0,
            number="SF1234567890123"):
    order = db.scalars(select(Order).where(Order.order_no == order_no)).one()
    now = clock.now()
    s = Shipment(order_id=order.id, carrier=carrier, provider="generic",
                 tracking_number=number, status=status, substatus=f"{status}.other",
                 progress_rank=3, event_count=1, check_failures=0, created_at=now,
                 updated_at=now, registered_at=now, meta={},
                 last_event_at=now - timedelta(hours=hours_quiet))
    db.add(s)
    db.commit()
    return s


def _tell(db, clock, name, s, to, **extra):
    emit(db, name, "shipment", str(s.id), {
        "shipment_id": s.id, "tracking_number": s.tracking_number, "carrier": s.carrier,
        "order_no": extra.pop("order_no", None), "from": s.status, "to": to,
        "substatus": f"{to}.lost", "description": "包裹丢失", "location": "深圳",
        "occurred_at": clock.now().isoformat(), "at": clock.now().isoformat(), **extra},
         clock.now())
    s.status = to
    db.commit()


def test_silence_alerts_once_per_quiet_spell_by_status_and_carrier(sam, clock, db, factory,
                                                                    settings):
    no = retail_order(sam)
    quiet = _parcel(db, clock, no, hours_quiet=49)
    slow = _parcel(db, clock, no, carrier="ems", hours_quiet=49, number="EE123456789CN")
    _parcel(db, clock, no, status="delivered", hours_quiet=500, number="SF999")
    result = sweep(factory, clock, settings)
    assert result.no_update == 1  # EMS in transit gets 72 h
    (alert,) = [a for a in alerts_of(db) if a.kind == "shipment_no_update"]
    assert alert.shipment_id == quiet.id and alert.order_no == no
    assert "no carrier update" in alert.title["en"]
    assert sweep(factory, clock, settings).no_update == 0
    quiet.last_event_at = clock.now()  # a new scan
    db.commit()
    assert sweep(factory, clock, settings).auto_resolved == 1
    clock.advance(timedelta(hours=49))
    result = sweep(factory, clock, settings)
    assert result.no_update == 2  # quiet again (a new cause), and now EMS too
    assert {a.shipment_id for a in alerts_of(db)
            if a.state == "open" and a.kind == "shipment_no_update"} == {quiet.id, slow.id}


def test_a_lost_parcel_opens_a_critical_alert_and_delays_the_order(sam, clock, db, factory,
                                                                   settings):
    no = retail_order(sam, promised_at="2026-12-31T18:00:00+08:00")
    s = _parcel(db, clock, no)
    _tell(db, clock, "shipment.exception", s, "exception", order_no=no)
    drain(factory, clock, settings)
    (alert,) = alerts_of(db, no)
    assert (alert.kind, alert.severity, alert.state) == ("shipment_exception", "critical",
                                                         "open")
    assert "包裹丢失" in alert.title["zh"]
    (delayed,) = events(db, "order.delayed")
    assert delayed.payload["reason"] == "shipment_exception"
    assert delayed.payload["shipment_id"] == s.id
    assert delayed.payload["expected_at"] == "2027-01-02T10:00:00+00:00"  # promise + 2 days
    # The same exception told twice: one alert, one apology.
    _tell(db, clock, "shipment.exception", s, "exception", order_no=no)
    drain(factory, clock, settings)
    assert len(alerts_of(db, no)) == 1 and len(events(db, "order.delayed")) == 1
    # The parcel is found and moves on: the alert resolves itself.
    _tell(db, clock, "shipment.status_changed", s, "in_transit", order_no=no)
    drain(factory, clock, settings)
    assert alerts_of(db, no)[0].state == "auto_resolved"
    # Lost again later: the same alert reopens at level 1.
    _tell(db, clock, "shipment.exception", s, "exception", order_no=no)
    drain(factory, clock, settings)
    (again,) = alerts_of(db, no)
    assert (again.state, again.level) == ("open", 1)
    assert len(events(db, "alert.opened")) == 2


def test_a_failed_delivery_attempt_alerts_and_delivery_resolves_it(sam, clock, db, factory,
                                                                   settings):
    no = retail_order(sam)
    s = _parcel(db, clock, no, status="out_for_delivery")
    _tell(db, clock, "shipment.attempt_failed", s, "attempt_fail", order_no=no)
    drain(factory, clock, settings)
    (alert,) = alerts_of(db, no)
    assert (alert.kind, alert.severity) == ("delivery_failed", "warning")
    _tell(db, clock, "shipment.delivered", s, "delivered", order_no=no)
    drain(factory, clock, settings)
    assert alerts_of(db, no)[0].state == "auto_resolved"
    assert events(db, "alert.resolved")[0].payload["state"] == "auto_resolved"
