"""Production API shapes: work centers, routings, work orders, steps, QC."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WorkOrderStatus = Literal["planned", "in_progress", "completed", "rework", "done", "cancelled"]
Code = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WorkCenterCreate(_In):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    capacity: int = Field(default=1, ge=1, le=1000,
                          description="How many steps may run on it at the same time")
    calendar: str = Field(default="cn", min_length=1, max_length=32,
                          description="Business calendar its durations count in")


class WorkCenterRead(BaseModel):
    id: int
    code: str
    name: str
    capacity: int
    calendar: str
    created_at: datetime


class WorkCenterList(BaseModel):
    items: list[WorkCenterRead]


class RoutingStepIn(_In):
    name: str = Field(min_length=1, max_length=100)
    work_center: str = Field(min_length=1, max_length=32, description="work center code")
    setup_minutes: Decimal = Field(default=Decimal(0), ge=0, le=100_000, decimal_places=3)
    minutes_per_unit: Decimal = Field(default=Decimal(0), ge=0, le=100_000, decimal_places=3)


class RoutingIn(_In):
    steps: list[RoutingStepIn] = Field(min_length=1, max_length=50)


class RoutingStepRead(BaseModel):
    seq: int
    name: str
    work_center: str
    setup_minutes: Decimal
    minutes_per_unit: Decimal


class RoutingRead(BaseModel):
    sku: str
    default: bool = Field(description="True when the SKU has no routing of its own and gets "
                                      "the default Assembly step")
    steps: list[RoutingStepRead]


class WorkOrderCreate(_In):
    order_no: str = Field(min_length=1, max_length=64)
    line_no: int = Field(ge=1, description="the order line to produce")
    qty: Decimal | None = Field(default=None, decimal_places=3,
                                description="default: the line's quantity")


class StepComplete(_In):
    note: str | None = Field(default=None, max_length=2000)


class QcIn(_In):
    result: Literal["pass", "fail"]
    note: str | None = Field(default=None, max_length=2000)


class StepRead(BaseModel):
    seq: int
    name: str
    kind: Literal["routing", "rework"]
    work_center: str
    planned_minutes: Decimal
    planned_start: datetime
    planned_finish: datetime
    actual_start: datetime | None
    actual_finish: datetime | None
    done_by: str | None
    note: str | None


class ComponentRead(BaseModel):
    sku: str
    qty: Decimal
    available: Decimal | None = Field(description="free stock of the SKU over all warehouses "
                                                  "(None when inventory does not track it)")
    enough: bool | None
    consumed_at: datetime | None


class QcRead(BaseModel):
    result: Literal["pass", "fail"]
    note: str | None
    by: str
    at: datetime


class ScheduleRead(BaseModel):
    planned_start: datetime
    planned_finish: datetime
    actual_start: datetime | None
    actual_finish: datetime | None
    late: list[Literal["not_started", "not_finished"]] = Field(
        description="what is behind plan now")


class WorkOrderRead(BaseModel):
    id: int
    number: str
    order_no: str
    order_line_id: int
    sku: str
    qty: Decimal
    status: WorkOrderStatus
    planned_start: datetime
    planned_finish: datetime
    actual_start: datetime | None
    actual_finish: datetime | None
    late: bool
    rework_count: int
    created_by: str
    created_at: datetime


class WorkOrderDetail(WorkOrderRead):
    steps: list[StepRead]
    components: list[ComponentRead]
    schedule: ScheduleRead
    qc: list[QcRead]


class WorkOrderPage(BaseModel):
    items: list[WorkOrderRead]
    next_cursor: str | None = None


class PlanRead(BaseModel):
    order_no: str
    work_orders: list[WorkOrderRead]
