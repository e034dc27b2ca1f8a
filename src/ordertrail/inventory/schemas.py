"""Inventory API schemas: products, warehouses, stock, movements, availability,
reservations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from ordertrail.order.schemas import Strict, WaitingRead

Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
                           examples=["GEAR-40"])]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                            examples=["SZ1"])]
PosQty = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=3)]


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ISSUE = "issue"
    ADJUSTMENT = "adjustment"
    TRANSFER = "transfer"


class BomItem(Strict):
    sku: Sku
    qty: PosQty = Field(description="component quantity per unit of the product")


class ProductCreate(Strict):
    sku: Sku
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="pcs", min_length=1, max_length=16, examples=["pcs", "kg"])
    make_to_order: bool = False
    bom: list[BomItem] = Field(default_factory=list, max_length=200)


class ProductUpdate(Strict):
    """Fields to change; fields not sent keep their value (``bom: []`` clears the BOM)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    make_to_order: bool | None = None
    bom: list[BomItem] | None = Field(default=None, max_length=200)


class ProductRead(BaseModel):
    sku: str
    name: str
    unit: str
    make_to_order: bool
    bom: list[BomItem]
    on_hand: Decimal = Field(description="over all warehouses")
    reserved: Decimal
    available: Decimal
    created_at: datetime
    updated_at: datetime


class ProductList(BaseModel):
    items: list[ProductRead]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class WarehouseCreate(Strict):
    code: Code
    name: str = Field(min_length=1, max_length=200)


class WarehouseRead(BaseModel):
    code: str
    name: str
    created_at: datetime


class WarehouseList(BaseModel):
    items: list[WarehouseRead]


class StockRead(BaseModel):
    sku: str
    warehouse: str
    on_hand: Decimal
    reserved: Decimal
    available: Decimal
    updated_at: datetime


class StockList(BaseModel):
    items: list[StockRead]


class MovementIn(Strict):
    kind: MovementKind
    sku: Sku
    warehouse: Code
    qty: Decimal = Field(max_digits=15, decimal_places=3,
                         description="> 0; an adjustment may be negative (a count found less)")
    reason: str = Field(min_length=1, max_length=2000, description="why; required")
    to_warehouse: Code | None = Field(default=None, description="transfers only")
    ref_type: str | None = Field(default=None, min_length=1, max_length=32)
    ref_id: str | None = Field(default=None, min_length=1, max_length=64)


class MovementRead(BaseModel):
    id: int
    kind: str
    sku: str
    warehouse: str
    qty: Decimal = Field(description="signed change of on_hand")
    balance: Decimal = Field(description="on_hand after the movement")
    transfer_id: str | None
    actor: str
    reason: str
    ref_type: str | None
    ref_id: str | None
    order_no: str | None
    at: datetime


class MovementPage(BaseModel):
    items: list[MovementRead]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page")


class MovementResult(BaseModel):
    movements: list[MovementRead]
    stock: list[StockRead]


class WarehouseAvailability(BaseModel):
    warehouse: str
    on_hand: Decimal
    available: Decimal = Field(description="free stock: on hand minus all reservations")
    reserved_for_order: Decimal


class LineAvailability(BaseModel):
    line_no: int
    sku: str
    component_of: str | None = Field(description="the made-to-order product it goes into")
    qty: Decimal = Field(description="what the order needs")
    reserved: Decimal = Field(description="held (or already consumed) for this order")
    available: Decimal = Field(description="free stock over all warehouses")
    state: str = Field(description="available, partial or short")
    short: Decimal = Field(description="what reserved plus free stock cannot cover")
    warehouses: list[WarehouseAvailability]


class AvailabilityRead(BaseModel):
    order_no: str
    state: str = Field(description="available, partial or short (available when nothing is "
                                   "tracked)")
    lines: list[LineAvailability]
    untracked: list[str] = Field(description="SKUs of the order that are not products")


class ReservationRead(BaseModel):
    line_no: int
    sku: str
    component_of: str | None
    warehouse: str
    purpose: str = Field(description="need, or produced (finished goods)")
    qty: Decimal
    consumed: Decimal
    released: Decimal
    open: Decimal


class ReservationsRead(BaseModel):
    order_no: str
    state: str = Field(description="reserved, waiting, released, or none (nothing tracked)")
    fully_reserved: bool
    reserved_at: datetime | None
    items: list[ReservationRead]
    waiting: WaitingRead | None


class ReleaseIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)
