"""API shapes of calendars and SLA policies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CalendarIn(BaseModel):
    """A custom calendar. ``hours``: ``{"mon": ["09:00-12:00", "13:00-18:00"], ...}``; days left
    out are not worked; ``makeup`` gives the hours of make-up workdays (default: Monday's)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    hours: dict[str, Any]
    base: str | None = Field(default=None, description="built-in whose holidays and make-up "
                                                       "workdays this calendar inherits: cn")
    holidays: list[Any] = Field(default_factory=list, description="extra days off: dates or "
                                                                  "ranges 2026-12-24..2026-12-31")
    workdays: list[Any] = Field(default_factory=list, description="extra working dates")


class CalendarRead(BaseModel):
    id: str
    name: str
    timezone: str
    builtin: bool
    base: str | None = None
    hours: dict[str, list[str]]
    holidays: list[str]
    workdays: list[str]
    day_seconds: float
    source: str | None = None


class CalendarList(BaseModel):
    calendars: list[CalendarRead]


class DueRead(BaseModel):
    calendar: str
    start: datetime
    duration: str
    business_seconds: float
    due_at: datetime
    due_local: datetime


class DayRead(BaseModel):
    date: date
    kind: str  # working, off, holiday, makeup
    hours: list[str]
    seconds: int


class DaysRead(BaseModel):
    calendar: str
    timezone: str
    days: list[DayRead]


class PolicyIn(BaseModel):
    """An SLA policy: for orders matching ``when``, multiply stage targets by ``factor`` or
    replace them by ``target``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    when: str | None = Field(default=None, max_length=2000,
                             description='condition over order facts, e.g. "vip" in tags')
    factor: float | None = None
    target: str | None = Field(default=None, max_length=64)
    flow: str | None = Field(default=None, max_length=64)
    stage: str | None = Field(default=None, max_length=64)
    calendar: str | None = Field(default=None, max_length=32)
    position: int = Field(default=100, ge=0, le=1_000_000)
    enabled: bool = True


class PolicyRead(BaseModel):
    id: int
    name: str
    when: str | None
    factor: float | None
    target: str | None
    flow: str | None
    stage: str | None
    calendar: str | None
    position: int
    enabled: bool
    created_at: datetime


class PolicyList(BaseModel):
    policies: list[PolicyRead]
