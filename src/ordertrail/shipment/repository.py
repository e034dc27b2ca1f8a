"""Every shipment query."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, tuple_, update
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

STATE_COLUMNS = (S.id, S.order_id, S.carrier, S.provider, S.tracking_number, S.status,
                 S.substatus, S.progress_rank, S.last_event_at, S.event_count, S.delivered_at,
                 S.registered_at, S.carrier_eta, S.last_event, S.last_location)
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def states_by_numbers(session: Session, numbers: Collection[str], *,
                      lock: bool = True) -> list[Row[Any]]:
    """Shipment state rows for these tracking numbers, locked for the fold (ordered by id)."""
    out: list[Row[Any]] = []
    for part in _chunks(sorted(numbers)):
        stmt = select(*STATE_COLUMNS).where(S.tracking_number.in_(part)).order_by(S.id)
        if lock:
            stmt = stmt.with_for_update()
        out.extend(session.execute(stmt).all())
    return out


def existing_fingerprints(session: Session,
                          pairs: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (shipment_id, fingerprint) pairs are already stored."""
    found: set[tuple[int, str]] = set()
    if not pairs:
        return found
    items = sorted(pairs)
    for part in _chunks(items):
        if len(part) == 1 or len({sid for sid, _ in part}) == 1:
            sid = part[0][0]
            rows = session.execute(select(E.shipment_id, E.fingerprint).where(
                E.shipment_id == sid, E.fingerprint.in_([fp for _, fp in part])))
        else:
            rows = session.execute(select(E.shipment_id, E.fingerprint).where(
                tuple_(E.shipment_id, E.fingerprint).in_(list(part))))
        found.update((r[0], r[1]) for r in rows)
    return found


def points_of(session: Session, shipment_ids: Collection[int]) -> list[Row[Any]]:
    """Every stored event of these shipments, as the fold needs them."""
    out: list[Row[Any]] = []
    for part in _chunks(sorted(shipment_ids)):
        out.extend(session.execute(
            select(E.shipment_id, E.occurred_at, E.status, E.substatus, E.fingerprint,
                   E.description, E.location).where(E.shipment_id.in_(part))).all())
    return out


_STATE_UPDATE = (
    update(Shipment.__table__)
    .where(S.id == bindparam("_id"))
    .values(status=bindparam("_status"), substatus=bindparam("_substatus"),
            progress_rank=bindparam("_rank"), last_event_at=bindparam("_last_event_at"),
            last_event=bindparam("_last_event"), last_location=bindparam("_last_location"),
            delivered_at=bindparam("_delivered_at"), event_count=bindparam("_event_count"),
            carrier_eta=bindparam("_carrier_eta"), next_check_at=bindparam("_next_check_at"),
            stopped_reason=bindparam("_stopped_reason"), updated_at=bindparam("_updated_at"))
)


def save_states(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write folded states (keys as in _STATE_UPDATE, prefixed with _)."""
    if rows:
        session.connection().execute(_STATE_UPDATE, rows)


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
