"""Order API schemas: what clients send and what they read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=4)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class OrderStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(Strict):
    name: Name
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]{3,30}$")
    email: str | None = Field(default=None, max_length=254,
                              pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$",
                                description="ISO 3166-1 alpha-2, e.g. CN")
    province: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=500)


class CustomerPatch(Strict):
    """Customer fields to change; fields not sent keep their value, null clears one."""

    name: Name | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]{3,30}$")
    email: str | None = Field(default=None, max_length=254,
                              pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    province: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=500)


class LineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: Name
    qty: Decimal = Field(gt=0, max_digits=15, decimal_places=3)
    unit_price: Money


class OrderCreate(Strict):
    flow: str = Field(min_length=1, max_length=64, examples=["make_to_order"])
    customer: CustomerIn
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    shipping_fee: Money = Decimal(0)
    discount: Money = Decimal(0)
    channel: str | None = Field(default=None, max_length=32)
    priority: Priority = Priority.NORMAL
    promised_at: AwareDatetime | None = None
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)
    external_source: str | None = Field(default=None, min_length=1, max_length=64)
    tags: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=30)
    custom: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("custom")
    @classmethod
    def _custom_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 50:
            raise ValueError("at most 50 custom fields")
        return value


class OrderUpdate(Strict):
    customer: CustomerPatch | None = None
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=1000)
    shipping_fee: Money | None = None
    discount: Money | None = None
    channel: str | None = Field(default=None, max_length=32)
    priority: Priority | None = None
    promised_at: AwareDatetime | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=32)]] | None = Field(
        default=None, max_length=30)
    custom: dict[str, Any] | None = None
    note: str | None = Field(default=None, max_length=2000,
                             description="Why the order was changed; shown on the timeline.")


class CustomerRead(BaseModel):
    name: str
    phone: str | None
    email: str | None
    country: str | None
    province: str | None
    city: str | None
    address: str | None


class LineRead(BaseModel):
    line_no: int
    sku: str
    name: str
    qty: Decimal
    unit_price: Decimal
    amount: Decimal


class Label(BaseModel):
    en: str
    zh: str


class ApprovalStatus(BaseModel):
    stage: str
    pending_level: str | None
    pending_level_name: Label | None
    position: int
    levels: int
    required: int | None
    approvals: list[dict[str, Any]]


class WaitingItem(BaseModel):
    sku: str
    short_qty: Decimal
    expected_at: datetime | None = Field(description="earliest expected receipt, if known")
    reason: Label


class WaitingRead(BaseModel):
    """Why an order is held up outside its own flow (kind ``stock``: short SKUs)."""

    kind: str
    since: datetime | None
    expected_at: datetime | None
    reason: Label
    items: list[WaitingItem]


class OrderRead(BaseModel):
    order_no: str
    flow: str
    flow_version: int
    stage: str
    stage_name: Label
    status: OrderStatus
    stage_entered_at: datetime
    responsible_role: str | None
    customer: CustomerRead
    lines: list[LineRead]
    currency: str
    subtotal: Decimal
    shipping_fee: Decimal
    discount: Decimal
    total: Decimal
    channel: str | None
    priority: Priority
    promised_at: datetime | None
    external_source: str | None
    external_ref: str | None
    tags: list[str]
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    approval: ApprovalStatus | None = None
    waiting: WaitingRead | None = Field(
        default=None, description="what the order waits for (e.g. stock), or null")


class OrderSummary(BaseModel):
    order_no: str
    flow: str
    stage: str
    status: OrderStatus
    stage_entered_at: datetime
    customer_name: str
    total: Decimal
    currency: str
    priority: Priority
    channel: str | None
    promised_at: datetime | None
    external_ref: str | None
    created_at: datetime


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None


class TransitionIn(Strict):
    to: str = Field(min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=2000)
    expected_stage: str | None = Field(
        default=None, max_length=64,
        description="Refuse with 409 if the order is no longer at this stage.")


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ApprovalIn(Strict):
    decision: Decision
    comment: str | None = Field(default=None, max_length=2000)


class NoteIn(Strict):
    note: str | None = Field(default=None, max_length=2000)


class TransitionOption(BaseModel):
    to: str
    action: str = Field(description="transition, approve or reject")
    label: Label
    allowed: bool
    reason: str | None
    code: str | None
    automatic: str | None = Field(description="domain event that takes this step by itself")


class TransitionOptions(BaseModel):
    order_no: str
    stage: str
    status: OrderStatus
    items: list[TransitionOption]


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    actor: str
    role: str | None
    from_stage: str | None
    to_stage: str | None
    note: str | None
    source: str
    data: dict[str, Any]


class Timeline(BaseModel):
    order_no: str
    items: list[TimelineItem]
