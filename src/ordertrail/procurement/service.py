"""Procurement rules: suppliers, purchase orders, dates (staff and supplier), cancellation.

Suggestions from shortages live in ``suggest.py``, receipts and the inbound parcel in
``receiving.py``; reads (API shapes) in ``read.py``. Services never commit. Every refusal is
logged (``ordertrail.procurement``) with who asked and what, then raised: the caller's
savepoint rolls back whatever was begun.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Invalid, NotFound, OrdertrailError
from ordertrail.flow.planner import Actor
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit
from ordertrail.models import Order
from ordertrail.models.procurement import (
    PurchaseOrder,
    PurchaseOrderHistory,
    PurchaseOrderLine,
    PurchaseOrderOrder,
    Supplier,
)
from ordertrail.order import numbering
from ordertrail.order import service as orders
from ordertrail.procurement.schemas import (
    OPEN_STATUSES,
    PoCreate,
    PoLineIn,
    PoStatus,
    SupplierCreate,
)

log = logging.getLogger("ordertrail.procurement")
PO_PATTERN = "PO{date:%Y%m%d}-{seq:04d}"
BUY_ROLES: tuple[str, ...] = ("procurement", "manager")
RECEIVE_ROLES: tuple[str, ...] = ("warehouse", "procurement", "manager", "system")
OPEN = tuple(s.value for s in OPEN_STATUSES)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Served:
    """A waiting order a purchase order is bought for."""

    order_id: int
    sku: str
    short_qty: Decimal | None


# Helpers ---------------------------------------------------------------------------------


@contextmanager
def logged(ctx: Ctx, what: str, ref: object = None) -> Iterator[None]:
    """Log a refused request (who, what, why) and let the refusal through."""
    try:
        yield
    except OrdertrailError as exc:
        log.warning("procurement: %s %s refused for %s (%s): %s", what, ref or "",
                    ctx.actor.name, ctx.actor.source, exc.detail("en"))
        raise


def to_utc(value: date | datetime | None, settings: Any) -> datetime | None:
    """A typed date is the start of that day in the install's time zone; a time without an
    offset is in that zone too."""
    if value is None:
        return None
    tz = ZoneInfo(settings.timezone)
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tz).astimezone(UTC)
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def local_day(ctx: Ctx, days: int = 0) -> datetime:
    """Start of today (+ days) in the install's time zone, as UTC."""
    tz = ZoneInfo(ctx.settings.timezone)
    today = ctx.clock.now().astimezone(tz).date()
    return datetime.combine(today + timedelta(days=days), time(0), tz).astimezone(UTC)


def day_text(value: datetime | None, settings: Any) -> str:
    if value is None:
        return "-"
    return value.astimezone(ZoneInfo(settings.timezone)).date().isoformat()


def due_of(po: PurchaseOrder) -> datetime | None:
    """When the goods should come: the supplier's promise, else the asked date."""
    return po.confirmed_at or po.expected_at


def supplier_actor(supplier: Supplier) -> Actor:
    """The supplier acting through the signed link (no account)."""
    return Actor(user_id=None, name=supplier.name, roles=frozenset({"supplier"}),
                 source="supplier")


def as_supplier(ctx: Ctx, supplier: Supplier) -> Ctx:
    return Ctx(ctx.session, supplier_actor(supplier), ctx.clock, ctx.settings)


def history(ctx: Ctx, po: PurchaseOrder, kind: str, *, note: str | None = None,
            old: datetime | None = None, new: datetime | None = None,
            data: dict[str, Any] | None = None) -> None:
    ctx.session.add(PurchaseOrderHistory(
        po_id=po.id, at=ctx.clock.now(), kind=kind, actor=ctx.actor.name[:200],
        actor_id=ctx.actor.user_id, source=ctx.actor.source[:16], old_date=old, new_date=new,
        note=note, data=data or {}))


def event(ctx: Ctx, name: str, po: PurchaseOrder, supplier: Supplier | None,
          **payload: Any) -> None:
    now = ctx.clock.now()
    body = {"po_no": po.po_no, "supplier": supplier.code if supplier else None,
            "status": po.status, "actor": ctx.actor.name, "source": ctx.actor.source,
            "at": now.isoformat()}
    body.update({k: (v.isoformat() if isinstance(v, datetime) else v)
                 for k, v in payload.items()})
    emit(ctx.session, name, "purchase_order", str(po.id), body, now)


# Suppliers -------------------------------------------------------------------------------


def create_supplier(ctx: Ctx, data: SupplierCreate) -> Supplier:
    """Add a supplier (procurement, managers)."""
    with logged(ctx, "supplier add", data.code):
        orders.require_role(ctx, BUY_ROLES, Msg("manage suppliers"))
        if get_supplier_or_none(ctx.session, data.code) is not None:
            raise Conflict(Msg("Supplier {code} exists already.", {"code": data.code}),
                           code="supplier_exists")
        now = ctx.clock.now()
        row = Supplier(**data.model_dump(), created_at=now, updated_at=now)
        ctx.session.add(row)
        ctx.session.flush()
        return row


def get_supplier_or_none(session: Session, code: str) -> Supplier | None:
    return session.scalars(select(Supplier).where(Supplier.code == code)).first()


def get_supplier(session: Session, code: str) -> Supplier:
    row = get_supplier_or_none(session, code)
    if row is None:
        raise NotFound(Msg("No supplier {code}.", {"code": code}), code="unknown_supplier")
    return row


def list_suppliers(session: Session) -> list[Supplier]:
    return list(session.scalars(select(Supplier).order_by(Supplier.code)))


# Purchase orders -------------------------------------------------------------------------


def get_po(ctx: Ctx, po_no: str, *, for_update: bool = False) -> PurchaseOrder:
    """The purchase order by number (404 naming it)."""
    stmt = select(PurchaseOrder).where(PurchaseOrder.po_no == po_no)
    if for_update:
        stmt = stmt.with_for_update()
    po = ctx.session.scalars(stmt).first()
    if po is None:
        raise NotFound(Msg("No purchase order {po_no}.", {"po_no": po_no}),
                       code="unknown_purchase_order")
    return po


def lines_of(session: Session, po_id: int) -> list[PurchaseOrderLine]:
    return list(session.scalars(select(PurchaseOrderLine)
                                .where(PurchaseOrderLine.po_id == po_id)
                                .order_by(PurchaseOrderLine.line_no)))


def _warehouse(ctx: Ctx, code: str | None) -> str:
    from ordertrail.inventory import service as inventory
    from ordertrail.models.inventory import Warehouse

    if code is None:
        return inventory.default_warehouse(ctx.session)
    if ctx.session.scalar(select(Warehouse.id).where(Warehouse.code == code)) is None:
        raise Invalid(Msg("Unknown warehouse {warehouse}.", {"warehouse": code}),
                      code="unknown_warehouse")
    return code


def _check_skus(session: Session, skus: Sequence[str]) -> None:
    from ordertrail.models.inventory import Product

    known = set(session.scalars(select(Product.sku).where(Product.sku.in_(set(skus)))))
    unknown = sorted(set(skus) - known)
    if unknown:
        raise Invalid(Msg("Unknown SKU(s) {skus}: add the products first.", {"skus": unknown}),
                      code="unknown_sku")
    seen: set[str] = set()
    for sku in skus:
        if sku in seen:
            raise Invalid(Msg("SKU {sku} is on two lines; put it on one.", {"sku": sku}),
                          code="duplicate_sku")
        seen.add(sku)


def create_po(ctx: Ctx, data: PoCreate) -> PurchaseOrder:
    """A purchase order made by hand; orders waiting for its SKUs are linked to it."""
    with logged(ctx, "purchase order create", data.supplier):
        orders.require_role(ctx, BUY_ROLES, Msg("create purchase orders"))
        supplier = get_supplier(ctx.session, data.supplier)
        _check_skus(ctx.session, [line.sku for line in data.lines])
        served = waiting_for(ctx, [line.sku for line in data.lines])
        return write_po(ctx, supplier, _warehouse(ctx, data.warehouse), data.lines,
                        expected=to_utc(data.expected_at, ctx.settings), note=data.note,
                        currency=data.currency, receive_on_delivery=data.receive_on_delivery,
                        served=served)


def waiting_for(ctx: Ctx, skus: Iterable[str]) -> list[Served]:
    """Orders waiting for stock of these SKUs (from inventory)."""
    from ordertrail.inventory import service as inventory

    found = inventory.waiting_orders(ctx.session, sorted(set(skus)))
    return [Served(order_id, sku, None) for sku, ids in found.items() for order_id in ids]


def write_po(ctx: Ctx, supplier: Supplier, warehouse: str, lines: Sequence[PoLineIn], *,
             expected: datetime | None, note: str | None, currency: str = "CNY",
             receive_on_delivery: bool = True, served: Sequence[Served] = ()) -> PurchaseOrder:
    """Write a draft purchase order, link the orders it serves and tell them."""
    session, now = ctx.session, ctx.clock.now()
    if expected is None:
        expected = local_day(ctx, supplier.lead_time_days)
    po_no = numbering.next_numbers(session, PO_PATTERN, now, ctx.settings.timezone)[0]
    po = PurchaseOrder(po_no=po_no, supplier_id=supplier.id, warehouse=warehouse,
                       status=PoStatus.DRAFT.value, currency=currency, expected_at=expected,
                       confirmed_at=None, note=note, receive_on_delivery=receive_on_delivery,
                       created_at=now, updated_at=now, created_by=ctx.actor.user_id)
    session.add(po)
    session.flush()
    session.add_all([PurchaseOrderLine(po_id=po.id, line_no=i, sku=line.sku, qty=line.qty,
                                       unit_price=line.unit_price, received_qty=ZERO)
                     for i, line in enumerate(lines, 1)])
    history(ctx, po, "created", new=expected, note=note,
            data={"lines": {line.sku: str(line.qty) for line in lines}})
    link_orders(ctx, po, served)
    order_nos = _order_nos(session, {s.order_id for s in served})
    event(ctx, "purchase_order.created", po, supplier, expected_at=expected,
          skus=[line.sku for line in lines], order_nos=sorted(order_nos.values()))
    for order_id, skus in _by_order(served).items():
        _tell_order(ctx, order_id, "po_created",
                    f"{po_no} from {supplier.name} will bring {', '.join(skus)}, expected "
                    f"{day_text(expected, ctx.settings)}",
                    po, skus, expected)
    session.flush()
    follow_expected(ctx, [line.sku for line in lines])
    return po


def link_orders(ctx: Ctx, po: PurchaseOrder, served: Sequence[Served]) -> None:
    """Remember which waiting orders the purchase order serves (once per order and SKU)."""
    rows = {(s.order_id, s.sku): s for s in served}
    if not rows:
        return
    dialect = ctx.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    now = ctx.clock.now()
    ctx.session.execute(insert(PurchaseOrderOrder.__table__).on_conflict_do_nothing(), [
        {"po_id": po.id, "order_id": s.order_id, "sku": s.sku, "short_qty": s.short_qty,
         "linked_at": now} for s in rows.values()])


def _by_order(served: Iterable[Served]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for s in served:
        skus = out.setdefault(s.order_id, [])
        if s.sku not in skus:
            skus.append(s.sku)
    return out


def _order_nos(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {row.id: row.order_no for row in session.execute(
        select(Order.id, Order.order_no).where(Order.id.in_(ids)))}


def _tell_order(ctx: Ctx, order_id: int, kind: str, note: str, po: PurchaseOrder,
                skus: Sequence[str], expected: datetime | None, **data: Any) -> None:
    from ordertrail.ops import triggers

    actor = ctx.actor
    triggers.timeline(ctx, order_id, kind, note,
                      {"po_no": po.po_no, "skus": list(skus),
                       "expected_at": expected.isoformat() if expected else None, **data},
                      source=actor.source,
                      actor=actor.name if actor.user_id is None else None)


def served_orders(ctx: Ctx, po: PurchaseOrder, *, waiting_only: bool = True,
                  ) -> dict[int, list[str]]:
    """Active orders the purchase order serves, with the SKUs: the linked ones plus those
    waiting now for one of its open SKUs."""
    session = ctx.session
    linked = [Served(o, s, None) for o, s in session.execute(
        select(PurchaseOrderOrder.order_id, PurchaseOrderOrder.sku)
        .join(Order, Order.id == PurchaseOrderOrder.order_id)
        .where(PurchaseOrderOrder.po_id == po.id, Order.status.in_(("active", "on_hold"))))]
    open_skus = [ln.sku for ln in lines_of(session, po.id) if ln.received_qty < ln.qty]
    waiting = waiting_for(ctx, open_skus) if open_skus else []
    if waiting_only:
        now_waiting = {(s.order_id, s.sku) for s in waiting}
        linked = [s for s in linked if (s.order_id, s.sku) in now_waiting]
    link_orders(ctx, po, waiting)   # orders that started waiting after the PO was made
    return _by_order([*linked, *waiting])


def list_pos(session: Session, *, status: str | None = None, supplier: str | None = None,
             sku: str | None = None, limit: int = 100) -> list[PurchaseOrder]:
    stmt = select(PurchaseOrder).order_by(PurchaseOrder.id.desc()).limit(limit)
    if status:
        if status not in {s.value for s in PoStatus} and status != "open":
            raise Invalid(Msg("Unknown status {status}; use {known}.",
                              {"status": status, "known": ["open", *[s.value for s in
                                                                     PoStatus]]}),
                          code="unknown_status")
        stmt = stmt.where(PurchaseOrder.status.in_(OPEN) if status == "open"
                          else PurchaseOrder.status == status)
    if supplier:
        stmt = stmt.where(PurchaseOrder.supplier_id == get_supplier(session, supplier).id)
    if sku:
        stmt = stmt.where(PurchaseOrder.id.in_(select(PurchaseOrderLine.po_id)
                                               .where(PurchaseOrderLine.sku == sku)))
    return list(session.scalars(stmt))


# Dates: the supplier's promise ----------------------------------------------------------


def _open(po: PurchaseOrder, what: str) -> None:
    if po.status == PoStatus.CANCELLED:
        raise Conflict(Msg("Purchase order {po_no} is cancelled.", {"po_no": po.po_no}),
                       code="purchase_order_cancelled")
    if po.status == PoStatus.RECEIVED:
        raise Conflict(Msg("Purchase order {po_no} is received in full; nothing left to "
                           "{what}.", {"po_no": po.po_no, "what": what}),
                       code="purchase_order_received")


def confirm(ctx: Ctx, po_no: str, when: date | datetime | None, note: str | None) -> PurchaseOrder:
    """Staff record the supplier's confirmation (of the current date, or of a new one)."""
    with logged(ctx, "purchase order confirm", po_no):
        orders.require_role(ctx, BUY_ROLES, Msg("confirm purchase orders"))
        po = get_po(ctx, po_no, for_update=True)
        set_date(ctx, po, to_utc(when, ctx.settings), note)
        return po


def set_date(ctx: Ctx, po: PurchaseOrder, when: datetime | None, note: str | None) -> bool:
    """Confirm the date (``when`` None: the current one) or change it. History row, event
    (``purchase_order.confirmed`` or ``.date_changed``), timeline rows on the orders it
    serves, and their expected date follows. False when nothing changed (a repeat)."""
    _open(po, "confirm")
    old = due_of(po)
    new = when or old
    if new is None:
        raise Invalid(Msg("Purchase order {po_no} has no date yet; give one.",
                          {"po_no": po.po_no}), code="date_required")
    if when is not None and when < local_day(ctx) and when != old:
        raise Invalid(Msg("{date} is in the past.", {"date": day_text(when, ctx.settings)}),
                      code="date_in_past")
    was_confirmed = po.confirmed_at is not None
    changed = new != old
    if was_confirmed and not changed:
        return False
    now = ctx.clock.now()
    po.confirmed_at = new
    if po.status in (PoStatus.DRAFT, PoStatus.SENT):
        po.status = PoStatus.CONFIRMED.value
    po.updated_at = now
    kind = "date_changed" if changed else "confirmed"
    history(ctx, po, kind, old=old, new=new, note=note)
    supplier = ctx.session.get(Supplier, po.supplier_id)
    event(ctx, f"purchase_order.{kind}", po, supplier, date=new, previous=old, note=note)
    text = (f"{po.po_no}: {ctx.actor.name} confirmed delivery on "
            f"{day_text(new, ctx.settings)}" if not changed else
            f"{po.po_no}: {ctx.actor.name} moved delivery from {day_text(old, ctx.settings)} "
            f"to {day_text(new, ctx.settings)}")
    if note:
        text += f" ({note})"
    ctx.session.flush()
    served = served_orders(ctx, po)
    for order_id, skus in served.items():
        _tell_order(ctx, order_id, f"po_{kind}", text, po, skus, new,
                    previous=old.isoformat() if old else None)
    follow_expected(ctx, [sku for skus in served.values() for sku in skus])
    ctx.session.flush()
    return True


def follow_expected(ctx: Ctx, skus: Sequence[str]) -> None:
    """The waiting orders' expected date follows the purchase orders' dates (inventory owns
    the waits and applies the dates)."""
    from ordertrail.inventory import service as inventory

    inventory.refresh_expected(ctx, sorted(set(skus)))


def mark_sent(ctx: Ctx, po_no: str) -> PurchaseOrder:
    """The purchase order went to the supplier (a draft becomes sent)."""
    with logged(ctx, "purchase order send", po_no):
        orders.require_role(ctx, BUY_ROLES, Msg("send purchase orders"))
        po = get_po(ctx, po_no, for_update=True)
        _open(po, "send")
        if po.sent_at is None:
            now = ctx.clock.now()
            po.sent_at = po.updated_at = now
            if po.status == PoStatus.DRAFT:
                po.status = PoStatus.SENT.value
            history(ctx, po, "sent")
            event(ctx, "purchase_order.sent", po, ctx.session.get(Supplier, po.supplier_id))
            ctx.session.flush()
        return po


def cancel(ctx: Ctx, po_no: str, reason: str | None) -> PurchaseOrder:
    """Cancel what is still open; received goods stay received."""
    with logged(ctx, "purchase order cancel", po_no):
        orders.require_role(ctx, BUY_ROLES, Msg("cancel purchase orders"))
        po = get_po(ctx, po_no, for_update=True)
        _open(po, "cancel")
        served = served_orders(ctx, po)
        now = ctx.clock.now()
        po.status = PoStatus.CANCELLED.value
        po.cancelled_at = po.updated_at = now
        history(ctx, po, "cancelled", note=reason)
        event(ctx, "purchase_order.cancelled", po, ctx.session.get(Supplier, po.supplier_id),
              reason=reason)
        for order_id, skus in served.items():
            _tell_order(ctx, order_id, "po_cancelled",
                        f"{po.po_no} was cancelled" + (f": {reason}" if reason else ""),
                        po, skus, None)
        ctx.session.flush()
        follow_expected(ctx, [sku for skus in served.values() for sku in skus])
        return po


# For inventory ---------------------------------------------------------------------------


def expected_receipts(session: Session, skus: Iterable[str]) -> dict[str, datetime]:
    """Earliest promised (else asked) date of open purchase-order quantity, per SKU."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    due = func.coalesce(PurchaseOrder.confirmed_at, PurchaseOrder.expected_at)
    rows = session.execute(
        select(PurchaseOrderLine.sku, func.min(due))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.sku.in_(wanted), PurchaseOrder.status.in_(OPEN),
               PurchaseOrderLine.received_qty < PurchaseOrderLine.qty, due.is_not(None))
        .group_by(PurchaseOrderLine.sku)).all()
    type_ = PurchaseOrder.__table__.c.expected_at.type
    dialect = session.get_bind().dialect
    out: dict[str, datetime] = {}
    for sku, at in rows:
        if isinstance(at, str):   # SQLite returns an aggregate of a typed column as text
            at = datetime.fromisoformat(at)
        out[sku] = type_.process_result_value(at, dialect) if at.tzinfo is None else at
    return out


def on_order(session: Session, skus: Iterable[str]) -> dict[str, Decimal]:
    """Quantity still open on purchase orders, per SKU."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    rows = session.execute(
        select(PurchaseOrderLine.sku, PurchaseOrderLine.qty, PurchaseOrderLine.received_qty)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.sku.in_(wanted), PurchaseOrder.status.in_(OPEN))).all()
    out: dict[str, Decimal] = {}
    for sku, qty, got in rows:
        out[sku] = out.get(sku, ZERO) + max(qty - got, ZERO)
    return out
