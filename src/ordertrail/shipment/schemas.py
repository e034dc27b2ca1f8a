"""Shipment API schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from ordertrail.carrier.status import SUBSTATUSES, Status, status_of
from ordertrail.order.schemas import Strict

Qty = Decimal


class ShipmentLineIn(Strict):
    """Which order line, and how much of it, travels in this parcel."""

    line_no: int | None = Field(default=None, ge=1, description="the order line's number")
    sku: str | None = Field(default=None, min_length=1, max_length=64,
                            description="or its SKU, when the order has it on one line")
    qty: Decimal = Field(gt=0, max_digits=15, decimal_places=3)

    @model_validator(mode="after")
    def _one_key(self) -> ShipmentLineIn:
        if self.line_no is None and self.sku is None:
            raise ValueError("give line_no or sku")
        return self


class Place(Strict):
    city: str | None = Field(default=None, max_length=64)
    province: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class ShipmentCreate(Strict):
    carrier: str | None = Field(default=None, max_length=32, description=(
        "courier slug (sf, yto, zto, ups…); null: detected from the tracking number"))
    tracking_number: str = Field(min_length=4, max_length=64)
    provider: str | None = Field(default=None, max_length=32, description=(
        "who tracks it (kuaidi100, track17, sim, manual…); null: the configured default"))
    service: str | None = Field(default=None, max_length=64)
    lines: list[ShipmentLineIn] | None = Field(default=None, max_length=500, description=(
        "what travels in this parcel; null: everything not shipped yet"))
    origin: Place | None = None
    destination: Place | None = Field(default=None, description="default: the customer's")
    weight_kg: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=3)
    shipped_at: AwareDatetime | None = Field(default=None, description="default: now")
    phone: str | None = Field(default=None, max_length=32, description=(
        "receiver phone for carriers that need it (SF); default: the customer's"))
    scenario: str | None = Field(default=None, max_length=32, description=(
        "simulated carrier only: normal, delay, failed_attempt, return, lost, locker, customs"))

    @field_validator("tracking_number")
    @classmethod
    def _number(cls, value: str) -> str:
        from ordertrail.shipment.ingest import normalise_number

        value = normalise_number(value)
        if not value.isascii() or not value.isalnum():
            raise ValueError("a tracking number has only letters and digits")
        return value


class ManualEventIn(Strict):
    """A checkpoint typed in by hand, for carriers without an API."""

    occurred_at: AwareDatetime
    status: Status
    substatus: str | None = Field(default=None, description="default: <status>.other")
    description: str = Field(min_length=1, max_length=500)
    location: str | None = Field(default=None, max_length=200)
    code: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _substatus(self) -> ManualEventIn:
        if self.substatus is None:
            self.substatus = f"{self.status.value}.other"
        elif self.substatus not in SUBSTATUSES or status_of(self.substatus) != self.status:
            raise ValueError(f"substatus {self.substatus!r} is not one of {self.status.value}'s")
        return self


class ShipmentLineRead(BaseModel):
    line_no: int
    sku: str
    name: str
    qty: Decimal


class ShipmentRead(BaseModel):
    id: int
    order_no: str | None
    carrier: str
    carrier_name: str | None
    provider: str
    tracking_number: str
    tracking_url: str | None
    service: str | None
    status: str
    substatus: str
    last_event: str | None
    last_event_at: datetime | None
    last_location: str | None
    origin: Place
    destination: Place
    weight_kg: Decimal | None
    shipped_at: datetime | None
    carrier_eta: datetime | None
    eta: datetime | None
    delivered_at: datetime | None
    event_count: int
    lines: list[ShipmentLineRead]
    registered_at: datetime | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    stopped_reason: str | None
    created_at: datetime
    detected: list[dict[str, object]] | None = Field(
        default=None, description="when the carrier was detected: the ranked candidates")


class EventRead(BaseModel):
    occurred_at: datetime
    status: str
    substatus: str
    description: str
    location: str | None
    code: str | None
    source: str
    received_at: datetime


class EventPage(BaseModel):
    shipment_id: int
    tracking_number: str
    status: str
    substatus: str
    events: list[EventRead]


class IngestResult(BaseModel):
    received: int
    stored: int
    duplicates: int
    unmatched: int
    status: str | None = None
    substatus: str | None = None


class UnshippedLine(BaseModel):
    line_no: int
    sku: str
    name: str
    ordered: Decimal
    shipped: Decimal
    unshipped: Decimal


class OrderShipments(BaseModel):
    order_no: str
    shipments: list[ShipmentRead]
    unshipped: list[UnshippedLine]
    all_delivered: bool


class TrackRead(BaseModel):
    tracking_number: str
    shipments: list[ShipmentRead]
    events: dict[int, list[EventRead]]
