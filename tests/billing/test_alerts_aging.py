"""payment_overdue: opened once by a sweep after the due day, for finance, and resolved by the
payment; receivable aging buckets as of a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from ordertrail.billing import aging, read, service
from ordertrail.models.alert import Alert
from ordertrail.sla.sweep import sweep
from tests.billing.conftest import new_order, pay


def _overdue_alerts(db):
    db.expire_all()
    return list(db.scalars(select(Alert).where(Alert.kind == "payment_overdue")
                           .order_by(Alert.id)))


def test_overdue_opens_once_and_resolves_on_payment(sales, fin, db, factory, clock, settings):
    no = new_order(sales, total="1000.00")
    inv = service.issue_invoice(fin, no, terms="net 30")  # due 2026-12-20 (Shanghai)
    other = service.issue_invoice(fin, new_order(sales, total="50.00"), terms="net 60")
    clock.set(datetime(2026, 12, 20, 15, 0, tzinfo=UTC))  # 23:00 on the due day
    assert sweep(factory, clock, settings).payment_overdue == 0
    assert read.invoice_read(fin, inv).overdue is False
    clock.set(datetime(2026, 12, 21, 1, 0, tzinfo=UTC))  # 09:00 the day after
    assert sweep(factory, clock, settings).payment_overdue == 1
    assert sweep(factory, clock, settings).payment_overdue == 0  # one alert per invoice
    (alert,) = _overdue_alerts(db)
    assert (alert.state, alert.responsible_role, alert.order_no) == ("open", "finance", no)
    assert alert.title == {"en": f"Order {no}: payment is overdue (due 2026-12-20 23:59)",
                           "zh": f"订单 {no}：付款已逾期（截止 2026-12-20 23:59）"}
    assert alert.data["invoice"] == inv.number and alert.data["open"] == "1000.00"
    shown = read.invoice_read(fin, inv)
    assert shown.overdue and shown.days_overdue == 1
    page = read.invoice_page(fin, overdue=True)
    assert [i.number for i in page.items] == [inv.number]
    pay(fin, no, "400", reference="LATE-1")
    assert _overdue_alerts(db)[0].state == "open"  # partly paid: still overdue
    pay(fin, no, "600", reference="LATE-2")
    assert _overdue_alerts(db)[0].state == "auto_resolved"
    assert other.overdue_alert_state == "pending"


def test_sweep_resolves_an_alert_left_behind(sales, fin, db, factory, clock, settings):
    no = new_order(sales, total="100.00")
    inv = service.issue_invoice(fin, no, terms="due on receipt")
    clock.advance(timedelta(days=2))
    sweep(factory, clock, settings)
    # the invoice is settled without the service (e.g. a repair by hand)
    from ordertrail.models.billing import Invoice

    db.execute(Invoice.__table__.update().where(Invoice.id == inv.id)
               .values(status="void", overdue_alert_state=None))
    result = sweep(factory, clock, settings)
    assert result.auto_resolved >= 1
    assert _overdue_alerts(db)[0].state == "auto_resolved"


def test_aging_buckets_per_customer_and_total(sales, fin, db, clock):
    def invoice(customer, amount, days_ago, terms="due on receipt"):
        clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC) - timedelta(days=days_ago))
        no = new_order(sales, total=amount, customer={"name": customer})
        return no, service.issue_invoice(fin, no, terms=terms)

    invoice("甲公司", "100.00", 0)          # current (due today)
    invoice("甲公司", "200.00", 10)         # 10 days past due
    no, _ = invoice("乙公司", "300.00", 45)  # 45
    invoice("乙公司", "400.00", 75)         # 75
    invoice("丙公司", "500.00", 120)        # 120
    invoice("丙公司", "600.00", 0, terms="net 30")  # not due yet
    clock.set(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    pay(fin, no, "100", reference="AG-1")  # 乙's 45-day invoice: 200 left
    report = aging.aging(fin, date(2026, 11, 20))
    rows = {r.customer: r for r in report.customers}
    assert (rows["甲公司"].current, rows["甲公司"].d1_30) == (Decimal("100.00"),
                                                          Decimal("200.00"))
    assert (rows["乙公司"].d31_60, rows["乙公司"].d61_90) == (Decimal("200.00"),
                                                          Decimal("400.00"))
    assert (rows["丙公司"].current, rows["丙公司"].over_90) == (Decimal("600.00"),
                                                            Decimal("500.00"))
    (total,) = report.totals
    assert (total.currency, total.total, total.invoices) == ("CNY", Decimal("2000.00"), 6)
    # largest debt first
    assert [r.customer for r in report.customers] == ["丙公司", "乙公司", "甲公司"]
    # as of an earlier day: the payment had not come, the newest invoices did not exist
    earlier = aging.aging(fin, date(2026, 11, 1))
    (before,) = earlier.totals
    assert (before.total, before.invoices) == (Decimal("1200.00"), 3)
