"""Claiming due rows: one conditional UPDATE … RETURNING per step (on PostgreSQL the candidates
are picked ``FOR UPDATE SKIP LOCKED``), so several sweepers can run at once and a row is
claimed by exactly one of them; and the orders behind claimed visits, read in one query.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    Integer,
    Row,
    String,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from ordertrail.flow import service as flows
from ordertrail.flow.definition import FlowDef
from ordertrail.kit.types import UTCDateTime
from ordertrail.models import StageVisit
from ordertrail.sla import alerts

_V = StageVisit.__table__
_PENDING = literal_column("'pending'")


def skip_locked(session: Session, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def picked(session: Session, id_col: Any, pick: Any) -> Any:
    """``id IN (pick)``; on PostgreSQL ``id = ANY(ARRAY(pick))``: the picked ids become one
    array computed first, so the update finds its rows by primary key (with a plain IN the
    planner may hash-join a sequential scan of the whole table)."""
    if session.get_bind().dialect.name == "postgresql":
        return id_col == any_(func.ARRAY(pick.scalar_subquery()))
    return id_col.in_(pick.scalar_subquery())


class Claim(NamedTuple):
    """Claimed visits, and whether more were due than the limit took."""

    visits: list[Row[Any]]
    more: bool


_VISIT_COLS = (_V.c.id, _V.c.order_id, _V.c.stage, _V.c.responsible_role,
               _V.c.responsible_user_id, _V.c.due_at, _V.c.warn_at, _V.c.calendar_id,
               _V.c.target_seconds)
_CLAIM_PG: dict[tuple[str, str], Any] = {}


def _claim_pg(at: str, state: str) -> Any:
    """The PostgreSQL claim: up to ``limit`` candidates picked ``FOR UPDATE SKIP LOCKED`` into
    one array (the visits are then found by primary key: with ``IN (subquery)`` the planner
    may hash-join a sequential scan of the whole table), claimed; every returned row also says
    whether the statement's snapshot held more than ``limit`` due rows (a plain read, locks
    ignored), so a sweep does not spend a second round finding out that nothing is left.

    Why a plain count and not one more locked candidate: a row locked as a mere "there is
    more" marker could be skipped by the other sweepers' last round of this step and then,
    once they have moved on to the next step, be locked by their claim of another deadline
    of the same visit, and be skipped again: its alert would wait for the next sweep."""
    stmt = _CLAIM_PG.get((at, state))
    if stmt is None:
        types = {c.name: c.type for c in _VISIT_COLS}
        due = f"{state} = 'pending' AND {at} <= :now"
        stmt = _CLAIM_PG[(at, state)] = text(
            f"WITH pick AS (SELECT ARRAY(SELECT id FROM stage_visits WHERE {due} "
            f"ORDER BY {at} LIMIT :n FOR UPDATE SKIP LOCKED) AS ids), "
            f"rest AS (SELECT EXISTS(SELECT 1 FROM stage_visits WHERE {due} "
            f"ORDER BY {at} OFFSET :n) AS more) "
            f"UPDATE stage_visits SET {state} = 'raised' FROM pick, rest "
            f"WHERE stage_visits.id = ANY(pick.ids) AND stage_visits.{state} = 'pending' "
            f"RETURNING {', '.join(f'stage_visits.{c.name}' for c in _VISIT_COLS)}, rest.more"
        ).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("n", type_=Integer())
                     ).columns(**types, more=Boolean())
    return stmt


def claim_visits(session: Session, now: datetime, at: str, state: str,
                 limit: int) -> Claim:
    """Claim open visits whose ``at`` column (warn_at, due_at, late_risk_at) has passed."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        visits = list(conn.execute(_claim_pg(at, state), {"now": now, "n": limit}).all())
        return Claim(visits, bool(visits) and visits[0].more)
    at_col, state_col = _V.c[at], _V.c[state]
    pick = select(_V.c.id).where(state_col == _PENDING, at_col <= now).order_by(at_col)
    stmt = (update(_V).where(_V.c.id.in_(pick.limit(limit).scalar_subquery()),
                             state_col == _PENDING)
            .values({state: "raised"}).returning(*_VISIT_COLS))
    visits = list(conn.execute(stmt).all())
    # Claimed rows leave the partial index at once: one index probe tells if more are due.
    more = len(visits) >= limit and conn.execute(
        select(literal_column("1")).where(state_col == _PENDING, at_col <= now).limit(1)
    ).first() is not None
    return Claim(visits, more)


def claim_sql(dialect: str, at: str = "due_at", state: str = "due_state") -> str:
    """The claim statement as the database sees it (for EXPLAIN in the benchmark)."""
    from sqlalchemy.dialects import sqlite

    if dialect == "postgresql":
        return str(_claim_pg(at, state))
    at_col, state_col = _V.c[at], _V.c[state]
    pick = select(_V.c.id).where(state_col == _PENDING, at_col <= bindparam("now"))
    pick = pick.order_by(at_col).limit(10_000)
    stmt = (update(_V).where(_V.c.id.in_(pick.scalar_subquery()), state_col == _PENDING)
            .values({state: "raised"}).returning(_V.c.id))
    return str(stmt.compile(dialect=sqlite.dialect()))


_ORDER_COLS = "id, order_no, flow_version_id, promised_at, status FROM orders"
_ORDER_TYPES = {"id": Integer(), "order_no": String(), "flow_version_id": Integer(),
                "promised_at": UTCDateTime(), "status": String()}
_ORDERS_PG = text(f"SELECT {_ORDER_COLS} WHERE id = ANY(:ids)").columns(**_ORDER_TYPES)
_ORDERS_SQLITE = text(f"SELECT {_ORDER_COLS} WHERE id IN (SELECT value FROM json_each(:ids))"
                      ).columns(**_ORDER_TYPES)


class Orders:
    """The orders behind claimed visits, with their flows (cached definitions)."""

    def __init__(self, session: Session, order_ids: list[int]) -> None:
        self.session = session
        self.rows: dict[int, Row[Any]] = {}
        if order_ids:
            # One parameter for any number of ids (an expanding IN of 10 000 binds costs more
            # to build than the query takes).
            if session.get_bind().dialect.name == "postgresql":
                stmt, ids = _ORDERS_PG, order_ids
            else:
                stmt, ids = _ORDERS_SQLITE, json.dumps(order_ids)
            for row in session.execute(stmt, {"ids": ids}).all():
                self.rows[row.id] = row
        self._flows: dict[int, FlowDef] = {}
        self._esc: dict[int, alerts.Escalation] = {}

    def flow(self, version_id: int) -> FlowDef:
        if version_id not in self._flows:
            self._flows[version_id] = flows.definition_by_id(self.session, version_id)[1]
        return self._flows[version_id]

    def escalation(self, version_id: int) -> alerts.Escalation:
        if version_id not in self._esc:
            self._esc[version_id] = alerts.escalation_of(self.session, self.flow(version_id))
        return self._esc[version_id]
