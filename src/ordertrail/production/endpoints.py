"""HTTP API: work centers, routings, work orders (plan, start, steps, complete, QC)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from ordertrail.api.deps import Reader, Writer, reader, writer
from ordertrail.context import Ctx
from ordertrail.production import read, service
from ordertrail.production.schemas import (
    PlanRead,
    QcIn,
    RoutingIn,
    RoutingRead,
    StepComplete,
    WorkCenterCreate,
    WorkCenterList,
    WorkCenterRead,
    WorkOrderCreate,
    WorkOrderDetail,
    WorkOrderPage,
    WorkOrderStatus,
)

router = APIRouter(prefix="/api/v1", tags=["production"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this (changes need production, manager or "
                         "admin)"},
    404: {"description": "Unknown work order, step, work center, order, line or SKU"},
    409: {"description": "Not allowed in the work order's state (started twice, QC before "
                         "completion, steps still open, a line that already has one)"},
    422: {"description": "Invalid field (quantity ≤ 0, bad QC result, missing note, …)"},
}
WoId = Annotated[int, Path(ge=1)]
Sku = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/work-orders", response_model=WorkOrderPage, responses=PROBLEMS)
async def list_work_orders(
    r: Reader = Depends(reader),
    status: Annotated[WorkOrderStatus | None, Query()] = None,
    order_no: Annotated[str | None, Query(max_length=64)] = None,
    late: Annotated[bool | None, Query(description="only work orders behind plan now "
                                                    "(true) or on plan (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Work orders, newest first."""
    return await r.run(lambda ctx: read.page(ctx, status=status, order_no=order_no, late=late,
                                             limit=limit, cursor=cursor))


@router.post("/work-orders", response_model=WorkOrderDetail, status_code=201,
             responses=PROBLEMS)
async def create_work_order(body: WorkOrderCreate, w: Writer = Depends(writer)) -> Response:
    """A work order made by hand for one order line, scheduled at once."""
    return await w.arun(lambda ctx: read.detail(ctx, service.create_work_order(ctx, body)),
                        status_code=201)


@router.post("/orders/{order_no}/work-orders", response_model=PlanRead, responses=PROBLEMS)
async def plan_order(order_no: Annotated[str, Path(max_length=64)],
                     w: Writer = Depends(writer)) -> Response:
    """Plan the order's make-to-order lines (what entering material check does; idempotent)."""

    def run(ctx: Ctx) -> PlanRead:
        made = service.plan_for_order_no(ctx, order_no)
        now = ctx.clock.now()
        return PlanRead(order_no=order_no, work_orders=[read.wo_read(wo, order_no, now)
                                                        for wo in made])

    return await w.arun(run)


@router.get("/work-orders/{wo_id}", response_model=WorkOrderDetail, responses=PROBLEMS)
async def get_work_order(wo_id: WoId, r: Reader = Depends(reader)) -> Response:
    """One work order with its steps, components (and their stock), schedule and QC."""
    return await r.run(lambda ctx: read.detail(ctx, read.get_work_order(ctx.session, wo_id)))


@router.post("/work-orders/{wo_id}/start", response_model=WorkOrderDetail, responses=PROBLEMS)
async def start(wo_id: WoId, w: Writer = Depends(writer)) -> Response:
    """Start production; the components are issued from the order's reservations."""
    return await w.arun(lambda ctx: read.detail(ctx, service.start(ctx, wo_id)))


@router.post("/work-orders/{wo_id}/steps/{seq}/complete", response_model=WorkOrderDetail,
             responses=PROBLEMS)
async def complete_step(wo_id: WoId, seq: Annotated[int, Path(ge=1)],
                        body: StepComplete | None = None,
                        w: Writer = Depends(writer)) -> Response:
    """Mark step ``seq`` done (steps are done in order)."""
    note = body.note if body else None
    return await w.arun(lambda ctx: read.detail(ctx, service.complete_step(ctx, wo_id, seq,
                                                                           note)))


@router.post("/work-orders/{wo_id}/complete", response_model=WorkOrderDetail,
             responses=PROBLEMS)
async def complete(wo_id: WoId, w: Writer = Depends(writer)) -> Response:
    """Production finished (every step done): the work order waits for QC."""
    return await w.arun(lambda ctx: read.detail(ctx, service.complete(ctx, wo_id)))


@router.post("/work-orders/{wo_id}/qc", response_model=WorkOrderDetail, responses=PROBLEMS)
async def qc(wo_id: WoId, body: QcIn, w: Writer = Depends(writer)) -> Response:
    """Record QC: ``pass`` (done; goods into stock for the order) or ``fail`` with a note
    (rework)."""
    return await w.arun(lambda ctx: read.detail(ctx, service.record_qc(ctx, wo_id, body.result,
                                                                       body.note)))


@router.get("/work-centers", response_model=WorkCenterList, responses=PROBLEMS)
async def list_centers(r: Reader = Depends(reader)) -> Response:
    """Work centers with their capacity and calendar."""
    return await r.run(lambda ctx: WorkCenterList(items=read.list_centers(ctx.session)))


@router.post("/work-centers", response_model=WorkCenterRead, status_code=201,
             responses=PROBLEMS)
async def create_center(body: WorkCenterCreate, w: Writer = Depends(writer)) -> Response:
    """Add a work center."""
    return await w.arun(lambda ctx: read.center_read(service.create_work_center(ctx, body)),
                        status_code=201)


@router.get("/routings/{sku}", response_model=RoutingRead, responses=PROBLEMS)
async def get_routing(sku: Sku, r: Reader = Depends(reader)) -> Response:
    """A product's routing (or the default one-step routing)."""
    return await r.run(lambda ctx: service.get_routing(ctx.session, sku))


@router.put("/routings/{sku}", response_model=RoutingRead, responses=PROBLEMS)
async def put_routing(sku: Sku, body: RoutingIn, w: Writer = Depends(writer)) -> Response:
    """Replace a product's routing."""
    return await w.arun(lambda ctx: service.set_routing(ctx, sku, body))
