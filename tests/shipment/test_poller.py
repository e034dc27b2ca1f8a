"""The poller against the simulated carrier as a real HTTP server: subscribe, fetch, back off."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from ordertrail.carrier.sim.server import SimConfig, create_sim_app
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.models import Shipment, TrackingEvent
from ordertrail.shipment.poller import Poller, _claim
from tests.carrier.sim.live import FAST, SECRET, Served, wait_for
from tests.shipment.conftest import bare_shipment


@pytest.fixture
def sim():
    served = Served(create_sim_app(SECRET, SimConfig(**FAST))).start()
    http = httpx.Client(base_url=served.url, timeout=5,
                        headers={"Authorization": f"Bearer {SECRET}"})
    yield served, http
    http.close()
    served.stop()


@pytest.fixture
def settings(settings, sim):
    served, _http = sim
    return settings.model_copy(update={"sim_url": served.url, "sim_webhook_secret": SECRET,
                                       "public_url": "http://127.0.0.1:9"})


def due(db, clock, number, provider="sim") -> Shipment:
    s = bare_shipment(db, clock, number, provider=provider)
    s.registered_at = None
    s.next_check_at = clock.now()
    db.commit()
    return s


def test_new_shipments_are_subscribed_then_polled_to_the_end(factory, db, clock, settings, sim):
    _served, http = sim
    s = due(db, clock, "SF3000000000001")
    poller = Poller(factory, clock, settings)
    report = poller.run_once()
    assert (report.claimed, report.registered, report.failed) == (1, 1, 0)
    db.refresh(s)
    assert s.registered_at == clock.now()
    # The simulator pushes; polling is only a safety net, a day or more away.
    assert s.next_check_at >= clock.now() + timedelta(days=1)
    assert http.get(f"/v1/journeys/{s.tracking_number}").status_code == 200
    # When the check comes due, the poll fetches what the parcel did (the sim is fast).
    wait_for(lambda: all(e["due"] for e in http.get(
        f"/v1/journeys/{s.tracking_number}").json()["events"]), 10, "the journey to end")
    s.next_check_at = clock.now()
    db.commit()
    report = poller.run_once()
    assert report.fetched == 1 and report.stored >= 3
    db.refresh(s)
    sources = set(db.scalars(select(TrackingEvent.source).where(
        TrackingEvent.shipment_id == s.id)))
    assert sources == {"poll"}
    assert s.status in ("delivered", "exception", "available_for_pickup")
    assert s.last_checked_at == clock.now() and s.check_failures == 0
    # Nothing is due any more: a second round claims nothing.
    assert poller.run_once().claimed == 0


def test_errors_back_off_per_shipment_and_leave_other_providers_alone(factory, db, clock,
                                                                      settings, sim):
    _served, http = sim
    http.post("/v1/config", json={"fail_polls": "503"}).raise_for_status()
    s = due(db, clock, "SF3000000000002")
    other = due(db, clock, "1Z999AA10123456784", provider="track17")  # not configured
    report = Poller(factory, clock, settings).run_once()
    assert report.failed == 1 and "track17" in report.errors
    db.refresh(s)
    db.refresh(other)
    assert s.registered_at is None and s.check_failures == 1
    assert s.next_check_at == clock.now() + timedelta(minutes=5)
    assert other.next_check_at == clock.now() + timedelta(hours=1)
    # A second failure doubles the wait; a 429 waits at least its Retry-After.
    s.next_check_at = clock.now()
    db.commit()
    http.post("/v1/config", json={"fail_polls": "429"}).raise_for_status()
    Poller(factory, clock, settings).run_once()
    db.refresh(s)
    assert s.check_failures == 2 and s.next_check_at == clock.now() + timedelta(minutes=10)
    # The carrier recovers: the next due round subscribes it and resets the failures.
    http.post("/v1/config", json={"fail_polls": None}).raise_for_status()
    s.next_check_at = clock.now()
    db.commit()
    assert Poller(factory, clock, settings).run_once().registered == 1
    db.refresh(s)
    assert s.registered_at is not None and s.check_failures == 0


def test_a_claim_is_a_lease_so_two_pollers_do_not_take_the_same_shipment(factory, db, clock,
                                                                       settings):
    for i in range(3):
        due(db, clock, f"SF300000000001{i}")
    first = _claim(factory, clock, 10)
    second = _claim(factory, clock, 10)
    assert len(first) == 3 and second == []
    clock.advance(timedelta(minutes=6))   # a poller that died mid-round: the lease runs out
    assert len(_claim(factory, clock, 10)) == 3


def test_delivered_shipments_are_never_polled_again(db, clock, settings):
    from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
    from ordertrail.shipment.ingest import ingest

    s = bare_shipment(db, clock, "SF3000000000020", provider="sim")
    ingest(Ctx(db, SYSTEM_ACTOR, clock, settings), "sim", [TrackingUpdate(
        s.tracking_number, (CarrierEvent(clock.now() - timedelta(hours=1), "delivered",
                                         "delivered.signed", "已签收"),))], "push")
    db.refresh(s)
    assert s.status == "delivered" and s.next_check_at is None


def test_a_resubscribe_request_makes_the_poller_subscribe_again_after_the_wait(
        factory, db, clock, settings, sim):
    from ordertrail.carrier.base import TrackingUpdate
    from ordertrail.shipment.ingest import ingest

    s = due(db, clock, "SF3000000000030")
    poller = Poller(factory, clock, settings)
    assert poller.run_once().registered == 1
    db.refresh(s)
    first = s.registered_at
    assert first == clock.now()
    # The provider drops the number and asks for it again in 30 minutes (Kuaidi100's
    # "3天查询无记录"); a later update without a stop changes nothing about that.
    clock.advance(timedelta(hours=1))
    ingest(Ctx(db, SYSTEM_ACTOR, clock, settings), "sim", [TrackingUpdate(
        s.tracking_number, stopped=True, stop_reason="resubscribe: no record for 3 days",
        resubscribe_after=timedelta(minutes=30))], "push")
    ingest(Ctx(db, SYSTEM_ACTOR, clock, settings), "sim", [TrackingUpdate(
        s.tracking_number)], "push")
    db.commit()
    db.refresh(s)
    assert (s.registered_at, s.stopped_reason) == (None, None)
    assert s.next_check_at == clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(minutes=29))
    assert poller.run_once().claimed == 0
    clock.advance(timedelta(minutes=1))
    report = poller.run_once()
    assert (report.claimed, report.registered) == (1, 1)
    db.refresh(s)
    assert s.registered_at == clock.now() and s.registered_at > first
    assert s.stopped_reason is None and s.next_check_at >= clock.now() + timedelta(days=1)
