"""Flow API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ordertrail.order.schemas import Label


class FlowSourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=200_000, description="The flow as YAML text.")


class FlowProblem(BaseModel):
    line: int | None
    stage: str | None
    message: str


class FlowValidation(BaseModel):
    valid: bool
    problems: list[FlowProblem]


class FlowSummary(BaseModel):
    id: str
    version: int
    name: Label
    stages: int
    created_at: datetime


class FlowRead(FlowSummary):
    versions: list[int]
    definition: dict[str, Any]
    source: str


class FlowList(BaseModel):
    items: list[FlowSummary]
