"""Stage deadlines: stored when a stage is entered, in business time; holds add time back."""

from __future__ import annotations

from datetime import timedelta

from ordertrail.flow import planner
from ordertrail.order import service as orders
from tests.sla.conftest import open_visit, retail_order, utc, visits


def test_review_entered_friday_1700_shanghai_is_due_monday_1000(sam, clock, db):
    clock.set(utc(2026, 11, 20, 9, 0))  # Friday 17:00 in Shanghai
    no = retail_order(sam)
    v = open_visit(db, no)
    assert (v.calendar_id, v.target_seconds) == ("cn", 7200)
    assert v.due_at == utc(2026, 11, 23, 2, 0)  # Monday 10:00 Shanghai
    assert v.warn_at == utc(2026, 11, 23, 1, 36)  # 80 %: 96 business minutes
    assert (v.warn_state, v.due_state) == ("pending", "pending")


def test_deadlines_count_make_up_workdays_and_skip_the_spring_festival(sam, clock, db):
    clock.set(utc(2026, 2, 13, 9, 0))  # Friday 17:00; Saturday 14 Feb is a make-up workday
    assert open_visit(db, retail_order(sam)).due_at == utc(2026, 2, 14, 2, 0)
    clock.set(utc(2026, 2, 14, 9, 0))  # Saturday (make-up) 17:00; then the holiday week
    assert open_visit(db, retail_order(sam)).due_at == utc(2026, 2, 24, 2, 0)


def test_hold_pauses_the_clock_and_resume_adds_the_held_time_back(sam, clock, db):
    no = retail_order(sam)  # Friday 10:00 Shanghai, due 12:00
    clock.advance(timedelta(minutes=30))
    orders.act(sam, no, planner.Hold(note="customer asked to wait"))
    held = open_visit(db, no)
    assert (held.due_at, held.warn_at, held.remaining_seconds) == (None, None, 5400)
    clock.set(utc(2026, 11, 23, 2, 0))  # Monday 10:00
    orders.act(sam, no, planner.Resume())
    v = open_visit(db, no)
    assert v.due_at == utc(2026, 11, 23, 3, 30)  # 1.5 business hours left
    assert v.warn_at == utc(2026, 11, 23, 3, 6)
    assert v.remaining_seconds is None


def test_leaving_a_stage_records_met_or_breached_with_the_variance(sam, clock, db):
    early = retail_order(sam)
    late = retail_order(sam)
    clock.advance(timedelta(hours=1))
    orders.act(sam, early, planner.Advance("picking"))
    clock.advance(timedelta(hours=3))  # 14:00: review was due 12:00, 12:00-13:00 is lunch
    orders.act(sam, late, planner.Advance("picking"))
    first = visits(db, early)
    assert (first[0].outcome, first[0].variance_seconds) == ("met", -3600)
    assert first[1].stage == "picking" and first[1].due_at is not None
    second = visits(db, late)[0]
    assert (second.outcome, second.variance_seconds) == ("breached", 3600)
    assert (second.warn_state, second.due_state) == (None, None)  # out of the sweep queues


def test_a_promised_time_sets_when_the_order_becomes_at_risk(sam, db):
    no = retail_order(sam, promised_at="2026-12-01T18:00:00+08:00")
    v = open_visit(db, no)
    assert v.late_state == "pending"
    # Typical remaining time (no history yet: the SLA targets) is review 2h, picking 4h,
    # packed 2h, shipped 3d, delivered 7d = 10d 8h business before Tue 1 Dec 18:00.
    assert v.late_risk_at is not None and v.late_risk_at < utc(2026, 12, 1, 10, 0)
    assert open_visit(db, retail_order(sam)).late_risk_at is None


def test_a_flow_naming_a_missing_calendar_still_takes_orders(sam, db, clock):
    from ordertrail.flow import service as flows
    from ordertrail.flow.service import builtin_source

    source = builtin_source("retail").replace("\nstages:", "\ncalendar: nowhere\nstages:", 1)
    flows.publish(db, source, clock)
    v = open_visit(db, retail_order(sam))
    assert v.stage == "review" and v.due_at is None


def test_changing_the_promised_time_moves_the_late_risk_time(sam, db):
    from ordertrail.order.schemas import OrderUpdate

    no = retail_order(sam, promised_at="2026-12-10T18:00:00+08:00")
    before = open_visit(db, no).late_risk_at
    orders.update_order(sam, no, OrderUpdate.model_validate(
        {"promised_at": "2026-12-17T18:00:00+08:00"}))
    after = open_visit(db, no)
    assert after.late_risk_at - before == timedelta(days=7) and after.late_state == "pending"
    orders.update_order(sam, no, OrderUpdate.model_validate({"promised_at": None}))
    assert open_visit(db, no).late_risk_at is None


def test_cancelling_a_held_order_closes_its_visit_with_the_time_that_was_left(sam, clock, db):
    no = retail_order(sam)
    clock.advance(timedelta(minutes=30))
    orders.act(sam, no, planner.Hold())
    clock.advance(timedelta(days=3))
    orders.act(sam, no, planner.Cancel(note="customer withdrew"))
    review = visits(db, no)[0]
    assert (review.outcome, review.variance_seconds) == ("met", -5400)
