"""Goods in: receipts against a purchase order, the inbound parcel and its delivery.

A receipt is checked whole before anything is written (unknown SKU, more than still open,
cancelled order: refused, nothing changed); then each line goes into stock through
``inventory.receive``, which hands the new stock to waiting orders and moves them on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Invalid
from ordertrail.flow.planner import Actor
from ordertrail.i18n import Msg
from ordertrail.models import Shipment
from ordertrail.models.procurement import PurchaseOrder, Supplier
from ordertrail.order import service as orders
from ordertrail.procurement import service
from ordertrail.procurement.schemas import PoStatus, ReceiptLineIn
from ordertrail.procurement.service import ZERO, logged

CARRIER_ACTOR = Actor(user_id=None, name="system", roles=frozenset({"system"}),
                      source="carrier")
IN_TRANSIT = ("in_transit", "out_for_delivery", "available_for_pickup", "exception",
              "attempt_fail")


@dataclass(frozen=True)
class Received:
    sku: str
    qty: Decimal


def receive(ctx: Ctx, po_no: str, lines: Sequence[ReceiptLineIn], *,
            warehouse: str | None = None, note: str | None = None) -> PurchaseOrder:
    """Receive goods of a purchase order into stock (warehouse, procurement, managers)."""
    with logged(ctx, "receipt", po_no):
        orders.require_role(ctx, service.RECEIVE_ROLES, Msg("receive purchase orders"))
        po = service.get_po(ctx, po_no, for_update=True)
        return _receive(ctx, po, [Received(x.sku, x.qty) for x in lines], warehouse, note)


def _receive(ctx: Ctx, po: PurchaseOrder, items: Sequence[Received], warehouse: str | None,
             note: str | None) -> PurchaseOrder:
    from ordertrail.inventory import service as inventory

    if po.status == PoStatus.CANCELLED:
        raise Conflict(Msg("Purchase order {po_no} is cancelled; nothing can be received "
                           "on it.", {"po_no": po.po_no}), code="purchase_order_cancelled")
    lines = {ln.sku: ln for ln in service.lines_of(ctx.session, po.id)}
    wanted: dict[str, Decimal] = {}
    for item in items:
        line = lines.get(item.sku)
        if line is None:
            raise Invalid(Msg("SKU {sku} is not on purchase order {po_no} (it has {skus}).",
                              {"sku": item.sku, "po_no": po.po_no, "skus": sorted(lines)}),
                          code="sku_not_on_purchase_order")
        if item.qty <= 0:
            raise Invalid(Msg("Received quantity must be positive."), code="bad_qty")
        wanted[item.sku] = wanted.get(item.sku, ZERO) + item.qty
        left = line.qty - line.received_qty
        if wanted[item.sku] > left:
            raise Invalid(Msg("Purchase order {po_no} has {left} of {sku} still open, not "
                              "{qty}.", {"po_no": po.po_no, "sku": item.sku,
                                         "left": _n(left), "qty": _n(wanted[item.sku])}),
                          code="over_received")
    into = service._warehouse(ctx, warehouse or po.warehouse)
    reason = f"purchase order {po.po_no}" + (f": {note}" if note else "")
    for sku, qty in wanted.items():
        inventory.receive(ctx, sku, into, qty, reason=reason, ref_type="purchase_order",
                          ref_id=po.po_no)
        lines[sku].received_qty += qty
    now = ctx.clock.now()
    complete = all(ln.received_qty >= ln.qty for ln in lines.values())
    po.status = (PoStatus.RECEIVED if complete else PoStatus.PARTIALLY_RECEIVED).value
    po.updated_at = now
    if complete:
        po.received_at = now
    got = {sku: _n(qty) for sku, qty in wanted.items()}
    service.history(ctx, po, "received", note=note, data={"lines": got, "warehouse": into,
                                                          "complete": complete})
    supplier = ctx.session.get(Supplier, po.supplier_id)
    service.event(ctx, "purchase_order.received", po, supplier, lines=got, warehouse=into,
                  complete=complete)
    ctx.session.flush()
    served = _served_linked(ctx, po, list(wanted))
    text = (f"{po.po_no} received: " + ", ".join(f"{sku} × {q}" for sku, q in got.items())
            + f" into {into}")
    for order_id, skus in served.items():
        service._tell_order(ctx, order_id, "po_received", text, po, skus, None,
                            lines=got, warehouse=into)
    service.follow_expected(ctx, list(wanted))
    return po


def _served_linked(ctx: Ctx, po: PurchaseOrder, skus: list[str]) -> dict[int, list[str]]:
    """Orders linked to the purchase order for these SKUs (still active)."""
    from ordertrail.models import Order
    from ordertrail.models.procurement import PurchaseOrderOrder

    rows = ctx.session.execute(
        select(PurchaseOrderOrder.order_id, PurchaseOrderOrder.sku)
        .join(Order, Order.id == PurchaseOrderOrder.order_id)
        .where(PurchaseOrderOrder.po_id == po.id, PurchaseOrderOrder.sku.in_(skus),
               Order.status.in_(("active", "on_hold")))).all()
    out: dict[int, list[str]] = {}
    for order_id, sku in rows:
        out.setdefault(order_id, []).append(sku)
    return out


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


# The inbound parcel ----------------------------------------------------------------------


def set_tracking(ctx: Ctx, po: PurchaseOrder, carrier: str | None, tracking_number: str, *,
                 provider: str | None = None, scenario: str | None = None) -> Shipment:
    """Track the purchase order's inbound parcel with the shipment hub (one per order; a
    second number replaces the first)."""
    from ordertrail.shipment.inbound import create_inbound_shipment

    service._open(po, "ship")
    current = ctx.session.get(Shipment, po.shipment_id) if po.shipment_id else None
    if current is not None and current.tracking_number == tracking_number.strip().upper():
        return current
    shipment = create_inbound_shipment(ctx, tracking_number, carrier, provider, scenario)
    po.shipment_id = shipment.id
    po.updated_at = ctx.clock.now()
    data = {"shipment_id": shipment.id, "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number}
    if current is not None:
        data["replaced"] = current.tracking_number
    service.history(ctx, po, "tracking", data=data)
    supplier = ctx.session.get(Supplier, po.supplier_id)
    service.event(ctx, "purchase_order.shipped", po, supplier, **data)
    text = f"{po.po_no} shipped by {ctx.actor.name}: {shipment.carrier} " \
           f"{shipment.tracking_number}"
    for order_id, skus in service.served_orders(ctx, po).items():
        service._tell_order(ctx, order_id, "po_shipped", text, po, skus, service.due_of(po),
                            **data)
    ctx.session.flush()
    return shipment


def staff_tracking(ctx: Ctx, po_no: str, carrier: str | None, tracking_number: str,
                   provider: str | None = None) -> Shipment:
    """Staff enter the supplier's parcel (procurement, warehouse, managers)."""
    with logged(ctx, "inbound tracking", po_no):
        orders.require_role(ctx, service.RECEIVE_ROLES, Msg("track inbound parcels"))
        po = service.get_po(ctx, po_no, for_update=True)
        return set_tracking(ctx, po, carrier, tracking_number, provider=provider)


def po_of_shipment(ctx: Ctx, shipment_id: int) -> PurchaseOrder | None:
    return ctx.session.scalars(select(PurchaseOrder)
                               .where(PurchaseOrder.shipment_id == shipment_id)
                               .with_for_update()).first()


def on_delivered(ctx: Ctx, shipment_id: int) -> PurchaseOrder | None:
    """The inbound parcel arrived: receive every open line as the system (source
    ``carrier``) when the purchase order says so. A repeat finds nothing open."""
    po = po_of_shipment(ctx, shipment_id)
    if po is None or not po.receive_on_delivery or po.status not in service.OPEN:
        return None
    items = [Received(ln.sku, ln.qty - ln.received_qty)
             for ln in service.lines_of(ctx.session, po.id) if ln.received_qty < ln.qty]
    if not items:
        return None
    system = Ctx(ctx.session, CARRIER_ACTOR, ctx.clock, ctx.settings)
    return _receive(system, po, items, None, "inbound parcel delivered")


def on_status_changed(ctx: Ctx, payload: dict[str, Any]) -> bool:
    """The inbound parcel is on its way (or in trouble): say so on the orders it serves."""
    to = payload.get("to")
    if to not in IN_TRANSIT or payload.get("from") == to:
        return False
    po = po_of_shipment(ctx, int(payload["shipment_id"]))
    if po is None or po.status not in service.OPEN:
        return False
    system = Ctx(ctx.session, Actor(None, str(payload.get("carrier") or "carrier"),
                                    frozenset({"system"}), "carrier"), ctx.clock,
                 ctx.settings)
    first_move = to == "in_transit" and payload.get("from") in (None, "pending",
                                                                 "info_received")
    if to == "in_transit" and not first_move:
        return False
    detail = payload.get("description") or to
    service.history(system, po, "in_transit" if to != "exception" else "exception",
                    note=str(detail)[:500], data={"shipment_id": po.shipment_id, "to": to})
    text = f"inbound parcel of {po.po_no} {to.replace('_', ' ')}: {detail}"
    for order_id, skus in service.served_orders(system, po).items():
        service._tell_order(system, order_id, "inbound_" + to, text, po, skus,
                            service.due_of(po), shipment_id=po.shipment_id)
    return True
