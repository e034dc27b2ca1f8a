"""production's view of inventory: products (make-to-order, BOM), stock of components, and
the inventory service calls a work order makes (imported late: inventory is another domain).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ordertrail.context import Ctx


@dataclass(frozen=True)
class ProductInfo:
    sku: str
    make_to_order: bool
    bom: dict[str, Decimal] = field(default_factory=dict)  # component sku → qty per unit


def _qty(value: Any) -> Decimal | None:
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return q if q.is_finite() and q > 0 else None


def products(session: Session, skus: Iterable[str]) -> dict[str, ProductInfo]:
    """The products among ``skus`` (SKUs that are not products are absent)."""
    from ordertrail.models.inventory import Product

    wanted = sorted(set(skus))
    if not wanted:
        return {}
    out = {}
    for sku, mto, bom in session.execute(select(Product.sku, Product.make_to_order,
                                                Product.bom).where(Product.sku.in_(wanted))):
        parts: dict[str, Decimal] = {}
        for item in bom or []:
            q = _qty(item.get("qty")) if isinstance(item, dict) else None
            if q is not None and item.get("sku"):
                parts[str(item["sku"])] = parts.get(str(item["sku"]), Decimal(0)) + q
        out[sku] = ProductInfo(sku, bool(mto), parts)
    return out


def is_product(session: Session, sku: str) -> bool:
    return sku in products(session, [sku])


def available(session: Session, skus: Iterable[str]) -> dict[str, Decimal]:
    """Free stock (on hand − reserved) per SKU over all warehouses; untracked SKUs absent."""
    from ordertrail.models.inventory import StockLevel

    wanted = sorted(set(skus))
    if not wanted:
        return {}
    tracked = set(products(session, wanted))
    out = {sku: Decimal(0) for sku in tracked}
    rows = session.execute(select(StockLevel.sku, func.sum(StockLevel.on_hand),
                                  func.sum(StockLevel.reserved))
                           .where(StockLevel.sku.in_(wanted)).group_by(StockLevel.sku))
    for sku, on_hand, reserved in rows:  # sum() keeps the column type: exact decimals
        out[sku] = (on_hand or Decimal(0)) - (reserved or Decimal(0))
    return out


def consume(ctx: Ctx, order_id: int, components: dict[str, Decimal], number: str) -> None:
    """Issue the reserved components of a starting work order."""
    tracked = set(products(ctx.session, components))
    wanted = {sku: q for sku, q in components.items() if sku in tracked}
    if wanted:
        from ordertrail.inventory import service as inventory

        inventory.consume(ctx, order_id, wanted, reason=f"work order {number} started",
                          ref_type="work_order", ref_id=number)


def receive_produced(ctx: Ctx, order_id: int, sku: str, qty: Decimal, number: str) -> None:
    """Finished goods of a work order that passed QC: into stock, reserved for its order."""
    if not is_product(ctx.session, sku):
        return
    from ordertrail.inventory import service as inventory

    warehouse = inventory.default_warehouse(ctx.session)
    inventory.receive_produced(ctx, order_id, sku, warehouse, qty, ref_id=number)
