"""Amounts and dates as people and bank exports write them (pure)."""

from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # NUMERIC(18, 2)
_SYMBOLS = re.compile(r"(?i)^(?:rmb|cny|usd|eur|hkd|¥|￥|\$|€)\s*|\s*(?:元|rmb|cny)$")
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
                 "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d", "%Y%m%d",
                 "%Y%m%d %H:%M:%S", "%Y%m%d%H%M%S", "%d/%m/%Y")


def parse_amount(text: str | Decimal | int | float) -> Decimal:
    """``"1,234.50"``, ``"¥1,234.50"``, ``"RMB 1 234.5"``, ``"+500"`` as an exact Decimal.
    ValueError for anything else, for more than two decimals, or for a negative written in
    parentheses (it is returned negative: the caller decides)."""
    if isinstance(text, float):
        raise ValueError(f"amount {text!r}: give a decimal string, not a float")
    if isinstance(text, Decimal | int):
        value = Decimal(text)
    else:
        raw = text.strip()
        s = raw.replace("，", ",").replace("\u00a0", "").replace(" ", "")
        negative = s.startswith("(") and s.endswith(")")
        s = s.strip("()")
        for _ in range(2):
            s = _SYMBOLS.sub("", s).strip()
        if s.startswith("-") and len(s) > 1 and not s[1].isdigit():
            s = "-" + _SYMBOLS.sub("", s[1:])
        if not re.fullmatch(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d*)?|[+-]?\.\d+", s):
            raise ValueError(f"amount {raw!r} is not a number (write e.g. 1234.50 or "
                             "¥1,234.50)")
        try:
            value = Decimal(s.replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"amount {raw!r} is not a number") from None
        if negative:
            value = -value
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a number")
    if abs(value) > MAX_AMOUNT:
        raise ValueError(f"amount {text} is larger than {MAX_AMOUNT}")
    if value != value.quantize(CENT):
        raise ValueError(f"amount {text} has more than two decimals")
    return value.quantize(CENT)


def parse_time(text: str, tz: str) -> datetime:
    """A date or date-time from a bank export or the command line; without an offset it is
    local time in ``tz`` (a bare date: the start of that day)."""
    raw = text.strip()
    s = (raw.replace("年", "-").replace("月", "-").replace("日", " ").replace("T", " ")
         .replace("Z", "+00:00").strip())
    s = re.sub(r"\s+", " ", s)
    zone = ZoneInfo(tz)
    try:
        at = datetime.fromisoformat(s)
    except ValueError:
        at = None
        for fmt in _DATE_FORMATS:
            try:
                at = datetime.strptime(s, fmt)
                break
            except ValueError:
                continue
        if at is None:
            raise ValueError(f"date {raw!r} is not a date (write e.g. 2026-11-20 or "
                             "2026-11-20 14:30:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at


def day_start(at: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    return datetime.combine(at.astimezone(zone).date(), time(0), zone)
