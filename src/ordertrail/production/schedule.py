"""The finite-capacity scheduler, pure: given the steps of one work order, the work centers and
what is already booked on them, when each step runs.

Rules (also in docs/production.md):
- A work center has ``capacity`` parallel slots: at no moment may more than ``capacity``
  steps overlap on it (booked steps of other work orders included).
- The steps of one work order run in sequence: a step is ready when the previous one ends
  (the first one at ``start``).
- A step starts at the earliest moment, not before it is ready, at which a slot of its center
  is free for the whole step: either when it is ready or when a booked step on that center
  ends (slots only free up then). Its duration (setup + minutes per unit × quantity) is
  counted in the center's business calendar (``WorkCalendar.add``), so a step of 4 working
  hours that starts at 16:00 on a Friday ends at 11:00 on Monday.
- A step's start is the first working moment of its window (``next_working``), so a step
  ready at 20:00 starts at 09:00 the next working day.

The function never reads the database or the clock: the caller passes everything, and writes
the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ordertrail.calendar.business import WorkCalendar

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Center:
    """A work center as the scheduler sees it."""

    code: str
    capacity: int
    calendar: WorkCalendar


@dataclass(frozen=True)
class StepNeed:
    """One step to place: where, and how much working time it takes."""

    name: str
    center: str
    setup_minutes: Decimal
    minutes_per_unit: Decimal

    def seconds(self, qty: Decimal) -> float:
        """Working seconds of this step for ``qty`` units."""
        return float((self.setup_minutes + self.minutes_per_unit * qty) * 60)


@dataclass(frozen=True)
class Placed:
    """A scheduled step: its window and its working minutes."""

    name: str
    center: str
    start: datetime
    finish: datetime
    minutes: Decimal


@dataclass
class Bookings:
    """Windows already taken per center (other work orders' open steps)."""

    by_center: dict[str, list[Window]] = field(default_factory=dict)

    def of(self, center: str) -> list[Window]:
        return self.by_center.setdefault(center, [])

    def add(self, center: str, window: Window) -> None:
        self.of(center).append(window)


def _peak(windows: Sequence[Window], lo: datetime, hi: datetime) -> int:
    """The most booked windows overlapping at any moment inside ``[lo, hi)``."""
    edges: list[tuple[datetime, int]] = []
    for s, e in windows:
        if s < hi and e > lo:  # half-open overlap
            edges.append((max(s, lo), 1))
            edges.append((min(e, hi), -1))
    # Ends sort before starts at the same moment: a slot freed at t can be taken at t.
    edges.sort(key=lambda x: (x[0], x[1]))
    peak = now = 0
    for _at, delta in edges:
        now += delta
        peak = max(peak, now)
    return peak


def place(need: StepNeed, qty: Decimal, ready: datetime, center: Center,
          booked: Sequence[Window]) -> Placed:
    """The earliest window for one step on its center, not before ``ready``."""
    seconds = need.seconds(qty)
    cal = center.calendar
    candidates = sorted({ready, *(e for _s, e in booked if e > ready)})
    for t in candidates:
        start = cal.next_working(t)
        finish = cal.add(start, seconds)
        if seconds == 0 or _peak(booked, start, finish) < center.capacity:
            return Placed(need.name, need.center, start, finish, _minutes(seconds))
    # Unreachable: after the last booked end nothing overlaps; kept for the type checker.
    start = cal.next_working(candidates[-1])
    return Placed(need.name, need.center, start, cal.add(start, seconds), _minutes(seconds))


def _minutes(seconds: float) -> Decimal:
    return (Decimal(str(seconds)) / 60).quantize(Decimal("0.001"))


def schedule(steps: Sequence[StepNeed], qty: Decimal, start: datetime,
             centers: Mapping[str, Center], bookings: Bookings) -> list[Placed]:
    """Place the steps of one work order in sequence from ``start``; each placed step is
    added to ``bookings`` (so the next work order planned with them queues behind it)."""
    out: list[Placed] = []
    ready = start
    for need in steps:
        center = centers[need.center]
        placed = place(need, qty, ready, center, bookings.of(need.center))
        bookings.add(need.center, (placed.start, placed.finish))
        out.append(placed)
        ready = placed.finish
    return out
