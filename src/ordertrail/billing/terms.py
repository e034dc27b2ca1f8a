"""Payment terms and due dates (pure).

A small, documented set of terms, in English or the Chinese people write on contracts:

==================  ===============================  =========================================
canonical           also accepted                    due date
==================  ===============================  =========================================
``due on receipt``  ``receipt``, ``COD``, 见票即付,     the issue day
                    货到付款, 即付
``net N``           ``Net N``, ``N days``, ``N天``,  N days after the issue day
                    ``N日``, 账期N天
``EOM``             月结, 当月结                      the last day of the issue month
``EOM N``           ``EOM+N``, 月结N天, 月结N日        N days after the last day of the issue month
==================  ===============================  =========================================

N is 0 to 365. The due moment is the *end* of the due day (23:59:59) in the deployment's time
zone (Asia/Shanghai by default): an invoice due on 20 December is overdue from 21 December.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TERMS = "net 30"
MAX_DAYS = 365

_RECEIPT = {"due on receipt", "on receipt", "receipt", "cod", "cash on delivery",
            "见票即付", "货到付款", "即付", "收到即付", "立即付款"}
_NET = re.compile(r"^(?:net\s*|账期\s*)?(\d{1,3})\s*(?:days?|天|日)?$")
_EOM = re.compile(r"^(?:eom|月结|当月结|月底)\s*(?:\+\s*)?(\d{1,3})?\s*(?:days?|天|日)?$")


@dataclass(frozen=True)
class Terms:
    kind: str  # receipt, net, eom
    days: int

    @property
    def text(self) -> str:
        if self.kind == "receipt":
            return "due on receipt"
        if self.kind == "net":
            return f"net {self.days}"
        return "EOM" if self.days == 0 else f"EOM {self.days}"

    def due_date(self, issued: date) -> date:
        """The due day for an invoice issued on ``issued`` (a local date)."""
        if self.kind == "receipt":
            return issued
        if self.kind == "net":
            return issued + timedelta(days=self.days)
        last = calendar.monthrange(issued.year, issued.month)[1]
        return issued.replace(day=last) + timedelta(days=self.days)


def parse_terms(text: str | None) -> Terms:
    """``"net 30"``, ``"Net 60"``, ``"due on receipt"``, ``"EOM 30"``, ``"月结60天"`` … as
    Terms; ValueError naming the accepted forms otherwise."""
    raw = (text or "").strip()
    norm = re.sub(r"\s+", " ", raw.lower()).replace("－", "-")
    if norm in _RECEIPT:
        return Terms("receipt", 0)
    for pattern, kind in ((_EOM, "eom"), (_NET, "net")):
        m = pattern.match(norm)
        if m:
            days = int(m.group(1) or 0)
            if days > MAX_DAYS:
                raise ValueError(f"payment terms {raw!r}: at most {MAX_DAYS} days")
            if kind == "net" and days == 0:
                return Terms("receipt", 0)
            return Terms(kind, days)
    raise ValueError(f"unknown payment terms {raw!r}: use 'due on receipt', 'net N', 'EOM' "
                     "or 'EOM N' (or 月结N天, N天, 见票即付)")


def due_at(terms: Terms, issued_at: datetime, tz: str) -> datetime:
    """The end of the due day in ``tz``, as UTC."""
    zone = ZoneInfo(tz)
    day = terms.due_date(issued_at.astimezone(zone).date())
    return datetime.combine(day, time(23, 59, 59), zone).astimezone(UTC)


def local_date(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()
