"""inventory: outbox consumers — release on cancel, consume on shipment."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select

from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.i18n import Msg, render
from ordertrail.inventory import service
from ordertrail.jobs.registry import Event, consumer
from ordertrail.models import Order, OrderLine, ShipmentLine
from ordertrail.models.inventory import Product


def _system(ctx: Ctx) -> Ctx:
    return Ctx(ctx.session, SYSTEM_ACTOR, ctx.clock, ctx.settings)


def _order_id(ctx: Ctx, order_no: object) -> int | None:
    if not isinstance(order_no, str):
        return None
    return ctx.session.scalar(select(Order.id).where(Order.order_no == order_no))


@consumer("inventory.release_on_cancel", "order.cancelled")
def release_on_cancel(ctx: Ctx, event: Event) -> None:
    """A cancelled order gives its stock back (and stops waiting for more)."""
    order_id = _order_id(ctx, event.payload.get("order_no"))
    if order_id is None:
        return
    reason = render(Msg("Order {order_no} was cancelled.",
                        {"order_no": event.payload["order_no"]}))
    service.release_order(_system(ctx), order_id, reason)


@consumer("inventory.consume_on_shipment", "shipment.created")
def consume_on_shipment(ctx: Ctx, event: Event) -> None:
    """A shipment takes its lines' products out of stock: the order's reservations first
    (for made-to-order lines, the finished goods production received). Once per shipment."""
    p = event.payload
    order_id = _order_id(ctx, p.get("order_no"))
    shipment_id = p.get("shipment_id")
    if order_id is None or shipment_id is None:
        return
    rows = ctx.session.execute(
        select(OrderLine.sku, ShipmentLine.qty)
        .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
        .join(Product, Product.sku == OrderLine.sku)
        .where(ShipmentLine.shipment_id == shipment_id))
    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for sku, qty in rows:
        wanted[sku] += qty
    if not wanted:
        return
    reason = render(Msg("Shipped with shipment {id}.", {"id": shipment_id}))
    service.consume(_system(ctx), order_id, dict(wanted), reason=reason, ref_type="shipment",
                    ref_id=str(shipment_id))
