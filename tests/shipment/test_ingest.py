"""Ingestion through the service: idempotent, order-independent, never backwards."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.status import SUBSTATUSES, status_of
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.models import OutboxEvent, Shipment, TrackingEvent, UnmatchedUpdate
from ordertrail.shipment.ingest import ingest
from tests.shipment.conftest import bare_shipment

T0 = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)


def ev(minutes: int, sub: str, text: str | None = None, loc: str | None = None) -> CarrierEvent:
    return CarrierEvent(T0 + timedelta(minutes=minutes), status_of(sub).value, sub,
                        text or f"{sub} at {minutes}", None, loc)


def system(db, clock, settings) -> Ctx:
    return Ctx(db, SYSTEM_ACTOR, clock, settings)


def stored(db, shipment_id: int) -> set[tuple]:
    rows = db.execute(select(TrackingEvent.occurred_at, TrackingEvent.substatus,
                             TrackingEvent.description)
                      .where(TrackingEvent.shipment_id == shipment_id)).all()
    return {tuple(r) for r in rows}


def test_events_are_stored_once_and_status_folds(db, clock, settings):
    s = bare_shipment(db, clock, "SF1000000000001")
    ctx = system(db, clock, settings)
    journey = [ev(0, "info_received.label_created"), ev(60, "in_transit.picked_up"),
               ev(600, "in_transit.arrived", "快件到达【上海转运中心】", "上海市"),
               ev(900, "out_for_delivery.other")]
    first = ingest(ctx, "generic", [TrackingUpdate("SF1000000000001", tuple(journey))], "push")
    assert (first.received, first.stored, first.duplicates) == (4, 4, 0)
    again = ingest(ctx, "generic", [TrackingUpdate("sf 1000-0000-00001", tuple(journey))],
                   "push")
    assert (again.stored, again.duplicates, again.changed) == (0, 4, [])
    db.refresh(s)
    assert (s.status, s.substatus, s.event_count) == ("out_for_delivery",
                                                       "out_for_delivery.other", 4)
    assert s.last_event == "out_for_delivery.other at 900"
    late = ingest(ctx, "generic", [TrackingUpdate("SF1000000000001",
                                                  (ev(300, "in_transit.departed"),))], "push")
    assert late.stored == 1
    db.refresh(s)
    assert s.status == "out_for_delivery"   # a late scan never moves it back
    assert s.event_count == 5


def test_status_changes_write_outbox_events(db, clock, settings):
    s = bare_shipment(db, clock, "SF1000000000002")
    ctx = system(db, clock, settings)
    ingest(ctx, "generic", [TrackingUpdate(s.tracking_number, (ev(0, "in_transit.picked_up"),
                                                               ev(5, "exception.lost")))],
           "push")
    names = db.scalars(select(OutboxEvent.name).where(
        OutboxEvent.aggregate == "shipment", OutboxEvent.aggregate_id == str(s.id))).all()
    assert sorted(names) == ["shipment.exception", "shipment.status_changed"]


def test_unknown_numbers_are_kept_unmatched(db, clock, settings):
    ctx = system(db, clock, settings)
    report = ingest(ctx, "generic", [TrackingUpdate("YT0000000000009",
                                                    (ev(0, "in_transit.picked_up"),))], "push")
    assert report.unmatched == 1
    row = db.scalars(select(UnmatchedUpdate).where(
        UnmatchedUpdate.tracking_number == "YT0000000000009")).one()
    assert row.attached_at is None and row.payload["events"][0]["substatus"] == (
        "in_transit.picked_up")


SUBS = sorted(SUBSTATUSES)
events = st.lists(st.builds(ev, st.integers(0, 20_000), st.sampled_from(SUBS),
                            st.sampled_from([None, "a", "b"])), min_size=1, max_size=15)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events, st.integers(0, 2**32), st.integers(1, 4))
def test_any_permutation_and_duplication_stores_the_same(db, clock, settings, journey, seed,
                                                         parts):
    ctx = system(db, clock, settings)
    n = db.scalar(select(func.count()).select_from(Shipment))
    a = bare_shipment(db, clock, f"ZT{n:012d}A")
    b = bare_shipment(db, clock, f"ZT{n:012d}B")
    ingest(ctx, "generic", [TrackingUpdate(a.tracking_number, tuple(journey))], "push")
    rnd = random.Random(seed)
    noisy = journey + [rnd.choice(journey) for _ in range(rnd.randint(0, 8))]
    rnd.shuffle(noisy)
    cuts = sorted(rnd.randint(0, len(noisy)) for _ in range(parts - 1))
    for lo, hi in zip([0, *cuts], [*cuts, len(noisy)], strict=True):
        ingest(ctx, "generic", [TrackingUpdate(b.tracking_number, tuple(noisy[lo:hi]))],
               "poll")
    db.refresh(a)
    db.refresh(b)
    assert stored(db, a.id) == stored(db, b.id)
    assert (a.status, a.substatus, a.progress_rank, a.last_event_at, a.last_event) == (
        b.status, b.substatus, b.progress_rank, b.last_event_at, b.last_event)
    assert a.event_count == b.event_count == len(stored(db, a.id))
