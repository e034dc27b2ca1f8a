"""A make-to-order order through production with stock: planned on entering material check,
started (components issued), steps, completed → QC; QC fails → rework → completed again →
QC passes → outbound. Timeline rows and events on the way."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ordertrail.jobs.worker import drain
from ordertrail.models.inventory import StockMovement
from ordertrail.production import read, service
from tests.production.conftest import (
    accept,
    catalog,
    events,
    mto_order,
    stage_of,
    timeline_kinds,
    timeline_rows,
    utc,
)


def _stock(root, db) -> None:
    from ordertrail.inventory import service as inventory

    wh = inventory.default_warehouse(db)
    for sku, qty in (("GEAR-40", 10), ("BOLT-M8", 20), ("MANUAL", 5)):
        inventory.receive(root, sku, wh, Decimal(qty), reason="opening stock")
    db.flush()


def _issued(db, number):
    return {m.sku: m.qty for m in db.scalars(select(StockMovement).where(
        StockMovement.ref_type == "work_order", StockMovement.ref_id == number,
        StockMovement.kind == "issue"))}


def test_make_to_order_through_production_qc_rework_and_out(alice, pete, root, db, clock,
                                                             factory, settings):
    catalog(db)
    _stock(root, db)
    order = mto_order(alice)
    no = order.order_no
    accept(alice, no)
    db.flush()
    drain(factory, clock, settings)  # material_check: plan work orders, reserve stock
    assert stage_of(db, no) == "production"
    (wo,) = read.work_orders_of(db, order.id)
    assert (wo.sku, wo.qty, wo.status) == ("GEARBOX", Decimal("3.000"), "planned")
    assert service.plan_for_order(pete, order.id)[0].id == wo.id  # entering again: same
    detail = read.detail(pete, wo)
    assert {(c.sku, c.qty) for c in detail.components} == {
        ("GEAR-40", Decimal("6.000")), ("BOLT-M8", Decimal("12.000"))}
    assert {c.sku: c.available for c in detail.components} == {
        "GEAR-40": Decimal("4.000"), "BOLT-M8": Decimal("8.000")}  # the rest is reserved

    clock.set(utc(2026, 11, 20, 2, 10))
    service.start(pete, wo.id)
    assert _issued(db, wo.number) == {"GEAR-40": Decimal("-6.000"),
                                      "BOLT-M8": Decimal("-12.000")}
    clock.set(utc(2026, 11, 20, 5, 0))
    service.complete_step(pete, wo.id, 1)
    service.complete(pete, wo.id)
    assert stage_of(db, no) == "qc"

    clock.set(utc(2026, 11, 20, 6, 0))
    service.record_qc(pete, wo.id, "fail", "gear noise")
    assert stage_of(db, no) == "production"
    assert wo.status == "rework" and wo.actual_finish is None
    steps = read.detail(pete, wo).steps
    assert [(s.kind, s.work_center) for s in steps] == [("routing", "ASSEMBLY"),
                                                         ("rework", "ASSEMBLY")]
    service.complete_step(pete, wo.id, 2)
    service.complete(pete, wo.id)
    assert stage_of(db, no) == "qc"
    clock.set(utc(2026, 11, 20, 7, 0))
    service.record_qc(pete, wo.id, "pass", "quiet now")
    assert wo.status == "done"
    db.flush()
    drain(factory, clock, settings)
    assert stage_of(db, no) == "outbound"
    received = db.scalars(select(StockMovement).where(
        StockMovement.ref_type == "work_order", StockMovement.kind == "receipt")).all()
    assert [(m.sku, m.qty) for m in received] == [("GEARBOX", Decimal("3.000"))]

    names = [e.name for e in events(db, "work_order.")]
    assert names == ["work_order.planned", "work_order.started", "work_order.step_completed",
                     "work_order.completed", "work_order.qc_failed",
                     "work_order.step_completed", "work_order.completed",
                     "work_order.qc_passed"]
    assert all(e.payload["order_no"] == no and e.payload["work_order"] == wo.number
               for e in events(db, "work_order."))
    kinds = [k for k in timeline_kinds(db, order.id) if k.startswith("work_order")]
    assert kinds == ["work_orders_planned", "work_order_started", "work_order_step_done",
                     "work_order_completed", "work_order_qc_failed", "work_order_step_done",
                     "work_order_completed", "work_order_qc_passed"]
    (failed,) = timeline_rows(db, order.id, "work_order_qc_failed")
    assert (failed.actor, failed.role, failed.at) == ("pete", "production",
                                                      utc(2026, 11, 20, 6, 0))
    assert "gear noise" in failed.note
    (planned,) = timeline_rows(db, order.id, "work_orders_planned")
    assert planned.actor == "system" and "planned_finish" in planned.data
    started = timeline_rows(db, order.id, "work_order_started")[0]
    assert started.data["late_minutes"] == 10  # planned 10:00, started 10:10


def test_an_order_entering_qc_later_still_moves(alice, pete, root, db, clock, factory,
                                                settings):
    """The work order was completed while the order still waited in material check: moving
    it to production by hand fires work_order.completed by the state check."""
    from ordertrail.flow.plans import Advance
    from ordertrail.order import service as orders
    from tests.conftest import ctx_for

    catalog(db)
    order = mto_order(alice)  # no stock: the order waits for material
    accept(alice, order.order_no)
    db.flush()
    drain(factory, clock, settings)
    assert stage_of(db, order.order_no) == "material_check"
    (wo,) = read.work_orders_of(db, order.id)
    service.start(pete, wo.id)  # components are issued only if stock is there
    service.complete_step(pete, wo.id, 1)
    service.complete(pete, wo.id)
    orders.act(ctx_for(db, "pete", clock, settings), order.order_no, Advance(to="production"))
    db.flush()
    drain(factory, clock, settings)
    assert stage_of(db, order.order_no) == "qc"


def test_cancelling_the_order_cancels_its_open_work_orders(alice, pete, db, clock, factory,
                                                          settings):
    from ordertrail.flow.plans import Cancel
    from ordertrail.order import service as orders

    catalog(db)
    order = mto_order(alice)
    (wo,) = service.plan_for_order(pete, order.id)
    orders.act(alice, order.order_no, Cancel(note="customer changed mind"))
    db.flush()
    drain(factory, clock, settings)
    db.expire_all()
    assert read.get_work_order(db, wo.id).status == "cancelled"
    assert "work_orders_cancelled" in timeline_kinds(db, order.id)
