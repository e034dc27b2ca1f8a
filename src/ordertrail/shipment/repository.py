"""Every shipment query."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, select
from sqlalchemy.orm import Session

from ordertrail.models import (
    Order,
    OrderLine,
    Shipment,
    ShipmentLine,
    TrackingEvent,
    UnmatchedUpdate,
)

S = Shipment.__table__.c
E = TrackingEvent.__table__.c

_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# Ingestion ----------------------------------------------------------------------------------
# Its reads and bulk writes go to the driver (``exec_driver_sql``) with values in the form the
# driver takes and gives: on batches of thousands of rows, SQLAlchemy's per-row parameter and
# result processing (UTCDateTime and SQLite's DATETIME strings) cost more than the database's
# own work. The conversions below are exactly what UTCDateTime does.

_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's SQLite DATETIME form


def _naive_refused(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused: store UTC-aware values only")
    return value.astimezone(UTC)


def _sqlite_bind(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = _naive_refused(value)
    return _SQLITE_TIME % (value.year, value.month, value.day, value.hour, value.minute,
                           value.second, value.microsecond)


def _sqlite_result(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _pg_bind(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is UTC else _naive_refused(value)


def _pg_result(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


class _Driver(NamedTuple):
    conn: Connection
    sqlite: bool
    mark: str  # the driver's placeholder
    bind: Callable[[datetime | None], Any]
    result: Callable[[Any], datetime | None]

    def match(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column IN (...)`` (SQLite) or ``column = ANY(%b)`` (PostgreSQL), and params."""
        if self.sqlite:
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        return f"{column} = ANY(%b)", [list(values)]


def _driver(session: Session) -> _Driver:
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return _Driver(conn, True, "?", _sqlite_bind, _sqlite_result)
    return _Driver(conn, False, "%s", _pg_bind, _pg_result)


class State(NamedTuple):
    """What ingestion reads of a shipment (``last_event_at`` aware, in UTC)."""

    id: int
    order_id: int | None
    carrier: str
    provider: str
    tracking_number: str
    status: str
    substatus: str
    progress_rank: int
    last_event_at: datetime | None
    last_event: str | None
    last_location: str | None
    registered: bool  # registered_at is set
    stopped_reason: str | None


_STATE_SELECT = ("id, order_id, carrier, provider, tracking_number, status, substatus, "
                 "progress_rank, last_event_at, last_event, last_location, "
                 "registered_at IS NOT NULL, stopped_reason")


class StoredPoint(NamedTuple):
    """A stored event as the fold needs it."""

    shipment_id: int
    occurred_at: datetime
    status: str
    substatus: str
    fingerprint: str
    description: str
    location: str | None


def states_by_numbers(session: Session, numbers: Collection[str], *,
                      lock: bool = True) -> list[State]:
    """Shipment states for these tracking numbers, locked for the fold (ordered by id)."""
    d = _driver(session)
    out: list[State] = []
    when = d.result
    for part in _chunks(sorted(numbers)):
        where, params = d.match("tracking_number", part)
        sql = (f"SELECT {_STATE_SELECT} FROM shipments WHERE {where} ORDER BY id"
               + (" FOR UPDATE" if lock and not d.sqlite else ""))
        out.extend(State(i, o, c, p, n, st, sub, rank, when(last), ev, loc, bool(reg), stop)
                   for i, o, c, p, n, st, sub, rank, last, ev, loc, reg, stop
                   in d.conn.exec_driver_sql(sql, tuple(params)).all())
    return out


def existing_fingerprints(session: Session,
                          pairs: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (shipment_id, fingerprint) pairs are already stored."""
    found: set[tuple[int, str]] = set()
    if not pairs:
        return found
    d = _driver(session)
    for part in _chunks(sorted(pairs)):
        # The unique (shipment_id, fingerprint) index answers both lists; the few rows that
        # match one list and not the pair are dropped below.
        ids, id_params = d.match("shipment_id", sorted({sid for sid, _ in part}))
        fps, fp_params = d.match("fingerprint", sorted({fp for _, fp in part}))
        rows = d.conn.exec_driver_sql(
            f"SELECT shipment_id, fingerprint FROM tracking_events WHERE {ids} AND {fps}",
            tuple(id_params + fp_params))
        wanted = set(part)
        found.update(pair for pair in map(tuple, rows.all()) if pair in wanted)
    return found


def points_of(session: Session, shipment_ids: Collection[int]) -> list[StoredPoint]:
    """Every stored event of these shipments, as the fold needs them."""
    d = _driver(session)
    out: list[StoredPoint] = []
    when = d.result
    for part in _chunks(sorted(shipment_ids)):
        where, params = d.match("shipment_id", part)
        out.extend(StoredPoint(sid, when(at), st, sub, fp, desc, loc)
                   for sid, at, st, sub, fp, desc, loc in d.conn.exec_driver_sql(
                       f"SELECT {', '.join(StoredPoint._fields)} FROM tracking_events "
                       f"WHERE {where}", tuple(params)).all())
    return out


_EVENT_COLUMNS = ("shipment_id", "fingerprint", "occurred_at", "status", "substatus",
                  "description", "code", "location", "source", "received_at")
# PostgreSQL gets each bulk write as one statement over arrays (``unnest``): one round trip
# and one execution instead of a pipelined statement per row. Arrays go in binary (``%b``):
# psycopg's text form quotes every element in Python (40 ms for 1,000 JSON payloads).
_PG_INSERT_EVENTS = (
    f"INSERT INTO tracking_events ({', '.join(_EVENT_COLUMNS)}) "
    "SELECT u.*, %s::text, %s::timestamptz FROM unnest(%b::bigint[], %b::text[], "
    "%b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[]) AS u")
# Written as (id, status, substatus, progress_rank, last_event_at, last_event, last_location,
# keep_delivered, delivered_at, added_events, carrier_eta, next_check_at, keep_next_check,
# stopped_reason, unregister): delivered_at is kept when keep_delivered, event_count grows by
# added_events, the carrier's ETA is kept when the update brings none, a stored next check is
# kept when keep_next_check (a subscription already scheduled), and registered_at is cleared
# only when unregister (the provider asked for the number to be subscribed again).
_STATE_SET = (
    "status = {v}status, substatus = {v}substatus, progress_rank = {v}rank, "
    "last_event_at = {v}last_at, last_event = {v}last, last_location = {v}loc, "
    "delivered_at = CASE WHEN {v}keep THEN {s}delivered_at ELSE {v}delivered END, "
    "event_count = {s}event_count + {v}added, carrier_eta = COALESCE({v}eta, {s}carrier_eta), "
    "next_check_at = COALESCE(CASE WHEN {v}keep_next THEN {s}next_check_at END, "
    "{v}next_check), stopped_reason = {v}stopped, "
    "registered_at = CASE WHEN {v}unregister THEN NULL ELSE {s}registered_at END, "
    "updated_at = {updated}")
_STATE_NAMES = ("status", "substatus", "rank", "last_at", "last", "loc", "keep", "delivered",
                "added", "eta", "next_check", "keep_next", "stopped", "unregister")
_SQLITE_SAVE_STATES = "UPDATE shipments SET " + re.sub(
    r"\{v\}[a-z_]+", "?", _STATE_SET.format(v="{v}", s="", updated="?")) + " WHERE id = ?"
_PG_SAVE_STATES = (
    "UPDATE shipments AS s SET " + _STATE_SET.format(v="u.", s="s.", updated="%s::timestamptz")
    + " FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::int[], %b::timestamptz[], "
    "%b::text[], %b::text[], %b::bool[], %b::timestamptz[], %b::int[], %b::timestamptz[], "
    "%b::timestamptz[], %b::bool[], %b::text[], %b::bool[]) AS u(id, "
    + ", ".join(_STATE_NAMES) + ") "
    "WHERE s.id = u.id")
def _columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into one list per column (the arrays PostgreSQL unnests)."""
    cols = [list(c) for c in zip(*rows, strict=True)]
    return cols or [[] for _ in range(width)]


def insert_events(session: Session, rows: Sequence[tuple[Any, ...]], source: str,
                  received_at: datetime) -> None:
    """Insert events in one statement (SQLite: one executemany), all from ``source``."""
    # rows: (shipment_id, fingerprint, occurred_at, status, substatus, description, code,
    # location); every row gets the same source and received_at.
    if not rows:
        return
    d = _driver(session)
    when, received = d.bind, d.bind(received_at)
    if not d.sqlite:
        cols = _columns(rows, 8)
        cols[2] = [when(at) for at in cols[2]]
        d.conn.exec_driver_sql(_PG_INSERT_EVENTS, (source, received, *cols))
        return
    d.conn.exec_driver_sql(
        f"INSERT INTO tracking_events ({', '.join(_EVENT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})",
        [(sid, fp, when(at), status, sub, desc, code, loc, source, received)
         for sid, fp, at, status, sub, desc, code, loc in rows])


def save_states(session: Session, rows: Sequence[tuple[Any, ...]],
                updated_at: datetime) -> None:
    """Write folded states in one statement (SQLite: one executemany)."""
    # rows: (id, status, substatus, progress_rank, last_event_at, last_event, last_location,
    # keep_delivered, delivered_at, added_events, carrier_eta, next_check_at, keep_next_check,
    # stopped_reason, unregister): delivered_at is kept when keep_delivered, event_count grows
    # by added_events, carrier_eta is kept when the row's is None, a stored next_check_at is
    # kept when keep_next_check, registered_at is cleared when unregister. stopped_reason is
    # written as given (None clears it).
    if not rows:
        return
    d = _driver(session)
    when, updated = d.bind, d.bind(updated_at)
    if not d.sqlite:
        cols = _columns(rows, 15)
        for i in (4, 8, 10, 11):
            cols[i] = [when(v) for v in cols[i]]
        d.conn.exec_driver_sql(_PG_SAVE_STATES, (updated, *cols))
        return
    d.conn.exec_driver_sql(_SQLITE_SAVE_STATES, [
        (status, sub, rank, when(last_at), last, loc, keep,
         None if delivered is None else when(delivered), added,
         None if eta is None else when(eta), keep_next,
         None if next_check is None else when(next_check), stopped, unregister, updated, sid)
        for sid, status, sub, rank, last_at, last, loc, keep, delivered, added, eta,
        next_check, keep_next, stopped, unregister in rows])


# Other shipment queries ----------------------------------------------------------------------


def get(session: Session, shipment_id: int) -> Shipment | None:
    return session.get(Shipment, shipment_id)


def by_number(session: Session, number: str) -> list[Shipment]:
    return list(session.scalars(select(Shipment).where(Shipment.tracking_number == number)
                                .order_by(Shipment.id)))


def of_order(session: Session, order_id: int) -> list[Shipment]:
    return list(session.scalars(select(Shipment).where(Shipment.order_id == order_id)
                                .order_by(Shipment.id)))


def of_orders(session: Session, order_ids: Collection[int]) -> list[Row[Any]]:
    """(order_id, status, id) of every shipment of these orders."""
    return list(session.execute(select(S.order_id, S.status, S.id)
                                .where(S.order_id.in_(sorted(order_ids)))).all())


def lines_of(session: Session, shipment_ids: Collection[int]) -> list[Row[Any]]:
    """(shipment_id, line_no, sku, name, qty) of these shipments."""
    L = ShipmentLine.__table__.c
    OL = OrderLine.__table__.c
    return list(session.execute(
        select(L.shipment_id, OL.line_no, OL.sku, OL.name, L.qty)
        .join(OrderLine.__table__, OL.id == L.order_line_id)
        .where(L.shipment_id.in_(sorted(shipment_ids)))
        .order_by(L.shipment_id, OL.line_no)).all())


def shipped_qty(session: Session, order_id: int) -> dict[int, Any]:
    """Quantity already in shipments, per order line id."""
    L = ShipmentLine.__table__.c
    rows = session.execute(
        select(L.order_line_id, L.qty).join(Shipment.__table__, S.id == L.shipment_id)
        .where(S.order_id == order_id)).all()
    out: dict[int, Any] = {}
    for line_id, qty in rows:
        out[line_id] = out.get(line_id, 0) + qty
    return out


def events_of(session: Session, shipment_id: int) -> list[TrackingEvent]:
    """A shipment's events, newest first."""
    return list(session.scalars(
        select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id)
        .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())))


def events_of_order(session: Session, order_id: int) -> list[Row[Any]]:
    """Every parcel event of an order with its shipment's number and carrier, oldest first."""
    return list(session.execute(
        select(E.occurred_at, E.status, E.substatus, E.description, E.location, E.code,
               E.source, S.id, S.tracking_number, S.carrier)
        .join(Shipment.__table__, S.id == E.shipment_id)
        .where(S.order_id == order_id).order_by(E.occurred_at, E.id)).all())


def order_numbers(session: Session, order_ids: Collection[int]) -> dict[int, str]:
    oc = Order.__table__.c
    rows = session.execute(select(oc.id, oc.order_no).where(oc.id.in_(sorted(order_ids))))
    return {order_id: order_no for order_id, order_no in rows}


class OrderHead(NamedTuple):
    """What ingestion needs of a parcel's order: its number, and whether a trigger can move
    it (status, stage, flow version)."""

    order_no: str
    status: str
    stage: str
    flow_version_id: int


def order_heads(session: Session, order_ids: Collection[int]) -> dict[int, OrderHead]:
    oc = Order.__table__.c
    rows = session.execute(select(oc.id, oc.order_no, oc.status, oc.stage, oc.flow_version_id)
                           .where(oc.id.in_(sorted(order_ids))))
    return {order_id: OrderHead(no, status, stage, version)
            for order_id, no, status, stage, version in rows}


def unmatched_for(session: Session, number: str) -> list[UnmatchedUpdate]:
    """Updates waiting for a shipment with this number, oldest first."""
    return list(session.scalars(
        select(UnmatchedUpdate).where(UnmatchedUpdate.tracking_number == number,
                                      UnmatchedUpdate.attached_at.is_(None))
        .order_by(UnmatchedUpdate.id)))


def due_for_check(session: Session, now: datetime, limit: int) -> list[Shipment]:
    """Shipments whose next check is due, earliest first."""
    return list(session.scalars(
        select(Shipment).where(Shipment.next_check_at.is_not(None),
                               Shipment.next_check_at <= now)
        .order_by(Shipment.next_check_at, Shipment.id).limit(limit)))
