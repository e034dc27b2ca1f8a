"""API shapes of suppliers, purchase orders, suggestions, supplier updates and receipts.

Dates that people type (expected, confirmed) may be a date (``2026-11-27``: the start of
that day in the install's time zone) or a full time with an offset.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Qty = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=3)]
Price = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
DateIn = date | datetime
Sku = Annotated[str, Field(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PoStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    CONFIRMED = "confirmed"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


OPEN_STATUSES = (PoStatus.DRAFT, PoStatus.SENT, PoStatus.CONFIRMED,
                 PoStatus.PARTIALLY_RECEIVED)


class SupplierCreate(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    lead_time_days: int = Field(default=7, ge=0, le=365)
    locale: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")


class SupplierRead(BaseModel):
    code: str
    name: str
    contact: str | None
    email: str | None
    phone: str | None
    lead_time_days: int
    locale: str


class SupplierList(BaseModel):
    suppliers: list[SupplierRead]


class PoLineIn(Strict):
    sku: Sku
    qty: Qty
    unit_price: Price = Decimal(0)


class PoCreate(Strict):
    """A purchase order made by hand."""

    supplier: str = Field(min_length=1, max_length=32, description="supplier code")
    warehouse: str | None = Field(default=None, max_length=32,
                                  description="receiving warehouse; default: the default one")
    lines: list[PoLineIn] = Field(min_length=1, max_length=500)
    expected_at: DateIn | None = Field(default=None, description="asked date; default: "
                                                                 "today + lead time")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    note: str | None = Field(default=None, max_length=2000)
    receive_on_delivery: bool = True


class FromShortages(Strict):
    """A purchase order for the current shortages (all, or these SKUs)."""

    supplier: str = Field(min_length=1, max_length=32)
    skus: list[Sku] | None = Field(default=None, max_length=500)
    warehouse: str | None = Field(default=None, max_length=32)
    expected_at: DateIn | None = None
    note: str | None = Field(default=None, max_length=2000)


class ConfirmIn(Strict):
    """Staff confirm the supplier's date (or set a new one)."""

    date: DateIn | None = Field(default=None, description="the promised date; default: the "
                                                          "current one")
    note: str | None = Field(default=None, max_length=2000)


class ReceiptLineIn(Strict):
    sku: Sku
    qty: Qty


class ReceiptIn(Strict):
    warehouse: str | None = Field(default=None, max_length=32)
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)
    note: str | None = Field(default=None, max_length=2000)


class CancelIn(Strict):
    reason: str | None = Field(default=None, max_length=2000)


class TrackingIn(Strict):
    carrier: str | None = Field(default=None, max_length=32)
    tracking_number: str = Field(min_length=4, max_length=64)
    provider: str | None = Field(default=None, max_length=32)


# Supplier side (no account: the signed token is the credential) ------------------------


class SupplierToken(Strict):
    token: str = Field(min_length=1, max_length=512)


class SupplierConfirm(SupplierToken):
    note: str | None = Field(default=None, max_length=2000)


class SupplierDate(SupplierToken):
    date: DateIn
    note: str | None = Field(default=None, max_length=2000)


class SupplierTracking(SupplierToken):
    carrier: str | None = Field(default=None, max_length=32)
    tracking_number: str = Field(min_length=4, max_length=64)


# Reads -----------------------------------------------------------------------------------


class PoLineRead(BaseModel):
    line_no: int
    sku: str
    qty: Decimal
    unit_price: Decimal
    received_qty: Decimal
    open_qty: Decimal


class ServedOrder(BaseModel):
    order_no: str
    sku: str
    short_qty: Decimal | None


class HistoryRead(BaseModel):
    at: datetime
    kind: str
    actor: str
    source: str
    old_date: datetime | None
    new_date: datetime | None
    note: str | None
    data: dict[str, Any]


class InboundRead(BaseModel):
    shipment_id: int
    carrier: str
    tracking_number: str
    status: str
    substatus: str
    delivered_at: datetime | None


class PoRead(BaseModel):
    po_no: str
    supplier: SupplierRead
    warehouse: str
    status: str
    currency: str
    expected_at: datetime | None
    confirmed_at: datetime | None
    due_at: datetime | None = Field(description="the promised date, else the asked one")
    note: str | None
    total: Decimal
    receive_on_delivery: bool
    lines: list[PoLineRead]
    orders: list[ServedOrder]
    inbound: InboundRead | None
    history: list[HistoryRead]
    created_at: datetime
    updated_at: datetime


class PoSummary(BaseModel):
    po_no: str
    supplier: str
    warehouse: str
    status: str
    due_at: datetime | None
    lines: int
    open_qty: Decimal
    shipment_id: int | None
    created_at: datetime


class PoList(BaseModel):
    purchase_orders: list[PoSummary]


class SuggestionRead(BaseModel):
    sku: str
    short_qty: Decimal
    on_order_qty: Decimal = Field(description="still open on purchase orders")
    suggested_qty: Decimal
    order_nos: list[str]
    waiting_since: datetime | None
    supplier: str | None = Field(description="supplier of the SKU's last purchase order")
    lead_time_days: int | None
    expected_at: datetime | None


class SuggestionList(BaseModel):
    suggestions: list[SuggestionRead]


class LinkRead(BaseModel):
    po_no: str
    url: str
    token: str
    expires_at: datetime


class SupplierView(BaseModel):
    """What the supplier sees through the link."""

    po_no: str
    supplier: str
    status: str
    expected_at: datetime | None
    confirmed_at: datetime | None
    lines: list[PoLineRead]
    inbound: InboundRead | None
    expires_at: datetime
