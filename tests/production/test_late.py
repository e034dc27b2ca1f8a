"""A work order behind plan raises `work_order_late` through the sweeper: once per work order
and cause, resolved when it starts or finishes."""

from __future__ import annotations

from sqlalchemy import update

from ordertrail.models.production import WorkOrder
from ordertrail.production import service
from ordertrail.sla.sweep import sweep
from tests.production.conftest import mto_order, product, timeline_rows, utc
from tests.sla.conftest import alerts_of, events


def _plain_order(pete, alice, db):
    product(db, "PLAIN", mto=True)  # no BOM: starting issues nothing from stock
    order = mto_order(alice, [{"sku": "PLAIN", "name": "Plain", "qty": 3,
                               "unit_price": "1.00"}])
    (wo,) = service.plan_for_order(pete, order.id)
    db.flush()
    return order, wo  # planned Friday 10:00 → 14:00 Shanghai (02:00 → 06:00 UTC)


def test_not_started_then_not_finished_each_alert_once(pete, alice, db, clock, factory,
                                                      settings):
    order, wo = _plain_order(pete, alice, db)
    clock.set(utc(2026, 11, 20, 1, 59))
    assert sweep(factory, clock, settings).work_order_late == 0
    clock.set(utc(2026, 11, 20, 2, 30))
    assert sweep(factory, clock, settings).work_order_late == 1
    assert sweep(factory, clock, settings).work_order_late == 0  # one per cause
    (alert,) = [a for a in alerts_of(db, order.order_no) if a.kind == "work_order_late"]
    assert alert.responsible_role == "production" and alert.state == "open"
    assert alert.cause == f"work_order_late:start:{wo.id}"
    assert wo.number in alert.title["en"] and "not started" in alert.title["en"]
    assert "未开工" in alert.title["zh"] and "10:00" in alert.title["en"]
    assert alert.due_at == utc(2026, 11, 20, 2, 0)
    (row,) = timeline_rows(db, order.id, "work_order_late")
    assert row.actor == "system" and row.data["work_order"] == wo.number
    assert row.at == utc(2026, 11, 20, 2, 30)
    opened = [e.payload for e in events(db, "alert.opened")
              if e.payload["kind"] == "work_order_late"]
    assert opened[0]["recipients"] == {"users": [], "roles": ["production"]}

    clock.set(utc(2026, 11, 20, 3, 0))
    service.start(pete, wo.id)  # late: the not-started alert is over at once
    db.flush()
    assert [a.state for a in alerts_of(db, order.order_no)
            if a.kind == "work_order_late"] == ["auto_resolved"]
    clock.set(utc(2026, 11, 20, 6, 1))  # past the planned finish, still in progress
    result = sweep(factory, clock, settings)
    assert result.work_order_late == 1
    late = {a.cause.split(":")[1]: a for a in alerts_of(db, order.order_no)
            if a.kind == "work_order_late"}
    assert late["finish"].state == "open" and "not finished" in late["finish"].title["en"]
    assert "未完工" in late["finish"].title["zh"]
    service.complete_step(pete, wo.id, 1)
    service.complete(pete, wo.id)
    db.flush()
    assert {a.state for a in alerts_of(db, order.order_no)
            if a.kind == "work_order_late"} == {"auto_resolved"}
    assert sweep(factory, clock, settings).work_order_late == 0


def test_a_sweep_after_downtime_opens_both_and_the_sweeper_resolves_what_caught_up(
        pete, alice, db, clock, factory, settings):
    order, wo = _plain_order(pete, alice, db)
    clock.set(utc(2026, 11, 23, 2, 0))  # nobody swept over the weekend
    assert sweep(factory, clock, settings, limit=1).work_order_late == 2
    assert sweep(factory, clock, settings).work_order_late == 0
    # Started and finished behind the service's back (e.g. a data fix): the sweep notices.
    db.execute(update(WorkOrder).where(WorkOrder.id == wo.id).values(status="completed"))
    db.flush()
    assert sweep(factory, clock, settings).auto_resolved >= 2
    assert {a.state for a in alerts_of(db, order.order_no)
            if a.kind == "work_order_late"} == {"auto_resolved"}


def test_work_orders_on_plan_raise_nothing(pete, alice, db, clock, factory, settings):
    order, wo = _plain_order(pete, alice, db)
    service.start(pete, wo.id)
    service.complete_step(pete, wo.id, 1)
    service.complete(pete, wo.id)
    db.flush()
    clock.set(utc(2026, 11, 25, 2, 0))
    assert sweep(factory, clock, settings).work_order_late == 0
    assert not [a for a in alerts_of(db, order.order_no) if a.kind == "work_order_late"]
