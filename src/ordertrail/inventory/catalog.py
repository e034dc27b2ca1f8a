"""Products (with their BOM) and warehouses; who may change stock."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound, OrdertrailError
from ordertrail.i18n import Msg
from ordertrail.inventory.schemas import (
    BomItem,
    ProductCreate,
    ProductList,
    ProductRead,
    ProductUpdate,
    WarehouseCreate,
    WarehouseRead,
)
from ordertrail.jobs.outbox import emit
from ordertrail.models.inventory import Product, StockLevel, Warehouse

log = logging.getLogger("ordertrail.inventory")

STOCK_ROLES = ("warehouse", "manager")            # every movement, products, warehouses
RECEIVE_ROLES = (*STOCK_ROLES, "procurement")     # receipts only
RESERVE_ROLES = ("warehouse", "sales", "service", "manager")
DEFAULT_WAREHOUSE = "MAIN"
ZERO = Decimal(0)


def refuse(ctx: Ctx, exc: OrdertrailError, what: str) -> OrdertrailError:
    """Log a refused attempt (who, what, why) and hand the error back to be raised."""
    log.warning("inventory: refused %s by %s (%s): %s", what, ctx.actor.name,
                ",".join(sorted(ctx.actor.roles)) or "-", exc.detail("en"))
    return exc


def require(ctx: Ctx, allowed: tuple[str, ...], what: Msg, label: str) -> None:
    """Admins and the system may do anything; others need one of ``allowed``."""
    roles = ctx.actor.roles
    if ctx.actor.is_admin or "system" in roles or any(r in roles for r in allowed):
        return
    raise refuse(ctx, Forbidden(Msg(
        "Your role may not {what}: that needs {roles}, and you have {yours}.",
        {"what": what, "roles": [*allowed, "admin"], "yours": sorted(roles)}),
        code="role_not_allowed"), label)


def qty_text(value: Decimal) -> str:
    """A quantity without trailing zeros (2, 1.5), never in exponent form."""
    return format(value.normalize(), "f") if value else "0"


# -- products -------------------------------------------------------------------------------


def _bom_json(items: Iterable[BomItem]) -> list[dict[str, Any]]:
    return [{"sku": i.sku, "qty": qty_text(i.qty)} for i in items]


def _check_bom(ctx: Ctx, sku: str, bom: list[BomItem], label: str) -> None:
    """Refuse a BOM naming itself, an unknown SKU, a SKU twice, or closing a cycle."""
    seen: set[str] = set()
    for item in bom:
        if item.sku == sku:
            raise refuse(ctx, Invalid(Msg("bom: product {sku} cannot be a component of itself.",
                                          {"sku": sku}), code="bom_self"), label)
        if item.sku in seen:
            raise refuse(ctx, Invalid(Msg("bom: {sku} is listed twice; give it once with the "
                                          "total quantity.", {"sku": item.sku}),
                                      code="bom_duplicate"), label)
        seen.add(item.sku)
    if not seen:
        return
    known = dict(ctx.session.execute(select(Product.sku, Product.bom)).all())
    unknown = sorted(seen - set(known))
    if unknown:
        raise refuse(ctx, Invalid(Msg("bom: unknown SKUs {unknown}; add them as products "
                                      "first.", {"unknown": unknown}),
                                  code="bom_unknown_sku"), label)
    # A cycle: some component reaches ``sku`` again through the stored BOMs.
    graph = {k: [c["sku"] for c in (v or [])] for k, v in known.items()}
    graph[sku] = sorted(seen)
    path = _cycle_from(graph, sku)
    if path:
        raise refuse(ctx, Invalid(Msg("bom: the components form a cycle: {path}.",
                                      {"path": " → ".join(path)}), code="bom_cycle"), label)


def _cycle_from(graph: dict[str, list[str]], start: str) -> list[str] | None:
    """A path start → … → start through the graph, or None."""
    stack: list[tuple[str, list[str]]] = [(c, [start, c]) for c in graph.get(start, [])]
    visited: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == start:
            return path
        if node in visited:
            continue
        visited.add(node)
        stack.extend((c, [*path, c]) for c in graph.get(node, []))
    return None


def _totals(session: Session, skus: list[str]) -> dict[str, tuple[Decimal, Decimal]]:
    """On hand and reserved per SKU over all warehouses (sum keeps the column's type)."""
    if not skus:
        return {}
    rows = session.execute(select(StockLevel.sku, func.sum(StockLevel.on_hand),
                                  func.sum(StockLevel.reserved))
                           .where(StockLevel.sku.in_(skus)).group_by(StockLevel.sku))
    return {r[0]: (r[1] or ZERO, r[2] or ZERO) for r in rows}


def product_read(p: Product, totals: tuple[Decimal, Decimal] = (ZERO, ZERO)) -> ProductRead:
    on_hand, reserved = totals
    return ProductRead(sku=p.sku, name=p.name, unit=p.unit, make_to_order=p.make_to_order,
                       bom=[BomItem(sku=c["sku"], qty=Decimal(c["qty"])) for c in p.bom or []],
                       on_hand=on_hand, reserved=reserved, available=on_hand - reserved,
                       created_at=p.created_at, updated_at=p.updated_at)


def get_product(session: Session, sku: str) -> Product:
    p = session.scalars(select(Product).where(Product.sku == sku)).first()
    if p is None:
        raise NotFound(Msg("No product {sku}.", {"sku": sku}), code="unknown_sku")
    return p


def read_product(session: Session, sku: str) -> ProductRead:
    p = get_product(session, sku)
    return product_read(p, _totals(session, [p.sku]).get(p.sku, (ZERO, ZERO)))


def list_products(session: Session, q: str | None = None, limit: int = 100,
                  cursor: str | None = None) -> ProductList:
    """Products by SKU; ``q`` matches SKU or name (case-insensitive substring)."""
    stmt = select(Product).order_by(Product.sku).limit(limit + 1)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(Product.sku).like(like),
                              func.lower(Product.name).like(like)))
    if cursor:
        stmt = stmt.where(Product.sku > cursor)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    totals = _totals(session, [p.sku for p in rows])
    return ProductList(items=[product_read(p, totals.get(p.sku, (ZERO, ZERO))) for p in rows],
                       next_cursor=rows[-1].sku if more else None)


def create_product(ctx: Ctx, data: ProductCreate) -> ProductRead:
    require(ctx, STOCK_ROLES, Msg("add products"), "product add")
    if ctx.session.scalar(select(Product.id).where(Product.sku == data.sku)) is not None:
        raise refuse(ctx, Conflict(Msg("Product {sku} already exists.", {"sku": data.sku}),
                                   code="duplicate_sku"), "product add")
    _check_bom(ctx, data.sku, data.bom, "product add")
    now = ctx.clock.now()
    p = Product(sku=data.sku, name=data.name, unit=data.unit, make_to_order=data.make_to_order,
                bom=_bom_json(data.bom), created_at=now, updated_at=now)
    ctx.session.add(p)
    ctx.session.flush()
    emit(ctx.session, "product.created", "product", p.sku,
         {"sku": p.sku, "name": p.name, "actor": ctx.actor.name, "at": now.isoformat()}, now)
    return product_read(p)


def update_product(ctx: Ctx, sku: str, data: ProductUpdate) -> ProductRead:
    require(ctx, STOCK_ROLES, Msg("change products"), "product update")
    p = get_product(ctx.session, sku)
    if data.bom is not None:
        _check_bom(ctx, sku, data.bom, "product update")
        p.bom = _bom_json(data.bom)
    for field in ("name", "unit", "make_to_order"):
        value = getattr(data, field)
        if value is not None:
            setattr(p, field, value)
    now = ctx.clock.now()
    p.updated_at = now
    ctx.session.flush()
    emit(ctx.session, "product.updated", "product", p.sku,
         {"sku": p.sku, "actor": ctx.actor.name, "at": now.isoformat()}, now)
    return read_product(ctx.session, sku)


# -- warehouses -----------------------------------------------------------------------------


def warehouse_read(w: Warehouse) -> WarehouseRead:
    return WarehouseRead(code=w.code, name=w.name, created_at=w.created_at)


def list_warehouses(session: Session) -> list[WarehouseRead]:
    return [warehouse_read(w) for w in session.scalars(select(Warehouse).order_by(Warehouse.id))]


def create_warehouse(ctx: Ctx, data: WarehouseCreate) -> WarehouseRead:
    require(ctx, STOCK_ROLES, Msg("add warehouses"), "warehouse add")
    if ctx.session.scalar(select(Warehouse.id).where(Warehouse.code == data.code)) is not None:
        raise refuse(ctx, Conflict(Msg("Warehouse {code} already exists.", {"code": data.code}),
                                   code="duplicate_warehouse"), "warehouse add")
    w = Warehouse(code=data.code, name=data.name, created_at=ctx.clock.now())
    ctx.session.add(w)
    ctx.session.flush()
    return warehouse_read(w)


def warehouse_ids(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Warehouse.code, Warehouse.id)).all())


def warehouse_id(ctx: Ctx, code: str, label: str) -> int:
    """The id of a warehouse code; Invalid naming the known codes."""
    wid = ctx.session.scalar(select(Warehouse.id).where(Warehouse.code == code))
    if wid is None:
        known = sorted(warehouse_ids(ctx.session))
        raise refuse(ctx, Invalid(Msg("Unknown warehouse {code} (known: {known}).",
                                      {"code": code, "known": known}),
                                  code="unknown_warehouse"), label)
    return int(wid)


def default_warehouse(session: Session) -> str:
    """The first warehouse (by creation); creates MAIN when there is none yet."""
    code = session.scalar(select(Warehouse.code).order_by(Warehouse.id).limit(1))
    if code is not None:
        return str(code)
    from ordertrail.kit.clock import SystemClock

    session.add(Warehouse(code=DEFAULT_WAREHOUSE, name="Main warehouse",
                          created_at=SystemClock().now()))
    session.flush()
    return DEFAULT_WAREHOUSE
