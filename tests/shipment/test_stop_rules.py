"""What ingestion keeps of a shipment besides its events: stop rules, registration, and
whether the order hears ``shipment.all_delivered`` at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.kuaidi100 import codes
from ordertrail.carrier.kuaidi100.parse import parse_push_param
from ordertrail.carrier.status import status_of
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.flow import planner
from ordertrail.models import Shipment
from ordertrail.order import service as orders
from ordertrail.shipment import codec
from ordertrail.shipment import ingest as ingest_module
from ordertrail.shipment.ingest import ingest
from tests.conftest import ctx_for
from tests.shipment.conftest import bare_shipment, packed_order

T0 = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)
THIRTY_MINUTES = timedelta(minutes=codes.RESUBSCRIBE_AFTER_MINUTES)


def ev(minutes: int, sub: str) -> CarrierEvent:
    return CarrierEvent(T0 + timedelta(minutes=minutes), status_of(sub).value, sub,
                        f"{sub} at {minutes}")


def system(db, clock, settings) -> Ctx:
    return Ctx(db, SYSTEM_ACTOR, clock, settings)


def stopped_shipment(db, clock, number: str, provider: str, reason: str,
                     registered: bool = True) -> Shipment:
    s = bare_shipment(db, clock, number, provider=provider)
    s.stopped_reason, s.next_check_at = reason, None
    if not registered:
        s.registered_at = None
    db.flush()
    return s


def abort_3days(number: str, com: str = "yunda") -> str:
    """A Kuaidi100 push ``param``: stopped, no record for 3 days."""
    return json.dumps({
        "status": "abort", "billstatus": "check", "message": "3天查询无记录", "autoCheck": "0",
        "comOld": "", "comNew": "",
        "lastResult": {"message": "ok", "nu": number, "ischeck": "0", "condition": "00",
                       "com": com, "status": "200", "state": "0", "data": []}},
        ensure_ascii=False)


# Stops hold -------------------------------------------------------------------------------


@pytest.mark.parametrize("registered", [True, False])
def test_a_stopped_shipment_stays_stopped_after_a_later_update(db, clock, settings, registered):
    # Demo history: never registered, stopped; a provider that pushes and polls would make
    # an unregistered shipment due at once, were the stop forgotten.
    s = stopped_shipment(db, clock, "SF5000000000001", "sim", "demo history", registered)
    registered_at = s.registered_at
    ctx = system(db, clock, settings)
    report = ingest(ctx, "sim", [TrackingUpdate(s.tracking_number,
                                                (ev(0, "in_transit.picked_up"),))], "push")
    assert report.changed == [s.id]
    db.refresh(s)
    assert s.status == "in_transit"
    assert (s.stopped_reason, s.next_check_at, s.registered_at) == (
        "demo history", None, registered_at)


def test_a_provider_stop_holds_until_the_provider_says_otherwise(db, clock, settings):
    s = bare_shipment(db, clock, "SF5000000000002", provider="sim")
    ctx = system(db, clock, settings)
    ingest(ctx, "sim", [TrackingUpdate(s.tracking_number, (ev(0, "in_transit.picked_up"),),
                                       stopped=True, stop_reason="kuaidi100 stopped (abort)")],
           "push")
    db.refresh(s)
    assert (s.stopped_reason, s.next_check_at) == ("kuaidi100 stopped (abort)", None)
    ingest(ctx, "sim", [TrackingUpdate(s.tracking_number, (ev(60, "in_transit.arrived"),))],
           "poll")
    db.refresh(s)
    assert (s.status, s.substatus) == ("in_transit", "in_transit.arrived")
    assert (s.stopped_reason, s.next_check_at) == ("kuaidi100 stopped (abort)", None)
    assert s.registered_at == clock.now()


def test_a_running_shipment_keeps_its_registration_and_schedule(db, clock, settings):
    s = bare_shipment(db, clock, "SF5000000000003", provider="sim")
    ingest(system(db, clock, settings), "sim", [TrackingUpdate(
        s.tracking_number, (ev(0, "in_transit.picked_up"),))], "push")
    db.refresh(s)
    assert s.stopped_reason is None and s.registered_at == clock.now()
    assert s.next_check_at >= clock.now() + timedelta(days=1)  # pushes: polls a safety net


# Subscribe again --------------------------------------------------------------------------


def test_kuaidi100s_three_day_abort_asks_for_a_resubscription():
    update = parse_push_param(abort_3days("4300000000001"))
    assert update.stopped and update.stop_reason.startswith(codes.RESUBSCRIBE)
    assert update.resubscribe_after == THIRTY_MINUTES
    assert codec.load(codec.dump(update)) == update  # kept as such while unmatched
    sixty = json.loads(abort_3days("4300000000001"))
    sixty["message"] = "60天无变化"
    assert parse_push_param(json.dumps(sixty, ensure_ascii=False)).resubscribe_after is None


def test_a_resubscribe_update_clears_registration_and_stop_and_waits(db, clock, settings):
    s = stopped_shipment(db, clock, "4300000000002", "kuaidi100", "an earlier stop")
    s.carrier = "yunda"
    db.flush()
    update = parse_push_param(abort_3days(s.tracking_number))
    ingest(system(db, clock, settings), "kuaidi100", [update], "push")
    db.refresh(s)
    assert s.registered_at is None and s.stopped_reason is None
    assert s.next_check_at == clock.now() + THIRTY_MINUTES


def test_in_one_batch_the_last_stop_or_resubscribe_wins(db, clock, settings):
    s = bare_shipment(db, clock, "SF5000000000004", provider="sim")
    again = TrackingUpdate(s.tracking_number, resubscribe_after=timedelta(minutes=30),
                           stopped=True, stop_reason="resubscribe: later")
    stop = TrackingUpdate(s.tracking_number, stopped=True, stop_reason="finished")
    quiet = TrackingUpdate(s.tracking_number, (ev(0, "in_transit.picked_up"),))
    ctx = system(db, clock, settings)
    ingest(ctx, "sim", [again, stop, quiet], "push")
    db.refresh(s)
    assert (s.stopped_reason, s.next_check_at) == ("finished", None)
    assert s.registered_at == clock.now()
    ingest(ctx, "sim", [stop, again, quiet], "push")
    db.refresh(s)
    assert (s.stopped_reason, s.registered_at) == (None, None)
    assert s.next_check_at == clock.now() + timedelta(minutes=30)


def test_a_delivered_shipment_is_not_subscribed_again(db, clock, settings):
    s = bare_shipment(db, clock, "SF5000000000005", provider="sim")
    ingest(system(db, clock, settings), "sim", [TrackingUpdate(
        s.tracking_number, (ev(0, "delivered.signed"),),
        resubscribe_after=timedelta(minutes=30))], "push")
    db.refresh(s)
    assert s.status == "delivered" and s.next_check_at is None


# shipment.all_delivered -------------------------------------------------------------------


@pytest.fixture
def acts(monkeypatch):
    """Every request ``orders.act`` gets (and carries out)."""
    seen: list[tuple[str, planner.Request]] = []
    real = orders.act

    def act(ctx, order_no, request):
        seen.append((order_no, request))
        return real(ctx, order_no, request)

    monkeypatch.setattr(orders, "act", act)
    return seen


@pytest.fixture
def checks(monkeypatch):
    """Orders whose shipments ``all_delivered`` looked at."""
    seen: list[int] = []
    real = ingest_module.all_delivered

    def all_delivered(ctx, order_id):
        seen.append(order_id)
        return real(ctx, order_id)

    monkeypatch.setattr(ingest_module, "all_delivered", all_delivered)
    return seen


def _order(db, clock, settings, people, number: str) -> tuple[str, Shipment]:
    """A retail order at `packed` and a parcel of all its lines (no trigger fired yet)."""
    no = packed_order(ctx_for(db, "alice", clock, settings), ctx_for(db, "wang", clock, settings))
    order = orders.get_order(ctx_for(db, "sam", clock, settings), no)
    s = bare_shipment(db, clock, number)
    s.order_id = order.id
    db.flush()
    return no, s


def _deliver(db, clock, settings, s: Shipment) -> None:
    ingest(system(db, clock, settings), "generic", [TrackingUpdate(
        s.tracking_number, (ev(0, "in_transit.picked_up"), ev(60, "delivered.signed")))],
        "push")


def _lines_in(db, s: Shipment, order_no: str, clock, settings) -> None:
    from ordertrail.models import ShipmentLine

    order = orders.get_order(ctx_for(db, "sam", clock, settings), order_no, with_lines=True)
    for line in order.lines:
        db.add(ShipmentLine(shipment_id=s.id, order_line_id=line.id, qty=line.qty))
    db.flush()


def test_all_delivered_moves_an_order_that_waits_for_it(db, clock, settings, people, acts,
                                                        checks):
    no, s = _order(db, clock, settings, people, "SF5000000000011")
    _lines_in(db, s, no, clock, settings)
    orders.act(system(db, clock, settings), no, planner.Trigger("shipment.created"))
    acts.clear()
    _deliver(db, clock, settings, s)
    assert [(n, r.event) for n, r in acts] == [(no, "shipment.all_delivered")]
    assert orders.get_order(ctx_for(db, "sam", clock, settings), no).stage == "delivered"


def test_all_delivered_is_not_fired_where_nothing_waits_for_it(db, clock, settings, people,
                                                              acts, checks):
    # The order is still at `packed` (its parcel was registered without the trigger): that
    # stage waits for shipment.created, not for all_delivered.
    no, s = _order(db, clock, settings, people, "SF5000000000012")
    _lines_in(db, s, no, clock, settings)
    acts.clear()
    _deliver(db, clock, settings, s)
    assert acts == [] and checks == []
    assert orders.get_order(ctx_for(db, "sam", clock, settings), no).stage == "packed"


def test_all_delivered_is_not_fired_for_an_order_that_is_not_active(db, clock, settings,
                                                                   people, acts, checks):
    no, s = _order(db, clock, settings, people, "SF5000000000013")
    _lines_in(db, s, no, clock, settings)
    orders.act(system(db, clock, settings), no, planner.Trigger("shipment.created"))
    order = orders.get_order(ctx_for(db, "sam", clock, settings), no)
    order.status = "on_hold"  # (retail holds only before shipping; the rule is general)
    db.flush()
    acts.clear()
    _deliver(db, clock, settings, s)
    assert acts == [] and checks == []
