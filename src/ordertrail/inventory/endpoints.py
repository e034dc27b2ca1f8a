"""HTTP API: products, warehouses, stock and its ledger, order availability and
reservations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.orm import Session

from ordertrail.api.deps import Reader, Writer, reader, stock_committer, writer
from ordertrail.context import Ctx
from ordertrail.inventory import ledger, service
from ordertrail.inventory.read import order_id_of
from ordertrail.inventory.schemas import (
    AvailabilityRead,
    MovementIn,
    MovementPage,
    MovementResult,
    ProductCreate,
    ProductList,
    ProductRead,
    ProductUpdate,
    ReleaseIn,
    ReservationsRead,
    StockList,
    WarehouseCreate,
    WarehouseList,
    WarehouseRead,
)

router = APIRouter(prefix="/api/v1", tags=["inventory"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this (stock: warehouse, manager or admin; "
                         "receipts also procurement)"},
    404: {"description": "Unknown product or order"},
    409: {"description": "Not enough free stock; the product or warehouse already exists"},
    422: {"description": "Invalid input: unknown SKU or warehouse, zero or negative "
                         "quantity, transfer to the same warehouse, BOM naming itself, an "
                         "unknown SKU or forming a cycle (the reason is given)"},
}
Sku = Annotated[str, Path(max_length=64)]
OrderNo = Annotated[str, Path(max_length=64)]


@router.get("/products", response_model=ProductList, responses=PROBLEMS)
async def list_products(
    r: Reader = Depends(reader),
    q: Annotated[str | None, Query(max_length=64, description="part of SKU or name")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Products by SKU, with stock totals over all warehouses."""
    return await r.run(lambda ctx: service.list_products(ctx.session, q, limit, cursor))


@router.post("/products", status_code=201, response_model=ProductRead, responses=PROBLEMS)
async def create_product(body: ProductCreate, w: Writer = Depends(writer)) -> Response:
    """Add a product, e.g. ``{"sku": "PUMP-7", "name": "Pump", "make_to_order": true,
    "bom": [{"sku": "BOLT-M8", "qty": 2}]}``."""
    return await w.arun(lambda ctx: service.create_product(ctx, body), status_code=201)


@router.get("/products/{sku}", response_model=ProductRead, responses=PROBLEMS)
async def get_product(sku: Sku, r: Reader = Depends(reader)) -> Response:
    """One product with its BOM and stock totals."""
    return await r.run(lambda ctx: service.read_product(ctx.session, sku))


@router.put("/products/{sku}", response_model=ProductRead, responses=PROBLEMS)
async def update_product(sku: Sku, body: ProductUpdate, w: Writer = Depends(writer),
                         ) -> Response:
    """Change a product; fields not sent keep their value."""
    return await w.arun(lambda ctx: service.update_product(ctx, sku, body))


@router.get("/warehouses", response_model=WarehouseList, responses=PROBLEMS)
async def list_warehouses(r: Reader = Depends(reader)) -> Response:
    """Warehouses in the order they were added."""
    return await r.run(lambda ctx: WarehouseList(items=service.list_warehouses(ctx.session)))


@router.post("/warehouses", status_code=201, response_model=WarehouseRead, responses=PROBLEMS)
async def create_warehouse(body: WarehouseCreate, w: Writer = Depends(writer)) -> Response:
    """Add a warehouse."""
    return await w.arun(lambda ctx: service.create_warehouse(ctx, body), status_code=201)


@router.get("/stock", response_model=StockList, responses=PROBLEMS)
async def list_stock(
    r: Reader = Depends(reader),
    sku: Annotated[str | None, Query(max_length=64)] = None,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Stock levels per SKU and warehouse: on hand, reserved, available."""
    return await r.run(lambda ctx: service.list_stock(ctx.session, sku, warehouse))


@router.get("/stock/movements", response_model=MovementPage, responses=PROBLEMS)
async def list_movements(
    r: Reader = Depends(reader),
    sku: Annotated[str | None, Query(max_length=64)] = None,
    warehouse: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(description="receipt, issue, adjustment, transfer")
                    ] = None,
    ref_type: Annotated[str | None, Query(max_length=32)] = None,
    ref_id: Annotated[str | None, Query(max_length=64)] = None,
    order_no: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The movement ledger, newest first."""
    return await r.run(lambda ctx: service.list_movements(
        ctx.session, sku=sku, warehouse=warehouse, kind=kind, ref_type=ref_type,
        ref_id=ref_id, order_no=order_no, limit=limit, cursor=cursor))


@router.post("/stock/movements", status_code=201, response_model=MovementResult,
             responses=PROBLEMS)
async def post_movement(body: MovementIn, w: Writer = Depends(writer)) -> Response:
    """Record a receipt, issue, adjustment (±) or transfer (two legs), with its reason.
    Stock that becomes free goes to the orders waiting for it."""

    def run(ctx: Ctx) -> MovementResult:
        moves = service.move(ctx, body)
        return MovementResult(
            movements=ledger.list_movements_by_ids(ctx.session, [m.id for m in moves]),
            stock=[s for m in moves
                   for s in service.list_stock(ctx.session, m.sku, m.warehouse).items])

    return await w.arun(run, status_code=201)


@router.get("/orders/{order_no}/availability", response_model=AvailabilityRead,
            responses=PROBLEMS)
async def availability(order_no: OrderNo, r: Reader = Depends(reader)) -> Response:
    """Per need line: available, partial or short by N, with free stock per warehouse."""
    return await r.run(lambda ctx: service.availability(ctx.session, order_no))


@router.get("/orders/{order_no}/reservations", response_model=ReservationsRead,
            responses=PROBLEMS)
async def reservations(order_no: OrderNo, r: Reader = Depends(reader)) -> Response:
    """What is held for the order, and what it waits for (reason, expected date)."""
    return await r.run(lambda ctx: service.reservations_read(ctx.session, order_no))


@router.post("/orders/{order_no}/reservations", response_model=ReservationsRead,
             responses=PROBLEMS)
async def reserve(order_no: OrderNo, w: Writer = Depends(writer)) -> Response:
    """Reserve now what is still missing (idempotent); a shortfall waits for stock."""

    if w.key is None:
        # Concurrent requests of one user share one reserve_orders() call in the group
        # commit; each gets its own answer after the commit (an Idempotency-Key goes the
        # writer's usual way, which stores the answer for retries).
        result = await stock_committer(w.state).run_batched(
            ("reserve", w.actor.user_id, w.actor.name), order_no, _Reserve(w))
        return Response(result.model_dump_json().encode(), media_type="application/json")

    def run(ctx: Ctx) -> ReservationsRead:
        service.reserve_order(ctx, order_id_of(ctx.session, order_no))
        return service.reservations_read(ctx.session, order_no)

    return await w.arun(run)


class _Reserve:
    """Merge for the group commit: one user's reservation requests of a group at once."""

    def __init__(self, w: Writer) -> None:
        self.actor, self.state = w.actor, w.state

    def __call__(self, session: Session, order_nos: list[str]) -> list[ReservationsRead]:
        ctx = Ctx(session, self.actor, self.state.clock, self.state.settings)
        service.reserve_numbers(ctx, order_nos)
        return [service.reservations_read(session, no) for no in order_nos]


@router.delete("/orders/{order_no}/reservations", response_model=ReservationsRead,
               responses=PROBLEMS)
async def release(order_no: OrderNo, body: ReleaseIn | None = None,
                  w: Writer = Depends(writer)) -> Response:
    """Release everything held for the order (and stop waiting); the stock goes to the
    orders waiting for it."""

    def run(ctx: Ctx) -> ReservationsRead:
        reason = body.reason if body else f"released by {ctx.actor.name}"
        service.release_order(ctx, order_id_of(ctx.session, order_no), reason)
        return service.reservations_read(ctx.session, order_no)

    return await w.arun(run)
