"""Approval waits, flow keys for escalation and customer notifications, typical durations,
and the registered sweep job."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ordertrail.flow import planner
from ordertrail.flow.service import builtin_source
from ordertrail.flow.validate import check_flow, parse_flow
from ordertrail.jobs.registry import load_all
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from ordertrail.sla import deadlines
from ordertrail.sla.sweep import sweep
from tests.conftest import ctx_for, order_body
from tests.sla.conftest import alerts_of, utc


def test_an_approval_waiting_past_its_warning_goes_to_the_approvers(
        sam, clock, db, factory, settings):
    alice = ctx_for(db, "alice", clock, settings)
    body = order_body("b2b_credit", lines=[{"sku": "PUMP", "name": "Pump", "qty": 10,
                                            "unit_price": "800.00"}])
    order = orders.create_order(alice, OrderCreate.model_validate(body))
    orders.act(alice, order.order_no, planner.Advance("credit_approval"))
    clock.set(utc(2026, 11, 23, 8, 0))  # Monday 16:00: 6.4 of 8 business hours gone
    assert sweep(factory, clock, settings).approval_waiting == 1
    (alert,) = [a for a in alerts_of(db, order.order_no) if a.kind == "approval_waiting"]
    assert (alert.kind, alert.stage, alert.responsible_role) == (
        "approval_waiting", "credit_approval", "finance")
    assert alert.data["approver_roles"] == ["finance"]
    assert "approval" in alert.title["en"] and "审批" in alert.title["zh"]


ESCALATION = """
calendar: 24x7
escalation:
  after: 30m
  levels: [manager, admin]
notify:
  customer:
    events: [shipped, delayed]
    channels: [sms]
"""


def _with(extra: str) -> str:
    source = builtin_source("retail")
    return source.replace("\nstages:", "\n" + extra.strip() + "\nstages:", 1)


def test_flows_accept_escalation_and_customer_notifications():
    flow = parse_flow(_with(ESCALATION))
    assert flow.calendar == "24x7"
    assert (flow.escalation.after, flow.escalation.levels) == ("30m", ("manager", "admin"))
    assert flow.notify == {"customer": {"events": ["shipped", "delayed"], "channels": ["sms"]}}
    plain = parse_flow(builtin_source("retail"))
    assert plain.calendar == "cn" and plain.escalation.levels == ("manager", "admin")
    assert plain.notify["customer"]["channels"] == ["email", "sms"]


@pytest.mark.parametrize(("extra", "words"), [
    ("escalation: {after: soon}", "bad escalation delay 'soon'"),
    ("escalation: {levels: [boss]}", "unknown role 'boss'"),
    ("escalation: {after: 2h, to: x}", "unknown key 'to'"),
    ("escalation: 2h", "escalation must be a mapping"),
    ("notify: {customer: {events: [teleported]}}", "unknown event 'teleported'"),
    ("notify: {customer: {channels: [pigeon]}}", "unknown channel 'pigeon'"),
    ("notify: {staff: {}}", "unknown key 'staff'"),
    ("calendar: Mars Base", "bad calendar id"),
])
def test_bad_escalation_and_notify_keys_are_named_with_their_line(extra, words):
    text = _with(extra)
    _flow, _raw, problems = check_flow(text)
    assert problems, extra
    line = text.splitlines().index(extra) + 1
    assert any(words in p.message and p.line == line for p in problems), problems


def test_typical_remaining_follows_the_quickest_way_to_a_finish():
    flow = parse_flow(builtin_source("retail"))
    per_stage = {"review": 10.0, "picking": 20.0, "packed": 30.0, "shipped": 40.0,
                 "delivered": 50.0}
    remaining = deadlines.remaining_by_stage(flow, per_stage)
    assert remaining["review"] == 150.0 and remaining["delivered"] == 50.0
    assert "cancelled" not in remaining and "completed" not in remaining


def test_typical_durations_come_from_history_once_there_is_enough(sam, clock, db):
    from tests.sla.conftest import retail_order

    version = None
    for _ in range(deadlines.TYPICAL_MIN_SAMPLES):
        no = retail_order(sam)
        clock.advance(timedelta(minutes=30))
        version = orders.act(sam, no, planner.Advance("picking")).flow_version_id
    flow = orders.flow_of(sam, orders.get_order(sam, no))[1]
    deadlines.clear_cache()
    remaining = deadlines.typical_remaining(db, flow, version)
    # review: the median of the 20 visits (30 business minutes) instead of its 2 h target
    assert remaining["review"] - remaining["picking"] == pytest.approx(1800, abs=1)


def test_the_sweep_runs_every_30_seconds_with_the_worker():
    registry = load_all()
    assert registry.periodic["sla.sweep"].every == timedelta(seconds=30)
    assert {"sla.shipment_problem", "sla.shipment_recovered", "sla.order_moved"} <= set(
        registry.consumers)
