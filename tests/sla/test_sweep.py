"""The sweeper: each due deadline opens its alert once, late sweeps catch up, escalation
climbs to the manager unless someone acknowledged, and alerts close when the cause goes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ordertrail.flow import planner
from ordertrail.models import TimelineEntry
from ordertrail.order import service as orders
from ordertrail.sla import alerts as alert_service
from ordertrail.sla.sweep import sweep
from tests.sla.conftest import alerts_of, count_events, events, retail_order, utc


def test_at_risk_then_overdue_each_open_once(sam, clock, db, factory, settings):
    no = retail_order(sam)  # Friday 10:00 Shanghai; warn 11:36, due 12:00
    assert sweep(factory, clock, settings).opened == 0
    clock.set(utc(2026, 11, 20, 3, 40))  # 11:40
    first = sweep(factory, clock, settings)
    assert (first.at_risk, first.overdue) == (1, 0)
    assert sweep(factory, clock, settings).opened == 0  # the same cause never twice
    clock.set(utc(2026, 11, 20, 4, 1))
    assert sweep(factory, clock, settings).overdue == 1
    assert sweep(factory, clock, settings).opened == 0
    found = alerts_of(db, no)
    assert [(a.kind, a.severity, a.state, a.level) for a in found] == [
        # overdue supersedes at risk: one alert per late stage stays open
        ("stage_at_risk", "warning", "auto_resolved", 1),
        ("stage_overdue", "critical", "open", 1)]
    assert found[1].responsible_role == "service" and found[1].stage == "review"
    assert "订单" in found[1].title["zh"] and "overdue" in found[1].title["en"]
    opened = events(db, "alert.opened")
    assert len(opened) == 2
    payload = opened[1].payload
    assert payload["recipients"] == {"users": [], "roles": ["service"]}
    assert payload["due_at"] == "2026-11-20T04:00:00+00:00"
    assert payload["kind"] == "stage_overdue" and payload["order_no"] == no
    kinds = db.scalars(select(TimelineEntry.kind).where(
        TimelineEntry.kind.like("alert_%"))).all()
    assert kinds == ["alert_opened", "alert_opened", "alert_resolved"]


def test_a_sweep_after_downtime_catches_up(sam, clock, db, factory, settings):
    nos = [retail_order(sam) for _ in range(3)]
    clock.advance(timedelta(days=3))  # nobody swept over the weekend
    result = sweep(factory, clock, settings, limit=2)  # small batches, repeated
    assert (result.at_risk, result.overdue) == (3, 3)
    assert {a.order_no for a in alerts_of(db)} == set(nos)


def test_escalates_to_the_manager_after_two_business_hours_unacknowledged(
        sam, clock, db, factory, settings, people):
    no = retail_order(sam)
    clock.set(utc(2026, 11, 20, 4, 1))  # 12:01: overdue (and at risk)
    sweep(factory, clock, settings)
    overdue = next(a for a in alerts_of(db, no) if a.kind == "stage_overdue")
    # Opened 12:01; two business hours later (lunch 12-13 does not count) is 15:00.
    assert overdue.escalate_at == utc(2026, 11, 20, 7, 0)
    clock.set(utc(2026, 11, 20, 6, 59))
    assert sweep(factory, clock, settings).escalated == 0
    alert_service.assign(sam, overdue.id, "sam")  # Sam answers for it; Grace manages Sam
    clock.set(utc(2026, 11, 20, 7, 0))
    assert sweep(factory, clock, settings).escalated == 1
    escalated = {a.kind: a for a in alerts_of(db, no)}
    assert escalated["stage_overdue"].level == 2
    # overdue superseded the at-risk alert: it does not climb as well
    assert (escalated["stage_at_risk"].state, escalated["stage_at_risk"].level) == (
        "auto_resolved", 1)
    grace = db.scalars(select(alert_service.User).where(
        alert_service.User.name == "grace")).one()
    event = events(db, "alert.escalated")[0].payload
    assert event["level"] == 2 and event["recipients"] == {"users": [grace.id], "roles": []}
    # Level 3 (admins) two business hours later, and nothing after the last level.
    clock.set(utc(2026, 11, 20, 9, 0))  # 17:00
    assert sweep(factory, clock, settings).escalated == 1
    assert events(db, "alert.escalated")[1].payload["recipients"]["roles"] == ["admin"]
    clock.advance(timedelta(days=7))
    assert sweep(factory, clock, settings).escalated == 0


def test_leaving_the_stage_auto_resolves_its_alerts(sam, clock, db, factory, settings):
    no = retail_order(sam)
    clock.set(utc(2026, 11, 20, 4, 1))
    sweep(factory, clock, settings)
    orders.act(sam, no, planner.Advance("picking"))
    result = sweep(factory, clock, settings)
    assert result.auto_resolved == 1  # the at-risk alert went when the stage became overdue
    assert {a.state for a in alerts_of(db, no)} == {"auto_resolved"}
    assert count_events(db, "alert.resolved") == 2
    clock.advance(timedelta(days=1))
    assert sweep(factory, clock, settings).escalated == 0


def test_a_held_order_opens_no_deadline_alerts(sam, clock, db, factory, settings):
    no = retail_order(sam)
    orders.act(sam, no, planner.Hold())
    clock.advance(timedelta(days=2))
    assert sweep(factory, clock, settings).opened == 0


def test_late_risk_opens_once_per_order_and_tells_the_order_is_delayed(
        sam, clock, db, factory, settings):
    no = retail_order(sam, promised_at="2026-11-21T18:00:00+08:00")  # impossible at once
    result = sweep(factory, clock, settings)
    assert result.late_risk == 1 and result.delayed == 1
    delayed = events(db, "order.delayed")[0].payload
    assert delayed["reason"] == "late_risk" and delayed["order_no"] == no
    assert delayed["expected_at"] > delayed["promised_at"]
    orders.act(sam, no, planner.Advance("picking"))  # a new stage: a new late-risk claim
    assert sweep(factory, clock, settings).late_risk == 0  # but one alert per order
    assert len(events(db, "order.delayed")) == 1


@pytest.mark.parametrize("workers", [4])
def test_concurrent_sweepers_open_each_alert_once(committing, clock, settings, workers):
    from ordertrail.db import write_session
    from tests.conftest import ctx_for, make_people, run_together

    make_people(committing, clock)
    with write_session(committing) as session:
        ctx = ctx_for(session, "sam", clock, settings)
        for _ in range(30):
            retail_order(ctx)
    clock.advance(timedelta(days=1))
    results = run_together(workers, lambda _i: sweep(committing, clock, settings, limit=7))
    assert sum(r.at_risk for r in results) == 30
    assert sum(r.overdue for r in results) == 30
    with committing() as session:
        assert count_events(session, "alert.opened") == 60
        assert len(alerts_of(session)) == 60
