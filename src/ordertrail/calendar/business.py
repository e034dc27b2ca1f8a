"""Business time, pure: working hours per weekday in a time zone, holidays and make-up workdays.

Rules (also in docs/calendars.md):
- Working intervals are half-open, ``[start, end)`` in local wall time; 12:00 with a 09:00–12:00
  interval is not working time. Business seconds are real elapsed seconds inside intervals, so a
  daylight-saving change inside working hours makes that day an hour shorter or longer.
- ``add`` from a moment outside working hours starts at the next working moment; the result is
  where the time runs out, so it may be the end of an interval (09:00 + 3h = 12:00, not 13:00).
- ``elapsed(start, end)`` is negative when ``end`` is before ``start``.
- A date in ``workdays`` (a make-up workday, 调休) is worked with ``makeup_hours`` (by default
  the first weekday that has hours, normally Monday) even on a weekend; a date in ``holidays``
  is not worked at all. Explicit ``workdays``/``holidays`` win over those from ``source``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[int, int]  # seconds after local midnight, end may be 86400
DayHours = tuple[Interval, ...]
# A year's (holidays, make-up workdays) from a maintained source, e.g. python-holidays.
YearSource = Callable[[int], tuple[frozenset[date], frozenset[date]]]

MAX_DAYS = 366 * 100  # a calculation that finds no working time for 100 years stops
_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_CACHE_MAX = 50_000


class NoWorkingTime(ValueError):
    """The calendar has no working time in the span searched."""


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


@dataclass(frozen=True)
class WorkCalendar:
    """A business calendar: ``add`` and ``elapsed`` count only working time."""

    id: str
    name: str
    tz: ZoneInfo
    hours: tuple[DayHours, ...] = ((),) * 7  # 0=Monday .. 6=Sunday
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    always: bool = False
    makeup_hours: DayHours | None = None
    source: YearSource | None = field(default=None, compare=False)
    base: str | None = None
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False)

    # -- the shape of a day ------------------------------------------------------------------

    @property
    def day_seconds(self) -> float:
        """The length of a working day: 24 h for 24x7, else the most common day's hours."""
        if self.always:
            return 86400.0
        lengths = [sum(e - s for s, e in day) for day in self.hours]
        worked = [n for n in lengths if n > 0]
        if not worked:
            return 0.0
        return float(max(worked, key=lambda n: (worked.count(n), n)))

    @property
    def week_seconds(self) -> int:
        return sum(e - s for day in self.hours for s, e in day)

    def _special(self, d: date) -> bool:
        if d in self.holidays or d in self.workdays:
            return True
        if self.source is not None:
            hol, work = self.source(d.year)
            return d in hol or d in work
        return False

    def day_kind(self, d: date) -> str:
        """working, off (a normal day without hours), holiday, or makeup."""
        if d in self.workdays:
            return "makeup" if not self.hours[d.weekday()] else "working"
        if d in self.holidays:
            return "holiday"
        if self.source is not None:
            hol, work = self.source(d.year)
            if d in work:
                return "makeup" if not self.hours[d.weekday()] else "working"
            if d in hol:
                return "holiday"
        if self.always:
            return "working"
        return "working" if self.hours[d.weekday()] else "off"

    def local_hours(self, d: date) -> DayHours:
        """The working intervals of a local date, in seconds after midnight."""
        if self.always:
            return ((0, 86400),)
        kind = self.day_kind(d)
        if kind in ("holiday", "off"):
            return ()
        if kind == "makeup":
            return self._makeup()
        return self.hours[d.weekday()]

    def _makeup(self) -> DayHours:
        if self.makeup_hours is not None:
            return self.makeup_hours
        return next((day for day in self.hours if day), ())

    def day(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of a local date, as UTC datetimes."""
        cached = self._days.get(d)
        if cached is not None:
            return cached
        midnight = datetime(d.year, d.month, d.day)
        out = []
        for s, e in self.local_hours(d):
            start = (midnight + timedelta(seconds=s)).replace(tzinfo=self.tz).astimezone(UTC)
            end = (midnight + timedelta(seconds=e)).replace(tzinfo=self.tz).astimezone(UTC)
            if end > start:
                out.append((start, end))
        result = tuple(out)
        if len(self._days) > _CACHE_MAX:
            self._days.clear()
        self._days[d] = result
        return result

    def _clean_week(self, d: date) -> bool:
        """A week from ``d`` that is exactly the normal week: no special date, no offset change."""
        if any(self._special(d + timedelta(days=i)) for i in range(7)):
            return False
        a = datetime(d.year, d.month, d.day, tzinfo=self.tz).utcoffset()
        e = d + timedelta(days=7)
        return a == datetime(e.year, e.month, e.day, tzinfo=self.tz).utcoffset()

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    # -- the public calculations -------------------------------------------------------------

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` is inside working hours."""
        at = _aware(at)
        if self.always:
            return True
        d = self._local_date(at)
        for day in (d - _DAY, d):  # an interval may end after local midnight
            for start, end in self.day(day):
                if start <= at < end:
                    return True
        return False

    def next_working(self, at: datetime) -> datetime:
        """``at`` itself if working, else the start of the next working interval (UTC)."""
        return self.add(at, 0)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after ``start`` (UTC; negative not allowed)."""
        start = _aware(start).astimezone(UTC)
        if seconds < 0:
            raise ValueError("add needs a duration of zero or more seconds")
        if self.always:
            return start + timedelta(microseconds=_us(seconds))
        remaining = timedelta(microseconds=_us(seconds))
        d = self._local_date(start) - _DAY
        week = timedelta(seconds=self.week_seconds)
        for _ in range(MAX_DAYS):
            for iv_start, iv_end in self.day(d):
                if iv_end <= start:
                    continue
                seg = max(start, iv_start)
                avail = iv_end - seg
                if remaining <= avail:
                    return seg + remaining
                remaining -= avail
                start = iv_end
            d += _DAY
            # Whole normal weeks at once, once past the start.
            while (week and remaining > week and start <= _midnight_utc(d, self.tz)
                   and self._clean_week(d)):
                remaining -= week
                d += timedelta(days=7)
                start = _midnight_utc(d, self.tz)
        raise NoWorkingTime(f"calendar {self.id!r} has no working time within 100 years")

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Working seconds between two moments; negative if ``end`` is before ``start``."""
        start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        if end < start:
            return -self.elapsed(end, start)
        if self.always:
            return (end - start) / _US / 1_000_000
        total = timedelta(0)
        d = self._local_date(start) - _DAY
        last = self._local_date(end)
        week = timedelta(seconds=self.week_seconds)
        while d <= last:
            for iv_start, iv_end in self.day(d):
                lo, hi = max(iv_start, start), min(iv_end, end)
                if hi > lo:
                    total += hi - lo
            d += _DAY
            while (d + timedelta(days=7) <= last and _midnight_utc(d, self.tz) >= start
                   and self._clean_week(d)):
                total += week
                d += timedelta(days=7)
        return (total // _US) / 1_000_000

    def days(self, first: date, last: date) -> list[tuple[date, str, DayHours]]:
        """Each local date from ``first`` to ``last`` with its kind and working intervals."""
        count = (last - first).days + 1
        return [(d, self.day_kind(d), self.local_hours(d))
                for d in (first + timedelta(days=i) for i in range(count))]


def _midnight_utc(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a time needs its UTC offset, e.g. 2026-09-30T17:00:00+08:00")
    return at


def always_calendar(calendar_id: str = "24x7", name: str = "24x7 (always working)",
                    ) -> WorkCalendar:
    """A calendar in which every second counts, in UTC."""
    return WorkCalendar(id=calendar_id, name=name, tz=ZoneInfo("UTC"),
                        hours=(((0, 86400),),) * 7, always=True)

