"""Alert and deadline API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ordertrail.order.schemas import Strict


class AlertRead(BaseModel):
    id: int
    kind: str
    cause: str
    severity: str
    state: str
    level: int
    order_no: str | None
    shipment_id: int | None
    stage: str | None
    responsible_role: str | None
    responsible_user: str | None
    assignee: str | None
    title: dict[str, str]
    detail: dict[str, str]
    data: dict[str, Any]
    due_at: datetime | None
    opened_at: datetime
    escalate_at: datetime | None
    last_escalated_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


class AlertPage(BaseModel):
    items: list[AlertRead]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page")


class AlertNote(Strict):
    note: str | None = Field(default=None, max_length=2000)


class AlertAssign(Strict):
    user: str = Field(min_length=1, max_length=64, description="user name of the assignee")


class DeadlineRead(BaseModel):
    stage: str
    entered_at: datetime
    exited_at: datetime | None
    responsible_role: str | None
    calendar: str | None
    target_seconds: int | None
    warn_at: datetime | None
    due_at: datetime | None
    remaining_seconds: int | None = Field(description="business seconds left while on hold")
    held_seconds: int
    outcome: str | None = Field(description="met or breached, once the stage is left")
    variance_seconds: int | None = Field(description="business seconds late (< 0: early)")


class OrderDeadlines(BaseModel):
    order_no: str
    promised_at: datetime | None
    late_risk_at: datetime | None
    visits: list[DeadlineRead]
