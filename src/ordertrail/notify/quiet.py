"""Quiet hours: when a message may go out. Deferred, never dropped."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ordertrail.errors import Invalid, NotFound

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[time, time]:
    """``"21:00-08:00"`` → (21:00, 08:00); the window may wrap past midnight."""
    m = _WINDOW.match(text)
    if not m or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59:
        raise ValueError(f"quiet hours {text!r}: write HH:MM-HH:MM, e.g. 21:00-08:00")
    return time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))


def window_end(now: datetime, window: str | None, tz: str) -> datetime:
    """``now`` if outside the quiet window, else the moment the window ends (UTC)."""
    if not window:
        return now
    start, end = parse_window(window)
    if start == end:
        return now
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return now
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


def get_calendar(session: Session, calendar_id: str) -> Any:
    """The working calendar of that id (the calendar service; built-ins as a fallback)."""
    try:
        from ordertrail.calendar.service import get_calendar as service_get
    except ImportError:
        service_get = None
    if service_get is not None:
        return service_get(session, calendar_id)
    from ordertrail.calendar.builtin import get_builtin

    cal = get_builtin(calendar_id)
    if cal is None:
        raise NotFound(f"unknown calendar {calendar_id!r}", code="unknown_calendar")
    return cal


def check_calendar(session: Session, calendar_id: str) -> None:
    """Refuse an unknown quiet-hours calendar with the reason."""
    try:
        get_calendar(session, calendar_id)
    except NotFound as exc:
        raise Invalid(f"quiet_calendar: {exc.detail('en')}", code="unknown_calendar") from None


def next_allowed(session: Session, calendar_id: str | None, now: datetime) -> datetime:
    """When a staff message may go out: now in working time, else the next working moment."""
    if not calendar_id:
        return now
    cal = get_calendar(session, calendar_id)
    return max(now, cal.next_working(now))
