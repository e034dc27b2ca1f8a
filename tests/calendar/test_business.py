"""Business time: real China dates (holidays, 调休, lunch), DST elsewhere, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ordertrail.calendar.builtin import BUILTINS, CN
from ordertrail.calendar.business import WorkCalendar, always_calendar

SH = timezone(timedelta(hours=8))
H = 3600
BERLIN = WorkCalendar(id="berlin", name="Berlin office", tz=ZoneInfo("Europe/Berlin"),
                      hours=(((0, 4 * H), (8 * H, 17 * H)),) * 5 + ((), ()))
ALWAYS = always_calendar()


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


# -- China: real dates -----------------------------------------------------------------------


def test_china_holidays_and_make_up_workdays_of_2026() -> None:
    assert CN.day_kind(date(2026, 2, 14)) == "makeup"  # Saturday worked before Spring Festival
    assert CN.day_kind(date(2026, 1, 4)) == "makeup"  # Sunday worked after New Year
    assert CN.day_kind(date(2026, 2, 28)) == "makeup"
    assert CN.day_kind(date(2026, 10, 10)) == "makeup"
    for day in (1, 2, 3, 5, 6, 7):
        assert CN.day_kind(date(2026, 10, day)) == "holiday", day
    assert all(CN.local_hours(date(2026, 10, day)) == () for day in range(1, 8))
    assert CN.local_hours(date(2026, 10, 8)) != ()
    for day in range(16, 21):
        assert CN.day_kind(date(2026, 2, day)) == "holiday", day
    assert CN.day_kind(date(2026, 2, 23)) == "holiday"  # Monday off, worked on 2-28
    assert CN.day_kind(date(2026, 11, 21)) == "off"  # a plain Saturday
    assert CN.day_kind(date(2026, 11, 20)) == "working"
    assert CN.local_hours(date(2026, 2, 14)) == ((9 * H, 12 * H), (13 * H, 18 * H))


def test_due_across_national_day_week() -> None:
    # One hour left on 30 September, then 1–7 October off; due Thursday 8 October 10:00.
    due = CN.add(sh(2026, 9, 30, 17, 0), 2 * H)
    assert due == sh(2026, 10, 8, 10, 0)
    assert CN.elapsed(sh(2026, 9, 30, 17, 0), due) == 2 * H


def test_due_across_spring_festival_uses_the_make_up_saturday() -> None:
    # Friday 13 Feb 17:00 + 2h: 1h on Friday, 1h on the make-up Saturday 14 February.
    assert CN.add(sh(2026, 2, 13, 17, 0), 2 * H) == sh(2026, 2, 14, 10, 0)
    # From the Saturday evening: 15 Feb is a Sunday, 16–20 and 23 are off; next is Tue 24.
    assert CN.add(sh(2026, 2, 14, 18, 0), 1 * H) == sh(2026, 2, 24, 10, 0)
    assert CN.elapsed(sh(2026, 2, 14, 0, 0), sh(2026, 2, 15, 0, 0)) == 8 * H


def test_lunch_break_and_starting_outside_hours() -> None:
    assert CN.add(sh(2026, 11, 20, 11, 0), 2 * H) == sh(2026, 11, 20, 14, 0)
    assert CN.add(sh(2026, 11, 20, 9, 0), 3 * H) == sh(2026, 11, 20, 12, 0)
    assert CN.add(sh(2026, 11, 20, 12, 30), 30 * 60) == sh(2026, 11, 20, 13, 30)
    assert not CN.is_working(sh(2026, 11, 20, 12, 0))
    assert CN.is_working(sh(2026, 11, 20, 9, 0))
    assert not CN.is_working(sh(2026, 11, 20, 18, 0))
    assert CN.next_working(sh(2026, 11, 20, 12, 15)) == sh(2026, 11, 20, 13, 0)
    # Friday evening to Monday morning (23 November is an ordinary Monday).
    assert CN.add(sh(2026, 11, 20, 19, 0), 60) == sh(2026, 11, 23, 9, 1)
    assert CN.next_working(sh(2026, 11, 21, 10, 0)) == sh(2026, 11, 23, 9, 0)
    assert CN.elapsed(sh(2026, 11, 20, 12, 0), sh(2026, 11, 20, 13, 0)) == 0
    assert CN.elapsed(sh(2026, 11, 20, 14, 0), sh(2026, 11, 20, 11, 0)) == -2 * H
    assert CN.day_seconds == 8 * H


def test_alias_and_results_in_utc() -> None:
    due = BUILTINS["cn_mainland"].add(sh(2026, 11, 20, 10, 0), 90)
    assert due.tzinfo == UTC and due == datetime(2026, 11, 20, 2, 1, 30, tzinfo=UTC)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        CN.add(datetime(2026, 11, 20, 10, 0), 60)
    with pytest.raises(ValueError):
        CN.add(sh(2026, 11, 20, 10, 0), -1)


def test_years_of_span() -> None:
    start = sh(2026, 1, 5, 9, 0)
    due = CN.add(start, 8 * H * 2500)  # about ten working years
    assert 2035 <= due.year <= 2037
    assert CN.elapsed(start, due) == 8 * H * 2500
    plain = WorkCalendar(id="p", name="p", tz=ZoneInfo("Asia/Shanghai"),
                         hours=(((9 * H, 17 * H),),) * 5 + ((), ()))
    # 520 whole weeks from a Monday morning end on a Friday evening, 519 weeks later.
    assert plain.add(sh(2026, 11, 23, 9, 0), 8 * H * 5 * 520) == sh(2036, 11, 7, 17, 0)
    assert plain.elapsed(sh(2026, 11, 23, 9, 0), sh(2036, 11, 10, 9, 0)) == 8 * H * 5 * 520


# -- daylight saving time (a non-China calendar) ---------------------------------------------


def test_dst_spring_forward_inside_working_hours() -> None:
    # Berlin moves 02:00 -> 03:00 on Sunday 29 March 2026; this calendar works Mon–Fri
    # 00:00–04:00 and 08:00–17:00 local, so the change falls on no working day...
    monday = datetime(2026, 3, 30, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert BERLIN.elapsed(monday, monday + timedelta(days=1)) == 13 * H
    # ...but a 24-hour calendar in Berlin sees the 23-hour Sunday.
    berlin_always = WorkCalendar(id="b", name="b", tz=ZoneInfo("Europe/Berlin"),
                                 hours=(((0, 24 * H),),) * 7)
    sunday = datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Berlin"))
    assert berlin_always.elapsed(sunday, datetime(2026, 3, 30, tzinfo=sunday.tzinfo)) == 23 * H
    autumn = datetime(2026, 10, 25, tzinfo=sunday.tzinfo)
    assert berlin_always.elapsed(autumn, datetime(2026, 10, 26, tzinfo=sunday.tzinfo)) == 25 * H
    # A due time after the change keeps local working hours: Friday 16:00 + 2h = Monday 01:00
    # (one hour on Friday, the next in Monday's 00:00–04:00 shift), now at +02:00.
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = BERLIN.add(friday, 2 * H)
    assert due == datetime(2026, 3, 30, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert due.utcoffset() == timedelta(0)  # results are UTC


def test_dst_night_shift_is_an_hour_short() -> None:
    night = WorkCalendar(id="n", name="n", tz=ZoneInfo("Europe/Berlin"),
                         hours=(((0, 4 * H),),) * 7)
    day = datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Berlin"))
    assert night.elapsed(day, day + timedelta(hours=12)) == 3 * H
    assert night.add(day, 3 * H) == datetime(2026, 3, 29, 4, 0, tzinfo=day.tzinfo)


def test_24x7_is_plain_time() -> None:
    start = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)
    assert ALWAYS.add(start, 90) == start + timedelta(seconds=90)
    assert ALWAYS.elapsed(start, start + timedelta(days=3)) == 3 * 86400
    assert ALWAYS.is_working(start) and ALWAYS.day_seconds == 86400


# -- properties --------------------------------------------------------------------------------

CALENDARS = st.sampled_from([CN, BERLIN, ALWAYS])
STARTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                      timezones=st.just(UTC))
SECONDS = st.floats(min_value=0, max_value=400 * 8 * H, allow_nan=False)
TOLERANCE = 3e-6  # microsecond rounding of datetimes


@settings(max_examples=150, deadline=None)
@given(cal=CALENDARS, start=STARTS, seconds=SECONDS)
def test_elapsed_undoes_add(cal: WorkCalendar, start: datetime, seconds: float) -> None:
    due = cal.add(start, seconds)
    assert due >= start
    assert abs(cal.elapsed(start, due) - seconds) <= TOLERANCE


@settings(max_examples=150, deadline=None)
@given(cal=CALENDARS, start=STARTS, a=SECONDS, b=SECONDS)
def test_add_is_monotonic(cal: WorkCalendar, start: datetime, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert cal.add(start, lo) <= cal.add(start, hi)


@settings(max_examples=150, deadline=None)
@given(cal=CALENDARS, start=STARTS, a=SECONDS, b=st.floats(min_value=1e-3, max_value=80 * H))
def test_add_composes(cal: WorkCalendar, start: datetime, a: float, b: float) -> None:
    assume(cal.is_working(start))
    once = cal.add(start, a + b)
    twice = cal.add(cal.add(start, a), b)
    assert abs((once - twice).total_seconds()) <= TOLERANCE


@settings(max_examples=100, deadline=None)
@given(start=STARTS, seconds=SECONDS)
def test_24x7_equals_timedelta(start: datetime, seconds: float) -> None:
    assert abs((ALWAYS.add(start, seconds) - start).total_seconds() - seconds) <= 1e-6


@settings(max_examples=100, deadline=None)
@given(cal=CALENDARS, start=STARTS, end=STARTS)
def test_elapsed_is_antisymmetric_and_additive(cal: WorkCalendar, start: datetime,
                                               end: datetime) -> None:
    assert cal.elapsed(start, end) == -cal.elapsed(end, start)
    mid = min(start, end) + (max(start, end) - min(start, end)) / 2
    lo, hi = min(start, end), max(start, end)
    assert abs(cal.elapsed(lo, mid) + cal.elapsed(mid, hi) - cal.elapsed(lo, hi)) <= TOLERANCE


@settings(max_examples=100, deadline=None)
@given(cal=CALENDARS, start=STARTS)
def test_next_working_is_working(cal: WorkCalendar, start: datetime) -> None:
    nxt = cal.next_working(start)
    assert nxt >= start and cal.is_working(nxt)
    assert cal.elapsed(start, nxt) == 0
