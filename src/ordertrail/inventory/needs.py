"""What an order needs from stock: its need lines (products, or BOM components of
made-to-order lines), and what other domains tell us about expected receipts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import BigInteger, any_, bindparam, case, null, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ordertrail.models import Order, OrderLine
from ordertrail.models.inventory import OrderStock, Product, Reservation, StockWait

MILLI = Decimal("0.001")
# Allocation order of waiting orders: priority first, then the oldest order.
PRIORITY_RANK = case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=Order.priority,
                     else_=2)


@dataclass(frozen=True)
class Need:
    """One need line of an order: ``qty`` of ``sku`` for order line ``order_line_id``
    (``component_of`` names the made-to-order product a component goes into)."""

    sku: str
    qty: Decimal
    order_line_id: int
    component_of: str | None
    line_no: int = 0


_O, _L, _P, _S = (Order.__table__, OrderLine.__table__, Product.__table__,
                  OrderStock.__table__)
# Built once (and in Core, without the ORM layer): reserving an order runs this every time.
_HEAD_BASE = (select(_O.c.order_no, _O.c.status, _O.c.custom, _O.c.stage,
                     _O.c.flow_version_id, _S.c.state, _S.c.shortfall, _S.c.waiting_since,
                     _L.c.id, _L.c.line_no, _L.c.sku, _L.c.qty, _P.c.id.label("pid"),
                     _P.c.make_to_order, _P.c.bom, _O.c.id.label("order_id"))
              .select_from(_O).outerjoin(_S, _S.c.order_id == _O.c.id)
              .outerjoin(_L, _L.c.order_id == _O.c.id).outerjoin(_P, _P.c.sku == _L.c.sku))
_HEAD = _HEAD_BASE.where(_O.c.id == bindparam("oid")).order_by(_L.c.line_no)
_HEAD_LOCK = _HEAD.with_for_update(of=_O)
_COVERED = (select(Reservation.__table__.c.order_line_id, Reservation.__table__.c.sku,
                   Reservation.__table__.c.qty, Reservation.__table__.c.released)
            .where(Reservation.__table__.c.order_id == bindparam("oid"),
                   Reservation.__table__.c.purpose == "need"))


@dataclass(frozen=True)
class OrderHead:
    """The order as reserving sees it, with its reservation state (None: never reserved)."""

    order_no: str
    status: str
    custom: dict[str, Any]
    stage: str
    flow_version_id: int
    state: str | None
    shortfall: dict[str, Any]
    waiting_since: datetime | None


_HEADS = (_HEAD_BASE.where(_O.c.id.in_(bindparam("oids", expanding=True)))
          .order_by(_O.c.id, _L.c.line_no))
_HEADS_LOCK = _HEADS.with_for_update(of=_O)
# PostgreSQL: one array parameter, so the statement's text never changes with the number of
# orders and psycopg's prepared statement (no planning) serves every group.
_HEADS_PG_LOCK = (_HEAD_BASE.where(_O.c.id == any_(bindparam("oids", type_=ARRAY(BigInteger))))
                  .order_by(_O.c.id, _L.c.line_no).with_for_update(of=_O))


def heads_and_needs(session: Session, order_ids: list[int], *, lock: bool = False,
                    ) -> dict[int, tuple[OrderHead, list[Need]]]:
    """``head_and_needs`` of many orders in one query (locked in id order with ``lock``)."""
    pg = session.get_bind().dialect.name == "postgresql"
    stmt = (_HEADS_PG_LOCK if pg else _HEADS_LOCK) if lock else _HEADS
    rows = session.execute(stmt, {"oids": sorted(set(order_ids))}).all()
    by_order: dict[int, list[Any]] = {}
    for r in rows:
        by_order.setdefault(r.order_id, []).append(r)
    out: dict[int, tuple[OrderHead, list[Need]]] = {}
    for oid, group in by_order.items():
        r = group[0]
        out[oid] = (OrderHead(r.order_no, r.status, r.custom or {}, r.stage, r.flow_version_id,
                              r.state, r.shortfall or {}, r.waiting_since), _needs(group)[0])
    return out


def head_and_needs(session: Session, order_id: int, *, lock: bool = False,
                   ) -> tuple[OrderHead | None, list[Need]]:
    """One query: the order, its reservation state and its need lines. ``lock`` takes the
    order row (PostgreSQL), so two reservations of one order run one after the other."""
    rows = session.execute(_HEAD_LOCK if lock else _HEAD, {"oid": order_id}).all()
    if not rows:
        return None, []
    r = rows[0]
    head = OrderHead(r.order_no, r.status, r.custom or {}, r.stage, r.flow_version_id,
                     r.state, r.shortfall or {}, r.waiting_since)
    return head, _needs(rows)[0]


# The BOM only of made-to-order products (the others' JSON is never read: not decoded).
_BY_NUMBER = (select(_O.c.id.label("order_id"), _L.c.id, _L.c.line_no, _L.c.sku, _L.c.qty,
                     _P.c.id.label("pid"), _P.c.make_to_order,
                     case((_P.c.make_to_order, _P.c.bom), else_=null()).label("bom"))
              .select_from(_O).outerjoin(_L, _L.c.order_id == _O.c.id)
              .outerjoin(_P, _P.c.sku == _L.c.sku)
              .where(_O.c.order_no == bindparam("no")).order_by(_L.c.line_no))


def needs_by_number(session: Session, order_no: str,
                    ) -> tuple[int | None, list[Need], list[str]]:
    """``lines_and_needs`` found by order number in the same query: (order id or None when
    there is no such order, need lines, untracked SKUs)."""
    rows = session.connection().execute(_BY_NUMBER, {"no": order_no}).all()
    if not rows:
        return None, [], []
    needs, untracked = _needs(rows)
    return int(rows[0].order_id), needs, untracked


def lines_and_needs(session: Session, order_id: int) -> tuple[list[Need], list[str]]:
    """The order's need lines and the SKUs of its lines that are not products."""
    rows = session.execute(
        select(OrderLine.id, OrderLine.line_no, OrderLine.sku, OrderLine.qty,
               Product.id.label("pid"), Product.make_to_order, Product.bom)
        .outerjoin(Product, Product.sku == OrderLine.sku)
        .where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    return _needs(rows)


def _needs(rows: Iterable[Any]) -> tuple[list[Need], list[str]]:
    needs: list[Need] = []
    untracked: list[str] = []
    for r in rows:
        if r.id is None:
            continue
        if r.pid is None:
            if r.sku not in untracked:
                untracked.append(r.sku)
        elif r.make_to_order and r.bom:
            needs.extend(
                Need(c["sku"], (r.qty * Decimal(c["qty"])).quantize(MILLI, ROUND_CEILING),
                     r.id, r.sku, r.line_no) for c in r.bom)
        else:
            needs.append(Need(r.sku, r.qty, r.id, None, r.line_no))
    return needs, untracked


def needs_of_order(session: Session, order_id: int) -> list[Need]:
    """The order's need lines: made-to-order lines with a BOM need their components (line
    qty × BOM qty), other lines their product; SKUs that are not products are ignored."""
    return lines_and_needs(session, order_id)[0]


def covered(session: Session, order_id: int) -> dict[tuple[int, str], Decimal]:
    """Per (order line, sku): what was reserved for the need and not released (consumed
    counts: it was there)."""
    out: dict[tuple[int, str], Decimal] = {}
    rows = session.execute(_COVERED, {"oid": order_id})
    for line_id, sku, qty, released in rows:
        out[(line_id, sku)] = out.get((line_id, sku), Decimal(0)) + qty - released
    return out


def fully_reserved(session: Session, order_id: int) -> bool:
    """Every need line is covered by reservations. An order with no tracked needs (no line is
    a product) waits for nothing: it counts as fully reserved."""
    needs = needs_of_order(session, order_id)
    if not needs:
        return True
    have = covered(session, order_id)
    want: dict[tuple[int, str], Decimal] = {}
    for n in needs:
        want[(n.order_line_id, n.sku)] = want.get((n.order_line_id, n.sku), Decimal(0)) + n.qty
    return all(have.get(k, Decimal(0)) >= q for k, q in want.items())


def waiting_orders(session: Session, skus: list[str]) -> dict[str, list[int]]:
    """Per SKU, the open orders waiting for it, in allocation order (priority, oldest)."""
    if not skus:
        return {}
    rows = session.execute(
        select(StockWait.sku, StockWait.order_id).join(Order, Order.id == StockWait.order_id)
        .where(StockWait.sku.in_(skus), Order.status.in_(("active", "on_hold")))
        .order_by(PRIORITY_RANK, Order.created_at, Order.id))
    out: dict[str, list[int]] = {}
    for sku, oid in rows:
        out.setdefault(sku, []).append(oid)
    return out


def expected_receipts(session: Session, skus: list[str]) -> dict[str, datetime]:
    """Procurement's earliest expected receipt per SKU; {} when procurement cannot say."""
    if not skus:
        return {}
    try:
        from ordertrail.procurement import service as procurement
    except ImportError:
        return {}
    fn = getattr(procurement, "expected_receipts", None)
    if fn is None:
        return {}
    return dict(fn(session, list(skus)) or {})
