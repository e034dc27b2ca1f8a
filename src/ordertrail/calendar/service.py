"""Calendars: built-ins plus company calendars stored in the database; cached briefly."""

from __future__ import annotations

import itertools
import re
import threading
import time as _time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.calendar.builtin import BUILTINS, CN_SOURCE
from ordertrail.calendar.business import DayHours, WorkCalendar
from ordertrail.calendar.schemas import CalendarIn, CalendarRead
from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.jobs.outbox import emit
from ordertrail.models.calendar import BusinessCalendarRow, SlaPolicy

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LONG_DAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
              "friday": "fri", "saturday": "sat", "sunday": "sun"}
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
MAX_RANGE_DAYS = 366
MAX_DATE_ENTRIES = 2000
CACHE_SECONDS = 5.0
WRITE_ROLES = ("manager",)

_cache: dict[str, tuple[float, WorkCalendar]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget cached calendars (tests; every write does it for its own id)."""
    with _lock:
        _cache.clear()


def require_manager(ctx: Ctx) -> None:
    """Calendars and SLA policies are changed by managers, admins or the system."""
    roles = ctx.actor.roles
    if ctx.actor.is_admin or "system" in roles or any(r in roles for r in WRITE_ROLES):
        return
    raise Forbidden(f"changing calendars and SLA policies needs the manager or admin role; "
                    f"you have {', '.join(sorted(roles)) or 'none'}", code="role_not_allowed")


# -- parsing and validation (pure) --------------------------------------------------------


def _seconds_of(text: str, field: str) -> int:
    m = _TIME_RE.match(text.strip())
    if not m:
        raise Invalid(f"{field}: bad time {text!r}: use HH:MM, e.g. 09:00")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if mi > 59 or s > 59 or h > 24 or (h == 24 and (mi or s)):
        raise Invalid(f"{field}: bad time {text!r}: hours 00–24, minutes and seconds 00–59")
    return h * 3600 + mi * 60 + s


def _fmt(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if s else f"{h:02d}:{m:02d}"


def format_hours(day: DayHours) -> list[str]:
    return [f"{_fmt(s)}-{_fmt(e)}" for s, e in day]


def parse_day(value: Any, field: str) -> DayHours:
    """``["09:00-12:00", "13:00-18:00"]`` (or ``[["09:00", "12:00"], ...]``) as intervals."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [p for p in re.split(r"[,\s]+", value) if p]
    if not isinstance(value, list | tuple):
        raise Invalid(f"{field}: use a list of intervals like \"09:00-12:00\"")
    out: list[tuple[int, int]] = []
    for item in value:
        if isinstance(item, str) and "-" in item:
            start_text, _, end_text = item.partition("-")
        elif isinstance(item, list | tuple) and len(item) == 2:
            start_text, end_text = str(item[0]), str(item[1])
        else:
            raise Invalid(f"{field}: bad interval {item!r}: write \"09:00-12:00\"")
        start, end = _seconds_of(start_text, field), _seconds_of(end_text, field)
        if end <= start:
            raise Invalid(f"{field}: interval {item!r} ends before it starts")
        out.append((start, end))
    out.sort()
    for (_, e1), (s2, e2) in itertools.pairwise(out):
        if s2 < e1:
            raise Invalid(f"{field}: intervals {_fmt(s2)}-{_fmt(e2)} and the one before it "
                          "overlap")
    return tuple(out)


def parse_hours(hours: Any) -> tuple[tuple[DayHours, ...], DayHours | None]:
    """The weekly hours (Monday first) and the make-up workday hours from the API shape."""
    if not isinstance(hours, dict):
        raise Invalid("hours: use a mapping of weekdays (mon..sun) to intervals")
    week: dict[str, DayHours] = {}
    makeup = None
    for key, value in hours.items():
        name = _LONG_DAYS.get(str(key).lower(), str(key).lower())
        if name == "makeup":
            makeup = parse_day(value, "hours.makeup") or None
        elif name in DAY_KEYS:
            week[name] = parse_day(value, f"hours.{name}")
        else:
            raise Invalid(f"hours: unknown day {key!r}: use mon, tue, wed, thu, fri, sat, sun "
                          "or makeup")
    return tuple(week.get(k, ()) for k in DAY_KEYS), makeup


def _date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"{field}: bad date {text!r}: use YYYY-MM-DD") from None


def parse_dates(values: Iterable[Any], field: str) -> tuple[frozenset[date], list[str]]:
    """Dates and ranges (``2026-12-24..2026-12-31``) as a set, and their normalized text."""
    days: set[date] = set()
    texts: list[str] = []
    values = list(values)
    if len(values) > MAX_DATE_ENTRIES:
        raise Invalid(f"{field}: at most {MAX_DATE_ENTRIES} entries")
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            value = value.isoformat()
        if not isinstance(value, str):
            raise Invalid(f"{field}: bad entry {value!r}: use YYYY-MM-DD or a range "
                          "YYYY-MM-DD..YYYY-MM-DD")
        first_text, sep, last_text = value.partition("..")
        first = _date(first_text, field)
        last = _date(last_text, field) if sep else first
        if last < first:
            raise Invalid(f"{field}: range {value!r} ends before it starts")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise Invalid(f"{field}: range {value!r} is longer than {MAX_RANGE_DAYS} days")
        d = first
        while d <= last:
            days.add(d)
            d += timedelta(days=1)
        texts.append(f"{first}..{last}" if sep and last != first else first.isoformat())
    return frozenset(days), texts


def build_calendar(calendar_id: str, data: CalendarIn) -> tuple[WorkCalendar, dict[str, Any]]:
    """Validate a calendar; the WorkCalendar and the normalized values to store."""
    if not ID_RE.match(calendar_id):
        raise Invalid(f"id: bad calendar id {calendar_id!r}: 1–32 lower-case letters, digits, "
                      "_ or -, starting with a letter or digit")
    try:
        tz = ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"timezone: unknown time zone {data.timezone!r}: use an IANA name such "
                      "as Asia/Shanghai or Europe/Berlin") from None
    week, makeup = parse_hours(data.hours)
    if not any(week):
        raise Invalid("hours: the calendar has no working time in the week")
    base_cal = None
    if data.base is not None:
        base_cal = BUILTINS.get(data.base)
        if base_cal is None or base_cal.source is None:
            known = ", ".join(k for k, c in BUILTINS.items() if c.source is not None)
            raise Invalid(f"base: {data.base!r} is not a built-in calendar with holidays "
                          f"(use {known})")
    holidays, holiday_texts = parse_dates(data.holidays, "holidays")
    workdays, workday_texts = parse_dates(data.workdays, "workdays")
    both = holidays & workdays
    if both:
        raise Invalid(f"workdays: {min(both)} is also listed as a holiday")
    cal = WorkCalendar(id=calendar_id, name=data.name, tz=tz, hours=week, holidays=holidays,
                       workdays=workdays, makeup_hours=makeup,
                       source=base_cal.source if base_cal else None, base=data.base)
    hours_json: dict[str, Any] = {k: format_hours(d) for k, d in zip(DAY_KEYS, week,
                                                                      strict=True) if d}
    if makeup:
        hours_json["makeup"] = format_hours(makeup)
    values = {"name": data.name, "timezone": data.timezone, "hours": hours_json,
              "base": data.base, "holidays": holiday_texts, "workdays": workday_texts}
    return cal, values


def _from_row(row: BusinessCalendarRow) -> WorkCalendar:
    data = CalendarIn(name=row.name, timezone=row.timezone, hours=row.hours, base=row.base,
                      holidays=list(row.holidays), workdays=list(row.workdays))
    return build_calendar(row.id, data)[0]


# -- reading --------------------------------------------------------------------------------


def get_calendar(session: Session, calendar_id: str) -> WorkCalendar:
    """A calendar by id (built-in or stored); NotFound for an unknown id."""
    builtin = BUILTINS.get(calendar_id)
    if builtin is not None:
        return builtin
    hit = _cache.get(calendar_id)
    now = _time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    if not ID_RE.match(calendar_id or ""):
        raise Invalid(f"bad calendar id {calendar_id!r}: lower-case letters, digits, _ or -")
    row = session.get(BusinessCalendarRow, calendar_id)
    if row is None:
        known = ", ".join(sorted({*BUILTINS, *_stored_ids(session)}))
        raise NotFound(f"no calendar {calendar_id!r} (known: {known})", code="unknown_calendar")
    cal = _from_row(row)
    with _lock:
        _cache[calendar_id] = (now + CACHE_SECONDS, cal)
    return cal


def _stored_ids(session: Session) -> list[str]:
    return list(session.scalars(select(BusinessCalendarRow.id).limit(50)))


def calendar_read(cal: WorkCalendar, row: BusinessCalendarRow | None = None) -> CalendarRead:
    hours = {k: format_hours(d) for k, d in zip(DAY_KEYS, cal.hours, strict=True) if d}
    if cal.makeup_hours:
        hours["makeup"] = format_hours(cal.makeup_hours)
    builtin = row is None
    return CalendarRead(
        id=cal.id, name=cal.name, timezone=str(cal.tz.key), builtin=builtin, base=cal.base,
        hours={} if cal.always else hours,
        holidays=list(row.holidays) if row else [], workdays=list(row.workdays) if row else [],
        day_seconds=cal.day_seconds,
        source=CN_SOURCE if (builtin and cal.source is not None) or cal.base else None)


def read_calendar(session: Session, calendar_id: str) -> CalendarRead:
    cal = get_calendar(session, calendar_id)
    row = None if calendar_id in BUILTINS else session.get(BusinessCalendarRow, calendar_id)
    return calendar_read(cal, row)


def list_calendars(session: Session) -> list[CalendarRead]:
    """Built-ins first, then stored calendars by id."""
    out = [calendar_read(cal) for cal in BUILTINS.values()]
    rows = session.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id))
    out.extend(calendar_read(_from_row(row), row) for row in rows)
    return out


# -- writing --------------------------------------------------------------------------------


def put_calendar(ctx: Ctx, calendar_id: str, data: CalendarIn) -> CalendarRead:
    """Create or replace a company calendar (built-ins are read-only)."""
    require_manager(ctx)
    if calendar_id in BUILTINS:
        raise Conflict(f"calendar {calendar_id!r} is built in and read-only; store your own "
                       "under another id (it can inherit holidays with base: cn)",
                       code="builtin_calendar")
    cal, values = build_calendar(calendar_id, data)
    now = ctx.clock.now()
    row = ctx.session.get(BusinessCalendarRow, calendar_id)
    created = row is None
    if row is None:
        row = BusinessCalendarRow(id=calendar_id, created_at=now, updated_at=now, **values)
        ctx.session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
    ctx.session.flush()
    emit(ctx.session, "calendar.updated", "calendar", calendar_id,
         {"calendar": calendar_id, "created": created, "actor": ctx.actor.name,
          "at": now.isoformat()}, now)
    _forget(calendar_id)
    return calendar_read(cal, row)


def delete_calendar(ctx: Ctx, calendar_id: str) -> None:
    """Remove a company calendar that no SLA policy uses."""
    require_manager(ctx)
    if calendar_id in BUILTINS:
        raise Conflict(f"calendar {calendar_id!r} is built in and cannot be removed",
                       code="builtin_calendar")
    row = ctx.session.get(BusinessCalendarRow, calendar_id)
    if row is None:
        raise NotFound(f"no calendar {calendar_id!r}", code="unknown_calendar")
    used = ctx.session.scalars(select(SlaPolicy.name).where(
        SlaPolicy.calendar_id == calendar_id).limit(1)).first()
    if used is not None:
        raise Conflict(f"calendar {calendar_id!r} is used by SLA policy {used!r}; remove or "
                       "change that policy first", code="calendar_in_use")
    ctx.session.delete(row)
    ctx.session.flush()
    now = ctx.clock.now()
    emit(ctx.session, "calendar.deleted", "calendar", calendar_id,
         {"calendar": calendar_id, "actor": ctx.actor.name, "at": now.isoformat()}, now)
    _forget(calendar_id)


def _forget(calendar_id: str) -> None:
    with _lock:
        _cache.pop(calendar_id, None)


# -- questions ------------------------------------------------------------------------------


def parse_time(text: str, field: str = "start") -> datetime:
    """An ISO 8601 time with its offset (``Z`` allowed)."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(f"{field}: bad time {text!r}: use ISO 8601 with an offset, e.g. "
                      "2026-09-30T17:00:00+08:00") from None
    if at.tzinfo is None:
        raise Invalid(f"{field}: {text!r} has no UTC offset: add one, e.g. +08:00 or Z")
    return at
