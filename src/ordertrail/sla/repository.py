"""Alert writes in bulk: thousands of rows per sweep, values converted here.

The sweeper opens up to 10 000 alerts in one step; an ORM-typed insert spent more per row than
the database. These statements take plain tuples (SQLite: multi-row VALUES with RETURNING;
PostgreSQL: ``unnest`` of one binary array per column) and convert times and JSON exactly as
the columns' types would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ordertrail.db import insert_rows
from ordertrail.models import TimelineEntry
from ordertrail.models.alert import Alert

_A = Alert.__table__
_TIMELINE = TimelineEntry.__table__


_TIMELINE_COLS = ("order_id, at, kind, actor_id, actor, role, from_stage, to_stage, note, "
                  "source, data")


def _binders(session: Session) -> tuple[Any, Callable[[Any], str], str]:
    """(time bind, JSON dumps, placeholder) for raw statements on this connection."""
    conn = session.connection()
    dialect = conn.dialect
    t = _A.c.opened_at.type
    process = t.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    memo: dict[datetime, Any] = {}

    def bind(value: datetime) -> Any:
        # Alerts of one sweep share a handful of distinct times: convert each once.
        hit = memo.get(value)
        if hit is None:
            hit = memo[value] = process(value)
        return hit

    dumps = getattr(dialect, "_json_serializer", None) or json.dumps
    return bind, dumps, "?" if dialect.name == "sqlite" else "%s"


def write_timeline(session: Session, now: datetime, rows: list[tuple[Any, ...]]) -> None:
    """Timeline rows in one executemany (SQLite) or COPY (PostgreSQL), values converted
    as the columns' types would (the ORM-typed insert cost more than the database)."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        insert_rows(conn, _TIMELINE, [
            {"order_id": r[0], "at": now, "kind": r[1], "actor_id": r[2], "actor": r[3],
             "role": r[4], "from_stage": None, "to_stage": None, "note": r[5],
             "source": r[6], "data": json.loads(r[7])} for r in rows]) if len(rows) < 20 \
            else _copy_timeline(conn, now, rows)
        return
    bind, _dumps, _ = _binders(session)
    stamp = bind(now)
    conn.exec_driver_sql(
        f"INSERT INTO timeline_entries ({_TIMELINE_COLS}) "
        "VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
        [(r[0], stamp, r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows])


def _copy_timeline(conn: Any, now: datetime, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: COPY with the data already JSON text."""
    dbapi = conn.connection.dbapi_connection
    with dbapi.cursor() as cur, cur.copy(
            f"COPY timeline_entries ({_TIMELINE_COLS}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r[0], now, r[1], r[2], r[3], r[4], None, None, r[5], r[6], r[7]))


def reopen_insert(dialect: str) -> Any:
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_A)
    ex = ins.excluded
    return ins.on_conflict_do_update(
        index_elements=[_A.c.cause],
        set_={"state": "open", "level": 1, "opened_at": ex.opened_at,
              "escalate_at": ex.escalate_at, "last_escalated_at": None, "acked_at": None,
              "acked_by": None, "resolved_at": None, "resolved_by": None,
              "title": ex.title, "detail": ex.detail, "data": ex.data,
              "due_at": ex.due_at, "updated_at": ex.updated_at, "note": None},
        where=_A.c.state.in_(("resolved", "auto_resolved"))).returning(_A.c.id, _A.c.cause)


# Columns a new alert gets from its spec; the rest are constants of a fresh alert.
_NEW_COLS = ("kind", "cause", "severity", "order_id", "order_no", "shipment_id", "visit_id",
             "stage", "responsible_role", "responsible_user_id", "title", "detail", "data",
             "due_at", "opened_at", "calendar_id", "escalate_after", "escalation_roles",
             "escalate_at", "updated_at")
_JSON_COLS = frozenset({"title", "detail", "data", "escalation_roles"})
_TIME_COLS = frozenset({"due_at", "opened_at", "escalate_at", "updated_at"})
_FRESH = (("state", "'open'"), ("level", "1"), ("assignee_id", "NULL"),
          ("last_escalated_at", "NULL"), ("acked_at", "NULL"), ("acked_by", "NULL"),
          ("resolved_at", "NULL"), ("resolved_by", "NULL"), ("note", "NULL"))
_CHUNK = 500


def insert_new(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """INSERT … ON CONFLICT (cause) DO NOTHING RETURNING id, cause, in multi-row chunks with
    values converted here: thousands of alerts per sweep, no per-row ORM or bind overhead."""
    conn = session.connection()
    bind, dumps, ph = _binders(session)
    pg = conn.dialect.name == "postgresql"
    marks = []
    for col in _NEW_COLS:
        if pg and col in _JSON_COLS:
            marks.append(f"{ph}::jsonb")
        elif pg and col in _TIME_COLS:
            marks.append(f"{ph}::timestamptz")
        else:
            marks.append(ph)
    constants = ", ".join(f"{col}" for col, _v in _FRESH)
    one = "(" + ", ".join(marks + [v for _c, v in _FRESH]) + ")"
    cols = ", ".join(_NEW_COLS) + ", " + constants
    if pg:
        return _insert_new_pg(conn, rows, dumps)
    out: list[tuple[int, str]] = []
    roles_json: dict[tuple[str, ...], str] = {}
    detail_json: dict[tuple[str, ...], str] = {}
    data_json: dict[int, str] = {}
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        params: list[Any] = []
        for r in chunk:
            roles = tuple(r["escalation_roles"])
            if roles not in roles_json:
                roles_json[roles] = dumps(list(roles))
            due, esc, detail = r["due_at"], r["escalate_at"], r["detail"]
            key = tuple(detail.values())
            if key not in detail_json:
                detail_json[key] = dumps(detail)
            data = r["data"]
            data_text = data_json.get(id(data))
            if data_text is None:  # rows of one stage share their data object
                data_text = data_json[id(data)] = dumps(data)
            params += (r["kind"], r["cause"], r["severity"], r["order_id"], r["order_no"],
                       r["shipment_id"], r["visit_id"], r["stage"], r["responsible_role"],
                       r["responsible_user_id"], dumps(r["title"]), detail_json[key],
                       data_text, None if due is None else bind(due), bind(r["opened_at"]),
                       r["calendar_id"], r["escalate_after"], roles_json[roles],
                       None if esc is None else bind(esc), bind(r["updated_at"]))
        sql = (f"INSERT INTO alerts ({cols}) VALUES " + ", ".join([one] * len(chunk))
               + " ON CONFLICT (cause) DO NOTHING RETURNING id, cause")
        out.extend((row[0], row[1]) for row in conn.exec_driver_sql(sql, tuple(params)).all())
    return out


_PG_TYPES = {"order_id": "bigint", "shipment_id": "bigint", "visit_id": "bigint",
             "responsible_user_id": "bigint", "escalate_after": "integer"}


def _pg_array_type(col: str) -> str:
    if col in _TIME_COLS:
        return "timestamptz"
    return _PG_TYPES.get(col, "text")


_PG_INSERTS: dict[tuple[bool, ...], str] = {}


def _pg_insert(shared: tuple[bool, ...]) -> str:
    """The unnest insert where the columns flagged in ``shared`` (the same value in every
    row: kind, stage, role, calendar, detail, data, the times of one sweep …) are one plain
    parameter instead of an array: fewer arrays to dump, less JSON for PostgreSQL to parse."""
    sql = _PG_INSERTS.get(shared)
    if sql is None:
        arrays = [c for c, one in zip(_NEW_COLS, shared, strict=True) if not one]
        values = []
        for col, one in zip(_NEW_COLS, shared, strict=True):
            if one:
                cast = "jsonb" if col in _JSON_COLS else _pg_array_type(col)
                values.append(f"%s::{cast}")
            else:
                values.append(f"u.{col}::jsonb" if col in _JSON_COLS else f"u.{col}")
        sql = _PG_INSERTS[shared] = (
            f"INSERT INTO alerts ({', '.join(_NEW_COLS)}, "
            f"{', '.join(c for c, _v in _FRESH)}) "
            "SELECT " + ", ".join(values) + ", " + ", ".join(v for _c, v in _FRESH)
            + " FROM unnest(" + ", ".join(f"%b::{_pg_array_type(c)}[]" for c in arrays)
            + f") WITH ORDINALITY AS u({', '.join(arrays)}, n) ORDER BY u.n "
            "ON CONFLICT (cause) DO NOTHING RETURNING id, cause")
    return sql


def _insert_new_pg(conn: Any, rows: list[dict[str, Any]],
                   dumps: Callable[[Any], str]) -> list[tuple[int, str]]:
    """PostgreSQL: one INSERT … SELECT FROM unnest(arrays), a column per array (a column
    with one value for all rows goes as a single parameter): one statement to parse and
    plan however many alerts there are."""
    if not rows:
        return []
    scalars: list[Any] = []
    arrays: list[list[Any]] = []
    shared: list[bool] = []
    for col in _NEW_COLS:
        values = [r[col] for r in rows]
        first = values[0]
        # cause is unique: always an array (so there is one to unnest).
        one = col != "cause" and all(v is first or v == first for v in values)
        if col in _JSON_COLS:
            if one:
                first = dumps(first)
            else:
                memo: dict[int, str] = {}
                text_values = []
                for v in values:
                    hit = memo.get(id(v))
                    if hit is None:
                        hit = dumps(v)
                        if col != "title":  # rows of one stage share these objects
                            memo[id(v)] = hit
                    text_values.append(hit)
                values = text_values
        shared.append(one)
        if one:
            scalars.append(first)
        else:
            arrays.append(values)
    sql = _pg_insert(tuple(shared))
    return [(row[0], row[1])
            for row in conn.exec_driver_sql(sql, (*scalars, *arrays)).all()]
