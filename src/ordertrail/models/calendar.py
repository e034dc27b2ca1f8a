"""Business calendars (custom company calendars) and SLA policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ordertrail.models.base import Base, id_column


class BusinessCalendarRow(Base):
    """A company calendar: weekly hours in a time zone, optionally on top of a built-in's
    holidays (``base``), plus its own shutdowns and extra workdays."""

    __tablename__ = "business_calendars"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": ["09:00-12:00", "13:00-18:00"], ..., "makeup": [...]} (days absent are off)
    hours: Mapped[dict[str, Any]]
    base: Mapped[str | None] = mapped_column(String(32))
    # ISO dates or ranges "2026-12-24..2026-12-31"
    holidays: Mapped[list[str]]
    workdays: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlaPolicy(Base):
    """An override of stage SLA targets for orders matching a condition (e.g. VIP halves)."""

    __tablename__ = "sla_policies"
    __table_args__ = (Index("ix_sla_policies_flow", "flow_id", "position"),)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    flow_id: Mapped[str | None] = mapped_column(String(64))  # None: every flow
    stage: Mapped[str | None] = mapped_column(String(64))  # None: every stage
    condition: Mapped[str | None] = mapped_column(Text)  # None: every order
    factor: Mapped[float | None] = mapped_column(Float)
    target: Mapped[str | None] = mapped_column(String(64))
    calendar_id: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
