"""Invoices and payments through the service: partial invoices and payments, allocation
oldest due first, prepayments, and refusals that leave nothing behind."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ordertrail.billing import read, service
from ordertrail.billing.service import LineRequest
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.models import OutboxEvent
from ordertrail.models.billing import Invoice, Payment, PaymentAllocation
from tests.billing.conftest import new_order, pay, timeline_kinds
from tests.conftest import row_counts


def _counts(db):
    counts = row_counts(db)
    for model in (Invoice, Payment, PaymentAllocation):
        counts[model.__tablename__] = db.scalar(select(func.count()).select_from(model))
    return counts


def test_partial_invoices_and_payments_allocate_oldest_due_first(sales, fin, db, clock):
    no = new_order(sales, total="1000.00")
    first = service.issue_invoice(fin, no, amount=Decimal("400"), terms="net 30")
    clock.advance(timedelta(days=1))
    second = service.issue_invoice(fin, no, terms="due on receipt")  # the rest: 600
    assert (first.amount, second.amount) == (Decimal("400.00"), Decimal("600.00"))
    assert first.number.startswith("INV20261120-") and second.number != first.number
    # second is due first (on receipt): a payment pays it before the older invoice
    p, created = pay(fin, no, "700", method="bank", reference="CMB-1", payer="深圳某某公司")
    assert created and p.unallocated == 0
    db.refresh(first)
    db.refresh(second)
    assert (second.status, second.paid_amount) == ("paid", Decimal("600.00"))
    assert (first.status, first.paid_amount) == ("partially_paid", Decimal("100.00"))
    summary = read.summary(fin, no)
    assert (summary.invoiced, summary.paid, summary.outstanding) == (
        Decimal("1000.00"), Decimal("700.00"), Decimal("300.00"))
    assert not summary.fully_paid
    pay(fin, no, "300", reference="CMB-2")
    summary = read.summary(fin, no)
    assert summary.fully_paid and summary.outstanding == 0
    assert [i.status for i in summary.invoices] == ["paid", "paid"]
    kinds = timeline_kinds(db, no)
    assert kinds.count("invoice_issued") == 2 and kinds.count("payment_received") == 2
    names = list(db.scalars(select(OutboxEvent.name).order_by(OutboxEvent.id)))
    assert names.count("invoice.issued") == 2 and names.count("payment.received") == 2
    assert names.count("payment.fully_paid") == 1


def test_terms_and_due_dates(sales, fin, clock):
    # issued Friday 2026-11-20 10:00 in Shanghai
    no = new_order(sales, total="900.00", custom={"payment_terms": "月结60天"})
    eom = service.issue_invoice(fin, no, amount=Decimal("300"))
    assert eom.terms == "EOM 60"
    # end of November + 60 days = 2027-01-29, 23:59:59 Shanghai
    assert eom.due_at == datetime(2027, 1, 29, 15, 59, 59, tzinfo=UTC)
    net = service.issue_invoice(fin, no, amount=Decimal("300"), terms="Net 30")
    assert (net.terms, net.due_at) == ("net 30", datetime(2026, 12, 20, 15, 59, 59, tzinfo=UTC))
    with pytest.raises(Invalid, match="unknown payment terms"):
        service.issue_invoice(fin, no, terms="whenever")
    plain = new_order(sales, total="100.00")
    assert service.issue_invoice(fin, plain).terms == "net 30"


def test_invoice_lines(sales, fin):
    no = new_order(sales, total="1000.00")  # line 1: 10 × 100.00
    inv = service.issue_invoice(fin, no, lines=[LineRequest(1, Decimal("3"))])
    assert inv.amount == Decimal("300.00")
    shown = read.invoice_read(fin, inv)
    assert [(ln.order_line_no, ln.qty, ln.amount) for ln in shown.lines] == [
        (1, Decimal("3.000"), Decimal("300.00"))]
    with pytest.raises(Invalid, match=r"has 7\.000 not invoiced yet; 8 cannot be invoiced"):
        service.issue_invoice(fin, no, lines=[LineRequest(1, Decimal("8"))])
    with pytest.raises(Invalid, match="has no line 2"):
        service.issue_invoice(fin, no, lines=[LineRequest(2)])
    rest = service.issue_invoice(fin, no, lines=[LineRequest(1)])
    assert rest.amount == Decimal("700.00")


def test_refusals_change_nothing_and_are_logged(sales, fin, db, caplog):
    no = new_order(sales, total="1000.00")
    inv = service.issue_invoice(fin, no, amount=Decimal("600"))
    pay(fin, no, "100", reference="R-1")
    before = _counts(db)
    caplog.set_level(logging.WARNING, logger="ordertrail.billing")
    cases = [
        (Invalid, "would bring the invoices of order .* to 1100.00, above its total 1000.00",
         lambda: service.issue_invoice(fin, no, amount=Decimal("500"))),
        (Invalid, "more than order .* still owes: 900.00 of 1000.00",
         lambda: pay(fin, no, "900.01", reference="R-2")),
        (Invalid, "more than the 500.00 still open on invoice",
         lambda: pay(fin, None, "600", invoice_no=inv.number, reference="R-3")),
        (Invalid, "more than zero", lambda: pay(fin, no, "0", reference="R-4")),
        (Invalid, "more than zero", lambda: pay(fin, no, "-5", reference="R-5")),
        (Invalid, "more than zero", lambda: service.issue_invoice(fin, no,
                                                                  amount=Decimal("-1"))),
        (Invalid, "two decimals", lambda: pay(fin, no, "1.005", reference="R-6")),
        (Invalid, "in CNY; a payment in USD", lambda: pay(fin, no, "10", currency="USD",
                                                          reference="R-7")),
        (NotFound, "No order SO-NOPE", lambda: pay(fin, "SO-NOPE", "10")),
        (NotFound, "No invoice INV-NOPE", lambda: service.void_invoice(fin, "INV-NOPE")),
        (Conflict, "only unpaid invoices", lambda: service.void_invoice(fin, inv.number)),
        (Conflict, "already recorded as payment", lambda: pay(fin, no, "50", reference="R-1")),
        (Forbidden, "finance, manager or admin",
         lambda: service.issue_invoice(sales, no, amount=Decimal("1"))),
    ]
    for exc, text, call in cases:
        with pytest.raises(exc, match=text):
            call()
    assert _counts(db) == before
    warned = [r.getMessage() for r in caplog.records if r.name == "ordertrail.billing"]
    assert len(warned) == len(cases)
    assert any("over_payment" in w and "fiona" in w for w in warned)


def test_the_same_reference_again_is_a_no_op(sales, fin, db):
    no = new_order(sales, total="1000.00")
    first, created = pay(fin, no, "100", reference="ALI-9", method="alipay")
    again, created_again = pay(fin, no, "100", reference="ALI-9", method="alipay")
    assert created and not created_again and again.id == first.id
    # another source may reuse the id
    other, created_other = pay(fin, no, "100", reference="ALI-9", method="bank")
    assert created_other and other.id != first.id
    assert db.scalar(select(func.count()).select_from(Payment)) == 2


def test_prepayment_waits_for_the_next_invoice(sales, fin):
    no = new_order(sales, total="1000.00")
    p, _ = pay(fin, no, "300", reference="PRE-1")
    assert p.unallocated == Decimal("300.00")
    inv = service.issue_invoice(fin, no, amount=Decimal("200"))
    assert (inv.status, inv.paid_amount, p.unallocated) == ("paid", Decimal("200.00"),
                                                            Decimal("100.00"))
    rest = service.issue_invoice(fin, no)
    assert (rest.amount, rest.paid_amount, rest.status) == (
        Decimal("800.00"), Decimal("100.00"), "partially_paid")
    assert p.unallocated == 0


def test_void_unpaid_then_invoice_again(sales, fin, db):
    no = new_order(sales, total="1000.00")
    inv = service.issue_invoice(fin, no)
    with pytest.raises(Conflict, match="fully invoiced"):
        service.issue_invoice(fin, no)
    service.void_invoice(fin, inv.number, "wrong tax number")
    assert inv.status == "void" and inv.overdue_alert_state is None
    with pytest.raises(Conflict, match="void already"):
        service.void_invoice(fin, inv.number)
    with pytest.raises(Conflict, match="is void"):
        pay(fin, None, "10", invoice_no=inv.number)
    again = service.issue_invoice(fin, no)
    assert again.amount == Decimal("1000.00")
    assert "invoice_voided" in timeline_kinds(db, no)
