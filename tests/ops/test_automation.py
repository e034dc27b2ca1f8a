"""Stage automation: ``on_enter`` actions run by the worker, level-fired triggers.

The domains' real actions are tested in their own suites and end to end in the demo; here the
registry holds recording stand-ins so the mechanism itself is pinned down.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ordertrail.context import Ctx
from ordertrail.flow import planner
from ordertrail.flow.validate import FlowInvalid, parse_flow
from ordertrail.jobs.worker import drain
from ordertrail.models import Order, TimelineEntry
from ordertrail.ops import automation, consumers
from ordertrail.ops.automation import OrderRef
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate
from tests.conftest import ctx_for, order_body


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-ins for the stock and work-order actions and the reservation check."""
    consumers._domains()   # the real registrations first, so the stand-ins win
    seen: dict[str, Any] = {"actions": [], "ready": False}

    def record(name: str) -> Any:
        def fn(ctx: Ctx, ref: OrderRef) -> None:
            seen["actions"].append((name, ref.order_no, ref.stage))
        return fn

    for name in ("plan_work_orders", "reserve_stock"):
        monkeypatch.setitem(automation.ACTIONS, name, record(name))
    monkeypatch.setitem(automation.CHECKS, "reservation.completed",
                        lambda ctx, ref: bool(seen["ready"]))
    return seen


def _at_material_check(db, people, clock, settings) -> str:
    alice = ctx_for(db, "alice", clock, settings)
    order = orders.create_order(alice, OrderCreate.model_validate(order_body("make_to_order")))
    orders.act(alice, order.order_no, planner.Advance("material_check"))
    db.flush()
    return order.order_no


def _stage(db, order_no: str) -> str:
    db.expire_all()
    return db.scalar(select(Order.stage).where(Order.order_no == order_no))


def test_entering_a_stage_runs_its_actions_in_order(db, people, factory, clock, settings,
                                                    calls):
    no = _at_material_check(db, people, clock, settings)
    drain(factory, clock, settings)
    assert calls["actions"] == [("plan_work_orders", no, "material_check"),
                                ("reserve_stock", no, "material_check")]
    assert _stage(db, no) == "material_check"   # the check does not hold: it waits


def test_a_trigger_whose_state_already_holds_fires_on_entry(db, people, factory, clock,
                                                            settings, calls):
    calls["ready"] = True
    no = _at_material_check(db, people, clock, settings)
    drain(factory, clock, settings)
    assert _stage(db, no) == "production"
    row = db.scalars(select(TimelineEntry).where(
        TimelineEntry.kind == "transition", TimelineEntry.to_stage == "production")).one()
    assert row.role == "system" and row.data["trigger"] == "reservation.completed"


def test_an_order_that_moved_on_runs_nothing_for_the_stage_it_left(db, people, factory, clock,
                                                                   settings, calls):
    no = _at_material_check(db, people, clock, settings)
    wang = ctx_for(db, "wang", clock, settings)
    orders.act(wang, no, planner.Advance("production"))   # by hand, before the worker ran
    db.flush()
    drain(factory, clock, settings)
    assert calls["actions"] == []
    assert _stage(db, no) == "production"


def test_each_entry_runs_the_actions_again(db, people, factory, clock, settings, calls):
    no = _at_material_check(db, people, clock, settings)
    drain(factory, clock, settings)
    alice = ctx_for(db, "alice", clock, settings)
    orders.act(alice, no, planner.Hold("customer asked to wait"))
    orders.act(alice, no, planner.Resume())
    db.flush()
    drain(factory, clock, settings)
    # Hold and resume do not enter the stage again: the actions ran once.
    assert [c[0] for c in calls["actions"]] == ["plan_work_orders", "reserve_stock"]


FLOW = """
id: tiny
version: 1
name: {en: Tiny, zh: 小流程}
stages:
  - id: start
    responsible: sales
    on_enter: [reserve_stock, {actions}]
  - id: done
    kind: terminal
    on_enter: [issue_invoice]
transitions:
  - from: start
    to: done
    roles: [sales]
"""


def test_the_validator_names_unknown_and_misplaced_actions():
    with pytest.raises(FlowInvalid) as caught:
        parse_flow(FLOW.replace("{actions}", "order_pizza"))
    text = str(caught.value)
    assert "unknown stage action 'order_pizza'" in text and "line 8" in text
    assert "a terminal stage runs no actions" in text


def test_known_actions_parse_into_the_stage():
    flow = parse_flow(FLOW.replace("{actions}", "plan_work_orders").replace(
        "    on_enter: [issue_invoice]\n", ""))
    assert flow.stage("start").on_enter == ("reserve_stock", "plan_work_orders")
