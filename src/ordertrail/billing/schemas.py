"""API shapes of invoices, payments, payment imports and receivable aging.

Amounts are decimal strings in JSON (``"1234.50"``), never floats. Amount rules (positive, at
most two decimals, within the order's total) are checked by the service, so that the API, the
command line and imports refuse the same things with the same words.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

InvoiceStatus = Literal["open", "partially_paid", "paid", "void"]
Method = Literal["bank", "alipay", "wechat", "card", "cash", "other"]


class InvoiceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_no: int = Field(ge=1, description="the order line's number (1, 2, …)")
    qty: Decimal | None = Field(default=None, description="default: what is not invoiced yet")
    amount: Decimal | None = Field(default=None, description="default: qty × unit price")


class InvoiceCreate(BaseModel):
    """Issue an invoice. With neither ``amount`` nor ``lines``: everything not invoiced yet."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"order_no": "SO20261122-00001", "amount": "5000.00", "terms": "net 30"},
        {"order_no": "SO20261122-00001", "lines": [{"line_no": 1, "qty": "2"}]}]})

    order_no: str = Field(max_length=64)
    amount: Decimal | None = Field(default=None, description="in the order's currency")
    lines: list[InvoiceLineIn] | None = Field(default=None, max_length=500)
    terms: str | None = Field(default=None, max_length=32, description=(
        "due on receipt, net N, EOM, EOM N (also 月结N天, N天, 见票即付); default: the "
        "order's custom field payment_terms, else net 30"))
    note: str | None = Field(default=None, max_length=2000)


class InvoiceVoid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class InvoiceLineRead(BaseModel):
    line_no: int
    order_line_no: int | None
    description: str
    qty: Decimal
    amount: Decimal


class AllocationRead(BaseModel):
    invoice: str
    payment_id: int
    amount: Decimal
    at: datetime


class InvoiceRead(BaseModel):
    number: str
    order_no: str
    customer: str
    currency: str
    amount: Decimal
    paid_amount: Decimal
    open_amount: Decimal
    status: InvoiceStatus
    terms: str
    issued_at: datetime
    due_at: datetime
    due_date: date = Field(description="the due day in the deployment's time zone")
    overdue: bool
    days_overdue: int
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    note: str | None
    issued_by: str
    lines: list[InvoiceLineRead]
    allocations: list[AllocationRead]


class InvoicePage(BaseModel):
    items: list[InvoiceRead]
    next_cursor: str | None = None


class PaymentCreate(BaseModel):
    """Record a payment for an order, or for one invoice (``invoice_no``). Without an invoice
    it pays the order's open invoices, oldest due first; what is left (a prepayment) waits
    for the next invoice."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"order_no": "SO20261122-00001", "amount": "3000.00", "method": "bank",
         "reference": "CMB202611220001", "payer": "深圳市某某科技有限公司"}]})

    order_no: str | None = Field(default=None, max_length=64)
    invoice_no: str | None = Field(default=None, max_length=64)
    amount: Decimal
    currency: str | None = Field(default=None, max_length=3, description="default: the "
                                 "order's; another currency is refused")
    received_at: AwareDatetime | None = Field(default=None, description="default: now")
    method: Method = "bank"
    reference: str | None = Field(default=None, max_length=128, description=(
        "the bank's or gateway's transaction id; unique per source: the same one again is "
        "a no-op"))
    source: str | None = Field(default=None, max_length=32, description=(
        "where the reference comes from (e.g. cmb, alipay); default: the method"))
    payer: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class PaymentRead(BaseModel):
    id: int
    order_no: str
    amount: Decimal
    currency: str
    unallocated: Decimal = Field(description="not yet applied to an invoice (prepayment)")
    received_at: datetime
    method: str
    source: str
    reference: str | None
    payer: str | None
    note: str | None
    recorded_by: str
    created_at: datetime
    import_id: int | None
    allocations: list[AllocationRead]
    duplicate: bool = Field(default=False, description="true when this reference was "
                            "already recorded: nothing changed")


class PaymentPage(BaseModel):
    items: list[PaymentRead]
    next_cursor: str | None = None


class BillingSummary(BaseModel):
    order_no: str
    customer: str
    currency: str
    total: Decimal
    invoiced: Decimal
    not_invoiced: Decimal
    paid: Decimal
    outstanding: Decimal = Field(description="total − paid")
    unallocated: Decimal = Field(description="paid but not applied to an invoice yet")
    overdue: Decimal = Field(description="open amount of invoices past due")
    fully_paid: bool
    invoices: list[InvoiceRead]
    payments: list[PaymentRead]


class ImportRow(BaseModel):
    line: int = Field(description="line number in the file (the header is a line too)")
    status: Literal["applied", "would_apply", "duplicate", "skipped", "error"]
    reason: str | None = None
    order_no: str | None = None
    invoice_no: str | None = None
    amount: Decimal | None = None
    reference: str | None = None
    payment_id: int | None = None


class ImportReport(BaseModel):
    dry_run: bool
    import_id: int | None
    source: str
    columns: dict[str, str] = Field(description="our field → the file's column")
    rows: int
    applied: int
    duplicates: int
    skipped: int
    failed: int
    items: list[ImportRow]


class AgingBuckets(BaseModel):
    current: Decimal = Decimal("0.00")
    d1_30: Decimal = Decimal("0.00")
    d31_60: Decimal = Decimal("0.00")
    d61_90: Decimal = Decimal("0.00")
    over_90: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")


class AgingRow(AgingBuckets):
    customer: str
    currency: str
    invoices: int


class AgingTotal(AgingBuckets):
    currency: str
    invoices: int


class AgingReport(BaseModel):
    as_of: date
    timezone: str
    buckets: list[str] = ["current", "d1_30", "d31_60", "d61_90", "over_90"]
    customers: list[AgingRow]
    totals: list[AgingTotal] = Field(description="one per currency")
