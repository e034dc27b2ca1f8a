"""Billing moves orders: invoiced on the first invoice, paid when the payments reach the total,
then closed by itself through the worker; b2b_credit invoices on delivery by itself."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ordertrail.billing import service
from ordertrail.flow import planner
from ordertrail.jobs.worker import drain
from ordertrail.models import Order, TimelineEntry
from ordertrail.models.billing import Invoice
from ordertrail.order import service as orders
from tests.billing.conftest import new_order, pay, stage_of, timeline_kinds, to_delivered


def test_make_to_order_invoiced_paid_in_two_parts_then_closed_by_itself(
        sales, root, fin, db, factory, clock, settings):
    no = new_order(sales, total="1000.00")
    to_delivered(root, no)
    drain(factory, clock, settings)  # stage actions of the stages passed by hand: no-ops now
    inv = service.issue_invoice(fin, no)
    assert stage_of(db, no) == ("invoiced", "active")
    pay(fin, no, "400", reference="B-1", payer="客户甲")
    drain(factory, clock, settings)
    assert stage_of(db, no) == ("invoiced", "active")  # partly paid: waits
    pay(fin, no, "600", reference="B-2", payer="客户甲")
    assert stage_of(db, no) == ("paid", "active")  # the last payment moved it, at once
    drain(factory, clock, settings)
    assert stage_of(db, no) == ("closed", "completed")  # entering paid fired it again
    db.refresh(inv)
    assert inv.status == "paid"
    kinds = timeline_kinds(db, no)
    tail = [k for k in kinds[kinds.index("invoice_issued"):] if not k.startswith("alert_")]
    assert tail == ["invoice_issued", "transition", "payment_received", "payment_received",
                    "transition", "transition"]
    rows = db.scalars(select(TimelineEntry).where(TimelineEntry.kind == "payment_received")
                      .order_by(TimelineEntry.id)).all()
    assert [r.actor for r in rows] == ["fiona", "fiona"]
    assert rows[1].role == "finance" and rows[1].data["reference"] == "B-2"
    assert rows[1].data["outstanding"] == "0.00"


def test_an_order_paid_in_advance_passes_invoiced_and_paid_by_itself(
        sales, root, fin, db, factory, clock, settings):
    no = new_order(sales, total="500.00")
    pay(fin, no, "500", reference="PRE-9")  # prepaid at review
    assert stage_of(db, no)[0] == "review"
    to_delivered(root, no)
    service.issue_invoice(fin, no)  # paid at once from the prepayment
    drain(factory, clock, settings)
    assert stage_of(db, no) == ("closed", "completed")


def test_b2b_credit_invoices_on_delivery_by_itself(sales, root, fin, db, factory, clock,
                                                   settings):
    no = new_order(sales, "b2b_credit", total="6000.00",
                   custom={"payment_terms": "Net 60"})
    orders.act(sales, no, planner.Advance("credit_approval"))
    orders.act(fin, no, planner.Decide("approve"))
    for stage in ("shipped", "delivered"):
        orders.act(root, no, planner.Advance(stage))
    assert stage_of(db, no)[0] == "delivered"
    drain(factory, clock, settings)
    assert stage_of(db, no)[0] == "invoiced"
    invoice = db.scalars(select(Invoice).where(Invoice.order_id == select(Order.id).where(
        Order.order_no == no).scalar_subquery())).one()
    assert (invoice.amount, invoice.terms, invoice.created_by_name) == (
        Decimal("6000.00"), "net 60", "system")
    # the action is idempotent: entering delivered again would invoice nothing more
    from ordertrail.billing.automation import issue_invoice
    from ordertrail.ops.automation import OrderRef

    issue_invoice(fin, OrderRef(invoice.order_id, no, "delivered"))
    assert len(db.scalars(select(Invoice)).all()) == 1
    pay(fin, None, "6000", invoice_no=invoice.number, reference="ICBC-77")
    drain(factory, clock, settings)
    assert stage_of(db, no) == ("closed", "completed")
