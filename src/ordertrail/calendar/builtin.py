"""Built-in calendars: "cn" (China mainland working time) and "24x7".

China's statutory holidays and make-up workdays (调休) come from python-holidays
(``holidays.China``), which follows the State Council's yearly notice (国务院办公厅关于
节假日安排的通知). Its holiday dates are days off, its ``weekend_workdays`` are worked.
Years are loaded lazily, one at a time, and kept. For a year the package has no notice for yet,
the fixed-date holidays it knows still apply but no make-up workdays are known.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from ordertrail.calendar.business import WorkCalendar, always_calendar

_MORNING, _AFTERNOON = (9 * 3600, 12 * 3600), (13 * 3600, 18 * 3600)
CN_DAY = (_MORNING, _AFTERNOON)
CN_SOURCE = f"python-holidays {holidays.__version__} (holidays.China)"


@lru_cache(maxsize=256)
def china_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """China's (days off, make-up workdays) in a year, from python-holidays."""
    if not 1950 <= year <= 2200:
        return frozenset(), frozenset()
    cal = holidays.China(years=year)
    days_off = frozenset(d for d in cal if d.year == year)
    workdays = frozenset(d for d in getattr(cal, "weekend_workdays", ()) if d.year == year)
    return days_off - workdays, workdays


def _cn(calendar_id: str) -> WorkCalendar:
    return WorkCalendar(
        id=calendar_id, name="China mainland (Mon–Fri 09:00–12:00, 13:00–18:00, statutory "
                              "holidays and make-up workdays)",
        tz=ZoneInfo("Asia/Shanghai"), hours=(CN_DAY,) * 5 + ((), ()),
        source=china_year)


CN = _cn("cn")
BUILTINS: dict[str, WorkCalendar] = {
    "cn": CN,
    "cn_mainland": _cn("cn_mainland"),
    "24x7": always_calendar(),
}
ALIASES = {"cn_mainland": "cn"}


def get_builtin(calendar_id: str) -> WorkCalendar | None:
    """A built-in calendar by id, or None."""
    return BUILTINS.get(calendar_id)
