"""HTTP API: business calendars (due times, days) and SLA policies."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from ordertrail.api.deps import Reader, Writer, reader, writer
from ordertrail.calendar import service
from ordertrail.calendar.business import NoWorkingTime
from ordertrail.calendar.durations import parse_duration
from ordertrail.calendar.schemas import (
    CalendarIn,
    CalendarList,
    CalendarRead,
    DayRead,
    DaysRead,
    DueRead,
    PolicyIn,
    PolicyList,
    PolicyRead,
)
from ordertrail.context import Ctx
from ordertrail.errors import Invalid
from ordertrail.sla import policy as policies

router = APIRouter(prefix="/api/v1", tags=["calendars"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this (writes need manager or admin)"},
    404: {"description": "Unknown calendar or policy"},
    409: {"description": "Built-in calendars are read-only; calendar in use"},
    422: {"description": "Invalid calendar, policy, time or duration (the reason is given)"},
}
CalendarId = Annotated[str, Path(max_length=64)]
MAX_DAYS = 366


class _Done(BaseModel):
    deleted: bool = True


@router.get("/calendars", response_model=CalendarList, responses=PROBLEMS)
async def list_calendars(r: Reader = Depends(reader)) -> Response:
    """Built-in and company calendars."""
    return await r.run(lambda ctx: CalendarList(calendars=service.list_calendars(ctx.session)))


@router.get("/calendars/{calendar_id}", response_model=CalendarRead, responses=PROBLEMS)
async def get_calendar(calendar_id: CalendarId, r: Reader = Depends(reader)) -> Response:
    """One calendar: zone, weekly hours, extra days off and workdays."""
    return await r.run(lambda ctx: service.read_calendar(ctx.session, calendar_id))


@router.put("/calendars/{calendar_id}", response_model=CalendarRead, responses=PROBLEMS)
async def put_calendar(calendar_id: CalendarId, body: CalendarIn,
                       w: Writer = Depends(writer)) -> Response:
    """Create or replace a company calendar (managers and admins)."""
    return await w.arun(lambda ctx: service.put_calendar(ctx, calendar_id, body))


@router.delete("/calendars/{calendar_id}", responses=PROBLEMS)
async def delete_calendar(calendar_id: CalendarId, w: Writer = Depends(writer)) -> Response:
    """Remove a company calendar that no SLA policy uses."""

    def run(ctx: Ctx) -> _Done:
        service.delete_calendar(ctx, calendar_id)
        return _Done()

    return await w.arun(run)


@router.get("/calendars/{calendar_id}/due", response_model=DueRead, responses=PROBLEMS)
async def due(calendar_id: CalendarId, start: Annotated[str, Query(max_length=64)],
              duration: Annotated[str, Query(max_length=64)],
              r: Reader = Depends(reader)) -> Response:
    """When ``duration`` of working time after ``start`` runs out in this calendar."""

    def run(ctx: Ctx) -> DueRead:
        return due_read(ctx, calendar_id, start, duration)

    return await r.run(run)


def due_read(ctx: Ctx, calendar_id: str, start: str, duration: str) -> DueRead:
    """The due time of a duration from a start, in a calendar (API and CLI)."""
    at = service.parse_time(start)
    try:
        parsed = parse_duration(duration)
    except ValueError as exc:
        raise Invalid(f"duration: {exc}") from None
    cal = service.get_calendar(ctx.session, calendar_id)
    seconds = parsed.seconds_in(cal)
    try:
        due_at = cal.add(at, seconds)
    except (OverflowError, NoWorkingTime) as exc:
        raise Invalid(f"duration: no due time before the year 9999 ({exc})") from None
    return DueRead(calendar=cal.id, start=at, duration=parsed.text, business_seconds=seconds,
                   due_at=due_at, due_local=due_at.astimezone(cal.tz))


@router.get("/calendars/{calendar_id}/days", response_model=DaysRead, responses=PROBLEMS)
async def days(calendar_id: CalendarId,
               first: Annotated[date | None, Query(alias="from")] = None,
               last: Annotated[date | None, Query(alias="to")] = None,
               r: Reader = Depends(reader)) -> Response:
    """Each day from ``from`` to ``to`` (at most 366): working, off, holiday or makeup."""

    def run(ctx: Ctx) -> DaysRead:
        return days_read(ctx, calendar_id, first, last)

    return await r.run(run)


def days_read(ctx: Ctx, calendar_id: str, first: date | None, last: date | None) -> DaysRead:
    """The kinds and hours of days in a calendar; default: the next 31 days."""
    cal = service.get_calendar(ctx.session, calendar_id)
    first = first or ctx.clock.now().astimezone(cal.tz).date()
    last = last or first + timedelta(days=30)
    if last < first:
        raise Invalid("to: is before from")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"to: at most {MAX_DAYS} days at once")
    try:
        found = cal.days(first, last)
    except OverflowError:
        raise Invalid("to: dates must be before the year 9999") from None
    out = [DayRead(date=d, kind=kind, hours=service.format_hours(hours),
                   seconds=sum(e - s for s, e in hours)) for d, kind, hours in found]
    return DaysRead(calendar=cal.id, timezone=str(cal.tz.key), days=out)


@router.get("/sla-policies", response_model=PolicyList, responses=PROBLEMS)
async def list_policies(r: Reader = Depends(reader)) -> Response:
    """SLA policies in the order they are tried (within the same specificity)."""
    return await r.run(lambda ctx: PolicyList(policies=policies.list_policies(ctx.session)))


@router.post("/sla-policies", status_code=201, response_model=PolicyRead, responses=PROBLEMS)
async def create_policy(body: PolicyIn, w: Writer = Depends(writer)) -> Response:
    """Add an SLA policy, e.g. ``{"name": "VIP", "when": "\\"vip\\" in tags", "factor": 0.5}``."""
    return await w.arun(lambda ctx: policies.create_policy(ctx, body), status_code=201)


@router.delete("/sla-policies/{policy_id}", responses=PROBLEMS)
async def delete_policy(policy_id: Annotated[int, Path(ge=1)],
                        w: Writer = Depends(writer)) -> Response:
    """Remove an SLA policy."""

    def run(ctx: Ctx) -> _Done:
        policies.delete_policy(ctx, policy_id)
        return _Done()

    return await w.arun(run)
