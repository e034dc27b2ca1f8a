"""Every query on orders, their visits, timeline and approvals."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, any_, bindparam, or_, select, tuple_
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from ordertrail.errors import Invalid
from ordertrail.models import Approval, Order, OrderLine, StageVisit, TimelineEntry

# Statements of the transition path, built once (building one costs more than running it).
_BY_NO = select(Order).where(Order.order_no == bindparam("order_no"))
_BY_NO_FOR_UPDATE = _BY_NO.with_for_update()
_BY_NO_WITH_LINES = _BY_NO.options(joinedload(Order.lines))
# FOR UPDATE OF orders: PostgreSQL refuses to lock the nullable side of an outer join.
_BY_NO_WITH_LINES_FOR_UPDATE = _BY_NO_WITH_LINES.with_for_update(of=Order)
_BY_EXTERNAL = select(Order).where(Order.external_source == bindparam("source"),
                                   Order.external_ref == bindparam("ref")).limit(1)
_LINES = (select(OrderLine).where(OrderLine.order_id == bindparam("order_id"))
          .order_by(OrderLine.line_no))
_CURRENT_VISIT = (select(StageVisit).where(StageVisit.order_id == bindparam("order_id"),
                                           StageVisit.exited_at.is_(None))
                  .order_by(StageVisit.id.desc()).limit(1))
_VOTES = select(Approval).where(Approval.visit_id == bindparam("visit_id")).order_by(Approval.id)


def get_by_no(session: Session, order_no: str, *, for_update: bool = False,
              with_lines: bool = False) -> Order | None:
    if with_lines:  # one statement: the order's row joined with its lines
        stmt = _BY_NO_WITH_LINES_FOR_UPDATE if for_update else _BY_NO_WITH_LINES
        return session.scalars(stmt, {"order_no": order_no}).unique().first()
    stmt = _BY_NO_FOR_UPDATE if for_update else _BY_NO
    return session.scalars(stmt, {"order_no": order_no}).first()


def load_lines(session: Session, order: Order) -> None:
    """Load an order's lines with one plain query (cheaper than the selectin loader)."""
    set_committed_value(order, "lines",
                        list(session.scalars(_LINES, {"order_id": order.id}).all()))


def ids_by_number(session: Session, numbers: Sequence[str]) -> dict[str, int]:
    """Order ids by order number (one indexed query)."""
    stmt = select(Order.order_no, Order.id).where(Order.order_no.in_(numbers))
    return {no: oid for no, oid in session.execute(stmt).all()}


def by_external(session: Session, source: str, ref: str) -> Order | None:
    stmt = select(Order).where(Order.external_source == source, Order.external_ref == ref)
    return session.scalars(stmt).first()


def by_external_refs(session: Session, pairs: Sequence[tuple[str, str]]) -> Order | None:
    """The first order holding any of these (source, external_ref) pairs."""
    if len(pairs) == 1:  # one order created: a statement built once
        source, ref = pairs[0]
        return session.scalars(_BY_EXTERNAL, {"source": source, "ref": ref}).first()
    # By reference alone (ix_orders_external_ref), the source compared here: PostgreSQL
    # plans "(source, ref) IN (500 pairs)" as a sequential scan.
    wanted = set(pairs)
    stmt = select(Order).where(Order.external_ref.in_(sorted({ref for _s, ref in pairs})))
    for order in session.scalars(stmt):
        if (order.external_source, order.external_ref) in wanted:
            return order
    return None


def current_visit(session: Session, order_id: int) -> StageVisit | None:
    return session.scalars(_CURRENT_VISIT, {"order_id": order_id}).first()


def votes(session: Session, visit_id: int) -> Sequence[Approval]:
    return session.scalars(_VOTES, {"visit_id": visit_id}).all()


def timeline(session: Session, order_id: int) -> Sequence[TimelineEntry]:
    stmt = (select(TimelineEntry).where(TimelineEntry.order_id == order_id)
            .order_by(TimelineEntry.at, TimelineEntry.id))
    return session.scalars(stmt).all()


def visits(session: Session, order_id: int) -> Sequence[StageVisit]:
    stmt = (select(StageVisit).where(StageVisit.order_id == order_id)
            .order_by(StageVisit.entered_at, StageVisit.id))
    return session.scalars(stmt).all()


# Listing ------------------------------------------------------------------------------

SORTS = {
    "created_at": Order.created_at,
    "stage_entered_at": Order.stage_entered_at,
    "order_no": Order.order_no,
}


@dataclass
class OrderFilter:
    stage: list[str] = field(default_factory=list)
    flow: str | None = None
    status: str | None = None
    customer: str | None = None
    priority: str | None = None
    channel: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    promised_from: datetime | None = None
    promised_to: datetime | None = None
    q: str | None = None


def _encode_cursor(value: Any, row_id: int) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([raw, row_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, sort_col: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = datetime.fromisoformat(raw) if sort_col != "order_no" else str(raw)
        # A hand-made cursor must not reach the database as a naive time or an id no
        # column can hold (both would fail there, as a 500).
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError("naive time in cursor")
        if not 0 <= int(row_id) < 2**63:
            raise ValueError("id out of range in cursor")
        return value, int(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise Invalid("cursor is not valid: pass back the next_cursor of a previous page",
                      code="bad_cursor") from exc


# What a list page shows: no JSON columns, no lines (a page is built from these alone).
SUMMARY_COLUMNS = (
    Order.id, Order.order_no, Order.flow_id, Order.stage, Order.status, Order.stage_entered_at,
    Order.customer_name, Order.total, Order.currency, Order.priority, Order.channel,
    Order.promised_at, Order.external_ref, Order.created_at,
)


def list_query(flt: OrderFilter, sort: str, cursor: str | None, limit: int,
               dialect: str = "sqlite") -> Select[Any]:
    """A keyset-paginated query; every filter combination is served by an index."""
    desc = sort.startswith("-")
    name = sort[1:] if desc else sort
    if name not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(sorted(SORTS))} (prefix - for "
                      "descending)", code="bad_sort", field="sort")
    col = SORTS[name]
    stmt = select(*SUMMARY_COLUMNS)
    if len(flt.stage) > 1:
        stmt = stmt.where(Order.stage.in_(flt.stage))
    elif flt.stage and dialect == "postgresql":
        # "= ANY(ARRAY[…])" keeps PostgreSQL from treating the stage as a constant and dropping
        # it from ORDER BY; the order then matches the (stage, col, id) index exactly, instead
        # of a backwards walk of the newest orders filtered by stage.
        stmt = stmt.where(Order.stage == any_(pg_array([flt.stage[0]])))
    elif flt.stage:
        stmt = stmt.where(Order.stage == flt.stage[0])
    if flt.flow:
        stmt = stmt.where(Order.flow_id == flt.flow)
    if flt.status:
        stmt = stmt.where(Order.status == flt.status)
    if flt.priority:
        stmt = stmt.where(Order.priority == flt.priority)
    if flt.channel:
        stmt = stmt.where(Order.channel == flt.channel)
    if flt.customer:
        stmt = stmt.where(or_(Order.customer_name == flt.customer,
                              Order.customer_phone == flt.customer,
                              Order.customer_email == flt.customer))
    if flt.created_from:
        stmt = stmt.where(Order.created_at >= flt.created_from)
    if flt.created_to:
        stmt = stmt.where(Order.created_at < flt.created_to)
    if flt.promised_from:
        stmt = stmt.where(Order.promised_at >= flt.promised_from)
    if flt.promised_to:
        stmt = stmt.where(Order.promised_at < flt.promised_to)
    if flt.q:
        term = flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(or_(
            Order.order_no.like(f"{term}%", escape="\\"),
            Order.external_ref == flt.q,
            Order.customer_phone == flt.q,
            # ILIKE: the same case-insensitive match on PostgreSQL as SQLite's LIKE gives.
            Order.customer_name.ilike(f"%{term}%", escape="\\"),
        ))
    if cursor:
        value, row_id = _decode_cursor(cursor, name)
        key = tuple_(col, Order.id)
        stmt = stmt.where(key < (value, row_id) if desc else key > (value, row_id))
    order = [col.desc(), Order.id.desc()] if desc else [col.asc(), Order.id.asc()]
    if len(flt.stage) == 1 and name != "order_no":
        # Same order (the stage is fixed), but spelled like the (stage, col, id) index, in the
        # same direction, so PostgreSQL walks that index instead of filtering a scan of the
        # newest orders.
        order.insert(0, Order.stage.desc() if desc else Order.stage.asc())
    return stmt.order_by(*order).limit(limit + 1)


def list_orders(session: Session, flt: OrderFilter, sort: str = "-created_at",
                cursor: str | None = None, limit: int = 50) -> tuple[list[Any], str | None]:
    """A page of summary rows (attributes as in SUMMARY_COLUMNS) and the next cursor."""
    dialect = session.get_bind().dialect.name
    rows = list(session.execute(list_query(flt, sort, cursor, limit, dialect)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(getattr(last, sort.lstrip("-")), last.id)
    return rows, next_cursor
