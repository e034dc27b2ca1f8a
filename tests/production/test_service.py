"""Work orders from the service: planning (idempotent, BOM, routing, capacity), and refusals
that change nothing and are logged. The flow with stock is in test_flow.py."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.models.production import WorkCenter, WorkOrder, WorkOrderComponent
from ordertrail.production import read, service
from ordertrail.production.schemas import (
    RoutingIn,
    WorkCenterCreate,
    WorkOrderCreate,
)
from tests.conftest import ctx_for
from tests.production.conftest import (
    catalog,
    events,
    mto_order,
    product,
    timeline_rows,
    utc,
)


def _steps(pete, wo):
    return read.detail(pete, wo).steps


def test_plan_makes_one_work_order_per_make_to_order_line_and_is_idempotent(pete, alice, db):
    catalog(db)
    order = mto_order(alice)
    made = service.plan_for_order(pete, order.id)
    assert [(w.sku, w.qty, w.status) for w in made] == [("GEARBOX", Decimal("3.000"),
                                                         "planned")]
    again = service.plan_for_order(pete, order.id)
    assert [w.id for w in again] == [w.id for w in made]
    assert db.scalar(select(func.count()).select_from(WorkOrder)) == 1
    wo = made[0]
    assert wo.number.startswith("WO20261120-")
    comps = db.scalars(select(WorkOrderComponent).where(
        WorkOrderComponent.work_order_id == wo.id).order_by(WorkOrderComponent.sku)).all()
    assert [(c.sku, c.qty) for c in comps] == [("BOLT-M8", Decimal("12.000")),
                                               ("GEAR-40", Decimal("6.000"))]
    # No routing: one default Assembly step (60 min/unit) at the default center, made now.
    center = db.scalars(select(WorkCenter)).one()
    assert (center.code, center.capacity, center.calendar_id) == ("ASSEMBLY", 1, "cn")
    (step,) = _steps(pete, wo)
    assert (step.name, step.work_center, step.planned_minutes) == ("Assembly", "ASSEMBLY",
                                                                   Decimal("180.000"))
    # Friday 10:00 Shanghai + 3 working hours (lunch 12-13 does not count) = 14:00.
    assert (wo.planned_start, wo.planned_finish) == (utc(2026, 11, 20, 2, 0),
                                                     utc(2026, 11, 20, 6, 0))
    (row,) = timeline_rows(db, order.id, "work_orders_planned")
    assert wo.number in row.note and row.actor == "pete" and row.role == "production"
    assert row.data["planned_finish"] == "2026-11-20T06:00:00+00:00"
    (ev,) = events(db, "work_order.planned")
    assert ev.payload["order_no"] == order.order_no and ev.payload["work_order"] == wo.number
    assert ev.payload["work_order_id"] == wo.id


def test_routing_steps_and_capacity_shape_the_schedule(pete, alice, db):
    catalog(db)
    service.create_work_center(pete, WorkCenterCreate(code="CUT", name="Cutting", capacity=1,
                                                      calendar="24x7"))
    service.create_work_center(pete, WorkCenterCreate(code="PACK", name="Packing",
                                                      capacity=2, calendar="24x7"))
    routing = service.set_routing(pete, "GEARBOX", RoutingIn.model_validate({"steps": [
        {"name": "Cut", "work_center": "CUT", "setup_minutes": 30, "minutes_per_unit": 10},
        {"name": "Pack", "work_center": "PACK", "minutes_per_unit": 5}]}))
    assert not routing.default and [s.name for s in routing.steps] == ["Cut", "Pack"]
    first = service.plan_for_order(pete, mto_order(alice).id)[0]
    second = service.plan_for_order(pete, mto_order(alice).id)[0]
    a, b = _steps(pete, first), _steps(pete, second)
    assert (a[0].planned_start, a[0].planned_finish) == (utc(2026, 11, 20, 2, 0),
                                                         utc(2026, 11, 20, 3, 0))
    assert a[1].planned_start == a[0].planned_finish  # in sequence
    # CUT has one slot: the second work order cuts after the first.
    assert b[0].planned_start == a[0].planned_finish
    assert first.planned_finish == a[1].planned_finish == utc(2026, 11, 20, 3, 15)


def test_by_hand_for_a_line_with_a_chosen_quantity(pete, alice, db):
    catalog(db)
    order = mto_order(alice)
    wo = service.create_work_order(pete, WorkOrderCreate(order_no=order.order_no, line_no=2,
                                                         qty=Decimal("2.5")))
    assert (wo.sku, wo.qty) == ("MANUAL", Decimal("2.500"))
    # the gearbox line gets its own when planned; the manual line keeps the one made by hand
    assert sorted(w.sku for w in service.plan_for_order(pete, order.id)) == ["GEARBOX"]
    assert db.scalar(select(func.count()).select_from(WorkOrder)) == 2


def _count(db):
    db.expire_all()
    return (db.scalar(select(func.count()).select_from(WorkOrder)),
            db.scalar(select(func.count()).select_from(WorkCenter)))


def test_bad_input_is_refused_changes_nothing_and_is_logged(pete, alice, db, caplog, clock,
                                                             settings):
    catalog(db)
    product(db, "PLAIN", mto=True)  # no BOM: starting issues nothing
    order = mto_order(alice, [{"sku": "PLAIN", "name": "Plain", "qty": 1,
                               "unit_price": "1.00"}])
    (wo,) = service.plan_for_order(pete, order.id)
    before = _count(db)
    caplog.set_level(logging.WARNING, logger="ordertrail.production")
    cases = [
        (NotFound, lambda: service.start(pete, 999999), "999999"),
        (NotFound, lambda: service.start(pete, "WO-NOPE"), "WO-NOPE"),
        (Conflict, lambda: service.record_qc(pete, wo.id, "pass"), "planned"),
        (Conflict, lambda: service.complete(pete, wo.id), "planned"),
        (Invalid, lambda: service.record_qc(pete, wo.id, "maybe"), "maybe"),
        (NotFound, lambda: service.set_routing(pete, "NO-SUCH-SKU", RoutingIn.model_validate(
            {"steps": [{"name": "x", "work_center": "ASSEMBLY"}]})), "NO-SUCH-SKU"),
        (NotFound, lambda: service.set_routing(pete, "GEARBOX", RoutingIn.model_validate(
            {"steps": [{"name": "x", "work_center": "NOWHERE"}]})), "NOWHERE"),
        (Invalid, lambda: service.create_work_order(pete, WorkOrderCreate(
            order_no=order.order_no, line_no=1, qty=Decimal(0))), "0"),
        (Invalid, lambda: service.create_work_order(pete, WorkOrderCreate(
            order_no=order.order_no, line_no=1, qty=Decimal(-2))), "-2"),
        (Conflict, lambda: service.create_work_order(pete, WorkOrderCreate(
            order_no=order.order_no, line_no=1)), "already"),
        (NotFound, lambda: service.create_work_order(pete, WorkOrderCreate(
            order_no=order.order_no, line_no=9)), "line 9"),
        (Forbidden, lambda: service.start(alice, wo.id), "sales"),
        (Forbidden, lambda: service.create_work_center(
            ctx_for(db, "vera", clock, settings),
            WorkCenterCreate(code="X", name="X")), "viewer"),
        (Conflict, lambda: service.create_work_center(pete, WorkCenterCreate(
            code="ASSEMBLY", name="again")), "ASSEMBLY"),
        (NotFound, lambda: service.create_work_center(pete, WorkCenterCreate(
            code="Y", name="Y", calendar="mars")), "mars"),
    ]
    for kind, call, word in cases:
        caplog.clear()
        with pytest.raises(kind) as err:
            call()
        assert word in str(err.value), (word, str(err.value))
        assert _count(db) == before
        (rec,) = caplog.records
        assert "refused" in rec.getMessage() and rec.name == "ordertrail.production"

    service.start(pete, wo.id)
    caplog.clear()
    with pytest.raises(Conflict, match="already started"):
        service.start(pete, wo.id)
    with pytest.raises(Conflict, match="open steps"):
        service.complete(pete, wo.id)
    with pytest.raises(NotFound, match="no step 5"):
        service.complete_step(pete, wo.id, 5)
    service.complete_step(pete, wo.id, 1)
    with pytest.raises(Conflict, match="already done"):
        service.complete_step(pete, wo.id, 1)
    service.complete(pete, wo.id)
    with pytest.raises(Invalid, match="note"):
        service.record_qc(pete, wo.id, "fail", "  ")
    assert read.get_work_order(db, wo.id).status == "completed"
    assert len(caplog.records) == 5 and "pete" in caplog.records[0].getMessage()


def test_steps_are_done_in_order(pete, alice, db):
    catalog(db)
    service.create_work_center(pete, WorkCenterCreate(code="CUT", name="Cutting"))
    product(db, "PLAIN", mto=True)
    service.set_routing(pete, "PLAIN", RoutingIn.model_validate({"steps": [
        {"name": "Cut", "work_center": "CUT", "minutes_per_unit": 10},
        {"name": "Finish", "work_center": "CUT", "minutes_per_unit": 10}]}))
    order = mto_order(alice, [{"sku": "PLAIN", "name": "Plain", "qty": 1,
                               "unit_price": "1.00"}])
    (wo,) = service.plan_for_order(pete, order.id)
    service.start(pete, wo.number)
    with pytest.raises(Conflict, match=r"Step 1 .* before step 2"):
        service.complete_step(pete, wo.id, 2)
    service.complete_step(pete, wo.id, 1, "cut clean")
    steps = _steps(pete, wo)
    assert steps[0].done_by == "pete" and steps[0].note == "cut clean"
    assert steps[1].actual_start is not None and steps[1].actual_finish is None
