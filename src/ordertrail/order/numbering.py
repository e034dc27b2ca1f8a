"""Order numbers from a pattern such as ``SO{date:%Y%m%d}-{seq:05d}``, unique under concurrency.

The counter is bumped with one atomic upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``)
on a row per prefix, so concurrent creators never get the same number on either database.
"""

from __future__ import annotations

import functools
import string
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordertrail.models import Order, OrderNumberCounter

_FORMATTER = string.Formatter()


def check_pattern(pattern: str) -> None:
    """Refuse patterns without exactly one {seq} field, with unknown fields, or that cannot
    render a number fitting the order number column."""
    fields = [f for _lit, f, _spec, _conv in _FORMATTER.parse(pattern) if f is not None]
    if fields.count("seq") != 1:
        raise ValueError(f"order number pattern {pattern!r} needs exactly one {{seq}} field")
    unknown = set(fields) - {"seq", "date"}
    if unknown:
        raise ValueError(f"order number pattern {pattern!r} has unknown fields {sorted(unknown)}")
    # Found now rather than when the first order is created (and fails).
    try:
        sample = split_pattern(pattern, datetime(2026, 12, 31, tzinfo=UTC), "UTC")[1].format(
            seq=99_999_999)
    except ValueError as exc:
        raise ValueError(f"order number pattern {pattern!r} cannot be rendered: {exc}") from None
    limit = Order.__table__.c.order_no.type.length
    if len(sample) > limit:
        raise ValueError(f"order number pattern {pattern!r} renders numbers such as "
                         f"{sample!r}, longer than {limit} characters")


def split_pattern(pattern: str, now: datetime, tz: str) -> tuple[str, str, str]:
    """(scope, prefix, seq format spec): the scope is the pattern rendered without {seq}."""
    local = now.astimezone(ZoneInfo(tz))
    before, after, spec, seen = [], [], "", False
    for literal, field, fmt, _conv in _FORMATTER.parse(pattern):
        (after if seen else before).append(literal)
        if field == "date":
            (after if seen else before).append(format(local, fmt or "%Y%m%d"))
        elif field == "seq":
            seen, spec = True, fmt or "d"
    prefix, suffix = "".join(before), "".join(after)
    return f"{prefix}\x1f{suffix}", prefix + "{seq:" + spec + "}" + suffix, spec


def next_numbers(session: Session, pattern: str, now: datetime, tz: str, count: int = 1,
                 ) -> list[str]:
    """Reserve ``count`` consecutive order numbers in the caller's transaction."""
    scope, template, _spec = split_pattern(pattern, now, tz)
    stmt = _upsert(session.get_bind().dialect.name)
    last = int(session.execute(stmt, {"scope": scope, "count": count}).scalar_one())
    return [template.format(seq=n) for n in range(last - count + 1, last + 1)]


@functools.cache
def _upsert(dialect: str) -> Any:
    """The counter upsert, built once per dialect (every order creation runs it)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = OrderNumberCounter.__table__
    count = bindparam("count", type_=BigInteger)
    return (
        insert(table)
        .values(scope=bindparam("scope"), value=count)
        .on_conflict_do_update(index_elements=["scope"], set_={"value": table.c.value + count})
        .returning(table.c.value)
    )
