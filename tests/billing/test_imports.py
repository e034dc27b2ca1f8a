"""CSV imports of payments: generic and Chinese bank/Alipay headers, per-row report, dry runs
that change nothing, and re-imports that are no-ops."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ordertrail.billing import imports, read, service
from ordertrail.errors import Invalid
from ordertrail.models import OutboxEvent, TimelineEntry
from ordertrail.models.billing import Payment, PaymentImport
from tests.billing.conftest import new_order


def _count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_generic_csv_per_row_report(sales, fin, db):
    a = new_order(sales, total="1000.00")
    b = new_order(sales, total="200.00")
    inv = service.issue_invoice(fin, b)
    csv_text = (
        "date,amount,reference,order_no,invoice_no,payer,method\n"
        f"2026-11-19,\"1,234.50\",R1,{a},,甲,bank\n"        # more than owed
        f"2026-11-19,¥600.00,R2,{a},,甲,bank\n"
        f"2026/11/19 15:30,400,R3,{a},,甲,alipay\n"
        f"2026-11-19,200,R4,,{inv.number},乙,\n"
        f"not a date,10,R5,{a},,甲,\n"
        f"2026-11-19,abc,R6,{a},,甲,\n"
        "2026-11-19,10,R7,SO-NOPE,,丙,\n"
        f"2026-11-19,10,,{a},,丙,\n"
    )
    report = imports.import_payments(fin, csv_text.encode(), filename="bank.csv")
    got = [(i.line, i.status) for i in report.items]
    assert got == [(2, "error"), (3, "applied"), (4, "applied"), (5, "applied"),
                   (6, "error"), (7, "error"), (8, "error"), (9, "error")]
    reasons = {i.line: i.reason for i in report.items}
    assert "more than order" in reasons[2] and "still owes: 1000.00" in reasons[2]
    assert "not a date" in reasons[6] and "not a number" in reasons[7]
    assert "no order SO-NOPE" in reasons[8] and "no reference" in reasons[9]
    assert (report.applied, report.failed, report.source) == (3, 5, "bank")
    assert read.summary(fin, a).fully_paid and read.summary(fin, b).fully_paid
    alipay = db.scalars(select(Payment).where(Payment.reference == "R3")).one()
    assert (alipay.method, alipay.source, alipay.payer) == ("alipay", "bank", "甲")
    stored = db.scalars(select(PaymentImport)).one()
    assert (stored.applied, stored.failed, stored.filename) == (3, 5, "bank.csv")
    assert all(p.import_id == stored.id for p in db.scalars(select(Payment)))
    rows = db.scalars(select(TimelineEntry).where(TimelineEntry.kind == "payment_received")
                      ).all()
    assert {r.source for r in rows} == {"import"} and {r.actor for r in rows} == {"fiona"}


CMB = """招商银行交易明细
账号：755912345610001,币种：人民币
交易日期,交易时间,收入金额(元),支出金额(元),余额,交易流水号,对方户名,摘要
2026-11-18,10:12:00,"¥2,000.00",,12000.00,CMB20261118001,深圳市某某科技有限公司,{invoice} 首款
2026-11-18,11:00:00,,500.00,12500.00,CMB20261118002,某物流公司,运费
2026-11-19,09:30:00,"3,000.00",,14500.00,CMB20261119003,深圳市某某科技有限公司,货款{order}
"""


def test_chinese_bank_export_in_gb18030_with_numbers_in_the_memo(sales, fin, db):
    no = new_order(sales, total="5000.00")
    inv = service.issue_invoice(fin, no, amount=Decimal("2000"))
    text = CMB.format(order=no, invoice=inv.number.lower())
    report = imports.import_payments(fin, text.encode("gb18030"), source="cmb")
    assert [(i.line, i.status, i.order_no) for i in report.items] == [
        (4, "applied", no), (5, "skipped", None), (6, "applied", no)]
    assert report.columns["amount"] == "收入金额(元)" and report.columns["memo"] == "摘要"
    assert report.columns["payer"] == "对方户名" and report.columns["date"] == "交易时间+交易日期"
    summary = read.summary(fin, no)
    assert summary.paid == Decimal("5000.00")
    # the 2000 named the invoice (in lower case): it paid it; the 3000 named the order,
    # which has no other invoice: it waits as credit for the next one
    assert summary.invoices[0].status == "paid" and summary.unallocated == Decimal("3000.00")
    assert {p.payer for p in summary.payments} == {"深圳市某某科技有限公司"}
    # imported again: every row is a duplicate and nothing changes
    events = _count(db, OutboxEvent)
    again = imports.import_payments(fin, text.encode("gb18030"), source="cmb")
    assert [i.status for i in again.items] == ["duplicate", "skipped", "duplicate"]
    assert again.applied == 0 and again.duplicates == 2
    assert _count(db, Payment) == 2 and _count(db, OutboxEvent) == events


ALIPAY = (Path(__file__).parent / "data" / "alipay.csv").read_text(encoding="utf-8")


def test_alipay_export(sales, fin, db):
    no = new_order(sales, total="1200.00")
    report = imports.import_payments(fin, ALIPAY.format(order=no).encode())
    assert [(i.line, i.status) for i in report.items] == [(4, "applied"), (5, "skipped")]
    assert report.source == "alipay"
    p = db.scalars(select(Payment)).one()
    assert (p.method, p.reference, p.payer, p.amount) == ("alipay", "2026111922001", "李四",
                                                         Decimal("1200.00"))


def test_dry_run_changes_nothing(sales, fin, db):
    no = new_order(sales, total="1000.00")
    text = f"date,amount,reference,order_no\n2026-11-19,400,D1,{no}\n2026-11-19,700,D2,{no}\n"
    before = (_count(db, Payment), _count(db, OutboxEvent), _count(db, TimelineEntry),
              _count(db, PaymentImport))
    report = imports.import_payments(fin, text.encode(), dry_run=True)
    # the rows are tried in order, as the real run would: the second one over-pays
    assert [i.status for i in report.items] == ["would_apply", "error"]
    assert "still owes: 600.00" in report.items[1].reason and report.import_id is None
    assert (_count(db, Payment), _count(db, OutboxEvent), _count(db, TimelineEntry),
            _count(db, PaymentImport)) == before
    real = imports.import_payments(fin, text.encode())
    assert [i.status for i in real.items] == ["applied", "error"]


@pytest.mark.parametrize(("text", "words"), [
    ("date,amount,order_no\n2026-11-19,10,SO1\n", "reference"),
    ("when,how much\n2026-11-19,10\n", "No header line"),
    ("date,amount,reference\n2026-11-19,10,R\n", "order_no"),
    ("", "no rows"),
])
def test_bad_files_are_refused_whole(fin, db, text, words, caplog):
    with pytest.raises(Invalid, match=words):
        imports.import_payments(fin, text.encode())
    assert _count(db, PaymentImport) == 0
    assert any(r.name == "ordertrail.billing" for r in caplog.records)
