"""Durations as flows write them: ``90s``, ``30m``/``30min``, ``4h``, ``1.5h``, ``2d``, ``1d 4h``.

``d`` is a working day of the calendar the duration is counted in (8 h in "cn", 24 h in
"24x7"); the other units are plain seconds of working time. Same grammar as
``ordertrail.flow.validate.DURATION_RE``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ordertrail.flow.validate import CALENDAR_RE, DURATION_RE

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|d|h|m|s)")
_UNIT = {"s": 1, "m": 60, "min": 60, "h": 3600}
MAX_SECONDS = 100 * 366 * 86400


class _HasDay(Protocol):
    @property
    def day_seconds(self) -> float: ...


@dataclass(frozen=True)
class Duration:
    """A parsed duration: whole working days plus seconds."""

    days: float
    seconds: float
    text: str
    calendar: str | None = None  # from the mapping form {target, calendar}

    def seconds_in(self, cal: _HasDay) -> float:
        """The duration in seconds of working time in ``cal`` (``d`` = its working day)."""
        return self.days * cal.day_seconds + self.seconds

    def __mul__(self, factor: float) -> Duration:
        return Duration(self.days * factor, self.seconds * factor,
                        f"{self.text} × {factor:g}", self.calendar)


def parse_duration(value: str | Mapping[str, Any]) -> Duration:
    """Parse ``"1d 4h"`` or ``{"target": "90s", "calendar": "24x7"}``; ValueError says why."""
    calendar = None
    if isinstance(value, Mapping):
        unknown = set(value) - {"target", "calendar"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]!r} in an SLA: use target and "
                             "calendar")
        calendar = value.get("calendar")
        if calendar is not None and (not isinstance(calendar, str)
                                     or not CALENDAR_RE.match(calendar)):
            raise ValueError(f"bad calendar id {calendar!r}: use lower-case letters, digits, "
                             "_ or -")
        value = value.get("target")  # type: ignore[assignment]
    if not isinstance(value, str) or not DURATION_RE.match(value):
        raise ValueError(f"bad duration {value!r}: use a number with a unit, e.g. 90s, 30m, "
                         "4h, 1.5h, 2d or 1d 4h")
    days = seconds = 0.0
    for number, unit in _PART.findall(value):
        if unit == "d":
            days += float(number)
        else:
            seconds += float(number) * _UNIT[unit]
    if days * 86400 + seconds > MAX_SECONDS:
        raise ValueError(f"duration {value!r} is longer than 100 years")
    return Duration(days=days, seconds=seconds, text=" ".join(value.split()), calendar=calendar)
