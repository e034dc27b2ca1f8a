"""The finite-capacity scheduler (pure): capacity, sequence and business calendars."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ordertrail.calendar.builtin import BUILTINS
from ordertrail.calendar.business import always_calendar
from ordertrail.production.schedule import Bookings, Center, StepNeed, place, schedule

CN = BUILTINS["cn"]
ALWAYS = always_calendar()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def step(center: str, setup: int = 0, per_unit: int = 60, name: str = "s") -> StepNeed:
    return StepNeed(name, center, Decimal(setup), Decimal(per_unit))


def test_steps_of_one_work_order_run_in_sequence():
    centers = {"CUT": Center("CUT", 1, ALWAYS), "WELD": Center("WELD", 1, ALWAYS)}
    placed = schedule([step("CUT", 30, 60), step("WELD", 0, 30)], Decimal(2),
                      utc(2026, 11, 20, 0, 0), centers, Bookings())
    assert [(p.start, p.finish) for p in placed] == [
        (utc(2026, 11, 20, 0, 0), utc(2026, 11, 20, 2, 30)),   # 30 + 2 × 60 min
        (utc(2026, 11, 20, 2, 30), utc(2026, 11, 20, 3, 30))]  # then 2 × 30 min
    assert placed[0].minutes == Decimal("150.000")


def test_capacity_one_queues_the_second_work_order_behind_the_first():
    centers = {"CUT": Center("CUT", 1, ALWAYS)}
    book = Bookings()
    t0 = utc(2026, 11, 20, 0, 0)
    first = schedule([step("CUT")], Decimal(1), t0, centers, book)
    second = schedule([step("CUT")], Decimal(1), t0, centers, book)
    assert first[0].finish == second[0].start == utc(2026, 11, 20, 1, 0)


def test_capacity_two_runs_two_at_once_and_the_third_waits():
    centers = {"CUT": Center("CUT", 2, ALWAYS)}
    book = Bookings()
    t0 = utc(2026, 11, 20, 0, 0)
    runs = [schedule([step("CUT", per_unit=60 * (i + 1))], Decimal(1), t0, centers, book)[0]
            for i in range(3)]
    assert runs[0].start == runs[1].start == t0
    # The first slot frees at 01:00 (the shorter run): the third takes it then.
    assert runs[2].start == utc(2026, 11, 20, 1, 0)
    for at in (utc(2026, 11, 20, 0, 30), utc(2026, 11, 20, 1, 30), utc(2026, 11, 20, 3, 0)):
        assert sum(1 for r in runs if r.start <= at < r.finish) <= 2


def test_a_step_fits_into_a_gap_before_a_later_booking_only_if_it_fits_whole():
    center = Center("CUT", 1, ALWAYS)
    booked = [(utc(2026, 11, 20, 2, 0), utc(2026, 11, 20, 3, 0))]
    short = place(step("CUT", per_unit=60), Decimal(1), utc(2026, 11, 20, 0, 0), center, booked)
    assert (short.start, short.finish) == (utc(2026, 11, 20, 0, 0), utc(2026, 11, 20, 1, 0))
    long = place(step("CUT", per_unit=150), Decimal(1), utc(2026, 11, 20, 0, 0), center, booked)
    assert long.start == utc(2026, 11, 20, 3, 0)  # 2.5 h do not fit before 02:00


def test_durations_count_in_the_centers_business_calendar():
    # Friday 2026-11-20 16:00 Shanghai (08:00 UTC): 4 working hours → 2 today (16-18),
    # then Monday 09-11 (the weekend and the 12-13 lunch break do not count).
    centers = {"ASM": Center("ASM", 1, CN)}
    (placed,) = schedule([step("ASM", per_unit=240)], Decimal(1), utc(2026, 11, 20, 8, 0),
                         centers, Bookings())
    assert placed.start == utc(2026, 11, 20, 8, 0)
    assert placed.finish == utc(2026, 11, 23, 3, 0)  # Monday 11:00 Shanghai


def test_a_step_ready_outside_working_hours_starts_at_the_next_working_moment():
    centers = {"ASM": Center("ASM", 1, CN)}
    # Saturday 2026-11-21 10:00 Shanghai → Monday 09:00.
    (placed,) = schedule([step("ASM", per_unit=60)], Decimal(1), utc(2026, 11, 21, 2, 0),
                         centers, Bookings())
    assert placed.start == utc(2026, 11, 23, 1, 0)
    assert placed.finish == utc(2026, 11, 23, 2, 0)


def test_zero_length_steps_take_no_slot():
    center = Center("CUT", 1, ALWAYS)
    booked = [(utc(2026, 11, 20, 0, 0), utc(2026, 11, 20, 5, 0))]
    p = place(step("CUT", per_unit=0), Decimal(3), utc(2026, 11, 20, 1, 0), center, booked)
    assert p.start == p.finish == utc(2026, 11, 20, 1, 0)
