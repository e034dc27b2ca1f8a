"""Purchase suggestions from inventory shortages, and purchase orders made from them.

A suggestion is one SKU: how much the waiting orders lack, how much is already on open
purchase orders, what is left to buy, who supplied it last and when it could come.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from ordertrail.context import Ctx
from ordertrail.errors import Invalid
from ordertrail.i18n import Msg
from ordertrail.models.procurement import PurchaseOrder, PurchaseOrderLine, Supplier
from ordertrail.order import service as orders
from ordertrail.procurement import service
from ordertrail.procurement.schemas import (
    FromShortages,
    PoLineIn,
    SuggestionList,
    SuggestionRead,
)
from ordertrail.procurement.service import ZERO, Served, logged


def last_suppliers(ctx: Ctx, skus: list[str]) -> dict[str, Supplier]:
    """The supplier of each SKU's most recent purchase order."""
    if not skus:
        return {}
    rows = ctx.session.execute(
        select(PurchaseOrderLine.sku, PurchaseOrder.supplier_id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.sku.in_(skus))
        .order_by(PurchaseOrderLine.sku, PurchaseOrder.id.desc())).all()
    latest: dict[str, int] = {}
    for sku, supplier_id in rows:
        latest.setdefault(sku, supplier_id)
    found = {s.id: s for s in ctx.session.scalars(
        select(Supplier).where(Supplier.id.in_(set(latest.values()))))}
    return {sku: found[sid] for sku, sid in latest.items()}


def last_prices(ctx: Ctx, supplier: Supplier, skus: list[str]) -> dict[str, Decimal]:
    """The unit price of each SKU on the supplier's most recent purchase order of it."""
    rows = ctx.session.execute(
        select(PurchaseOrderLine.sku, PurchaseOrderLine.unit_price)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrderLine.sku.in_(skus), PurchaseOrder.supplier_id == supplier.id)
        .order_by(PurchaseOrder.id.desc())).all()
    out: dict[str, Decimal] = {}
    for sku, price in rows:
        out.setdefault(sku, price)
    return out


def suggestions(ctx: Ctx, *, include_covered: bool = False) -> SuggestionList:
    """Shortages per SKU with what to buy (open purchase-order quantity deducted)."""
    from ordertrail.inventory import service as inventory

    shortages = inventory.shortages(ctx.session)
    skus = [s.sku for s in shortages]
    ordered = service.on_order(ctx.session, skus)
    suppliers = last_suppliers(ctx, skus)
    numbers = service._order_nos(ctx.session, {i for s in shortages for i in s.order_ids})
    out: list[SuggestionRead] = []
    for s in shortages:
        short = Decimal(s.short_qty)
        on_order = ordered.get(s.sku, ZERO)
        buy = max(short - on_order, ZERO)
        if buy <= 0 and not include_covered:
            continue
        supplier = suppliers.get(s.sku)
        expected: datetime | None = (service.local_day(ctx, supplier.lead_time_days)
                                     if supplier else None)
        out.append(SuggestionRead(
            sku=s.sku, short_qty=short, on_order_qty=on_order, suggested_qty=buy,
            order_nos=[numbers[i] for i in s.order_ids if i in numbers],
            waiting_since=s.waiting_since, supplier=supplier.code if supplier else None,
            lead_time_days=supplier.lead_time_days if supplier else None,
            expected_at=expected))
    return SuggestionList(suggestions=out)


def from_shortages(ctx: Ctx, data: FromShortages) -> PurchaseOrder:
    """A purchase order for what the shortages still lack (all SKUs, or those named)."""
    from ordertrail.inventory import service as inventory

    with logged(ctx, "purchase order from shortages", data.supplier):
        orders.require_role(ctx, service.BUY_ROLES, Msg("create purchase orders"))
        supplier = service.get_supplier(ctx.session, data.supplier)
        shortages = {s.sku: s for s in inventory.shortages(ctx.session)}
        wanted = list(dict.fromkeys(data.skus)) if data.skus else sorted(shortages)
        not_short = [sku for sku in wanted if sku not in shortages]
        if not_short:
            raise Invalid(Msg("Nothing is short of {skus}.", {"skus": not_short}),
                          code="not_short")
        ordered = service.on_order(ctx.session, wanted)
        prices = last_prices(ctx, supplier, wanted)
        lines = [PoLineIn(sku=sku, qty=Decimal(shortages[sku].short_qty) - ordered.get(sku, ZERO),
                          unit_price=prices.get(sku, ZERO))
                 for sku in wanted
                 if Decimal(shortages[sku].short_qty) > ordered.get(sku, ZERO)]
        if not lines:
            raise Invalid(Msg("Open purchase orders already cover the shortages of {skus}.",
                              {"skus": wanted}), code="already_on_order")
        served = [Served(order_id, line.sku, None) for line in lines
                  for order_id in shortages[line.sku].order_ids]
        return service.write_po(ctx, supplier, service._warehouse(ctx, data.warehouse), lines,
                                expected=service.to_utc(data.expected_at, ctx.settings),
                                note=data.note, served=served)
