"""Payments and invoices arriving at the same moment never over-pay or over-invoice."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from ordertrail.billing import service
from ordertrail.db import write_session
from ordertrail.errors import Invalid
from ordertrail.models.billing import Invoice, Payment
from tests.billing.conftest import new_order, pay
from tests.conftest import ctx_for, make_people, run_together


def test_concurrent_payments_and_invoices_stay_within_the_total(committing, clock, settings):
    make_people(committing, clock)
    with write_session(committing) as session:
        no = new_order(ctx_for(session, "alice", clock, settings), total="1000.00")

    def attempt(i: int) -> str:
        try:
            with write_session(committing) as session:
                ctx = ctx_for(session, "fiona", clock, settings)
                if i % 2:
                    service.issue_invoice(ctx, no, amount=Decimal("250"))
                else:
                    pay(ctx, no, "250", reference=f"RACE-{i}")
            return "ok"
        except Invalid as exc:
            return exc.code

    results = run_together(12, attempt)
    assert results.count("ok") == 8, results  # 4 invoices and 4 payments of 250
    assert set(results) == {"ok", "invoice_above_total", "over_payment"}
    with committing() as session:
        assert session.scalar(select(func.sum(Payment.amount))) == Decimal("1000.00")
        assert session.scalar(select(func.sum(Invoice.amount))) == Decimal("1000.00")
