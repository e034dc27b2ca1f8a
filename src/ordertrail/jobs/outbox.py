"""Write domain events to the outbox, in the caller's transaction.

Every writer (orders, shipments, ingestion) goes through ``emit_many``. It hands the rows to
the driver in one statement (SQLite: one executemany; PostgreSQL: one INSERT of VALUES rows
for a few events, over arrays with ``unnest`` for more): a batch of ingestion changes the
status of hundreds of shipments, and an ORM-typed insert spent more per event than the
database. Values are converted exactly as the columns' types would: the time by
``UTCDateTime``'s own bind processing, the payload by the dialect's JSON serializer
(``json.dumps`` unless the engine sets another).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ordertrail.models import OutboxEvent

_COLUMNS = ("name, aggregate, aggregate_id, payload, created_at, available_at, "
            "processed_at, attempts, last_error")
_SQLITE = (f"INSERT INTO outbox_events ({_COLUMNS}) "
           "VALUES (?, ?, ?, ?, ?, ?, NULL, 0, NULL)")
# Arrays go in binary (``%b``): psycopg's text form quotes every element in Python. WITH
# ORDINALITY keeps the events' order in their ids.
_PG = (
    f"INSERT INTO outbox_events ({_COLUMNS}) "
    "SELECT u.name, u.aggregate, u.aggregate_id, u.payload::jsonb, %s::timestamptz, "
    "%s::timestamptz, NULL, 0, NULL "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) WITH ORDINALITY "
    "AS u(name, aggregate, aggregate_id, payload, n) ORDER BY u.n")

# A few events (an order's transition) go as plain VALUES rows: cheaper for PostgreSQL than
# unpacking arrays.
_PG_VALUES_MAX = 8
_PG_ROW = "(%s, %s, %s, %s::jsonb, %s::timestamptz, %s::timestamptz, NULL, 0, NULL)"
_PG_VALUES = [f"INSERT INTO outbox_events ({_COLUMNS}) VALUES " + ", ".join([_PG_ROW] * n)
              for n in range(_PG_VALUES_MAX + 1)]

_TIME_BINDS: dict[str, Callable[[Any], Any]] = {}  # per dialect name


def _time_bind(dialect: Dialect) -> Callable[[Any], Any]:
    """What ``created_at``'s type makes of a datetime for the driver (naive refused)."""
    bind = _TIME_BINDS.get(dialect.name)
    if bind is None:
        col_type = OutboxEvent.__table__.c.created_at.type
        bind = col_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        _TIME_BINDS[dialect.name] = bind
    return bind


def emit(session: Session, name: str, aggregate: str, aggregate_id: str,
         payload: dict[str, Any], at: datetime) -> None:
    """Add one event; it exists only if the surrounding transaction commits."""
    emit_many(session, [(name, aggregate, aggregate_id, payload)], at)


def emit_many(session: Session, events: Iterable[tuple[str, str, str, Any]],
              at: datetime) -> None:
    """Add many events (name, aggregate, aggregate_id, payload) in one statement, in order,
    all created and available at ``at``. A payload is a dict, or its JSON text already
    serialised (a batch writer that builds it from shared parts)."""
    rows = events if isinstance(events, list) else list(events)
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    stamp = _time_bind(dialect)(at)
    serializer = getattr(dialect, "_json_serializer", None) or json.dumps

    def dumps(payload: Any) -> str:
        return payload if type(payload) is str else serializer(payload)

    if dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE, [
            (name, aggregate, aggregate_id, dumps(payload), stamp, stamp)
            for name, aggregate, aggregate_id, payload in rows])
        return
    if len(rows) <= _PG_VALUES_MAX:
        conn.exec_driver_sql(_PG_VALUES[len(rows)], tuple(
            value for name, aggregate, aggregate_id, payload in rows
            for value in (name, aggregate, aggregate_id, dumps(payload), stamp, stamp)))
        return
    names, aggregates, ids, payloads = (list(col) for col in zip(*rows, strict=True))
    conn.exec_driver_sql(_PG, (stamp, stamp, names, aggregates, ids,
                               [dumps(p) for p in payloads]))
