"""Order HTTP endpoints: authenticate, call one service function, return a schema."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime

from ordertrail.api.deps import Reader, Writer, lang, reader, writer
from ordertrail.context import Ctx
from ordertrail.flow import planner
from ordertrail.order import read, service
from ordertrail.order import repository as repo
from ordertrail.order.schemas import (
    ApprovalIn,
    NoteIn,
    OrderCreate,
    OrderPage,
    OrderRead,
    OrderStatus,
    OrderUpdate,
    Priority,
    Timeline,
    TransitionIn,
    TransitionOptions,
)

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
PROBLEMS = {
    400: {"description": "Malformed request"},
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this"},
    404: {"description": "Unknown order or flow"},
    409: {"description": "Not possible in the order's current state"},
    422: {"description": "Invalid field"},
}
OrderNo = Annotated[str, Query(max_length=64)]


@router.post("", status_code=201, response_model=OrderRead, responses=PROBLEMS)
async def create_order(body: OrderCreate, w: Writer = Depends(writer)) -> Response:
    """Create an order at the initial stage of the latest version of its flow."""

    def run(ctx: Ctx) -> OrderRead:
        return read.order_read(ctx, service.create_order(ctx, body))

    return await w.arun(run, status_code=201)


@router.get("", response_model=OrderPage, responses=PROBLEMS)
async def list_orders(
    r: Reader = Depends(reader),
    stage: Annotated[list[str] | None, Query(description="stage id; repeat or comma-separate")]
    = None,
    flow: str | None = None,
    status: OrderStatus | None = None,
    customer: Annotated[str | None, Query(description="exact name, phone or email")] = None,
    priority: Priority | None = None,
    channel: str | None = None,
    created_from: AwareDatetime | None = None,
    created_to: AwareDatetime | None = None,
    promised_from: AwareDatetime | None = None,
    promised_to: AwareDatetime | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description=(
        "order number prefix, exact external ref or phone, or part of the customer name"))]
    = None,
    sort: Annotated[str, Query(description="created_at, stage_entered_at or order_no; "
                                           "prefix - for descending")] = "-created_at",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """List orders, newest first by default, one keyset page at a time."""
    stages = [s for item in (stage or []) for s in item.split(",") if s]
    flt = repo.OrderFilter(stage=stages, flow=flow, status=status.value if status else None,
                           customer=customer, priority=priority.value if priority else None,
                           channel=channel, created_from=created_from, created_to=created_to,
                           promised_from=promised_from, promised_to=promised_to, q=q)
    return await r.run(lambda ctx: read.order_page(ctx, flt, sort, cursor, limit))


@router.get("/{order_no}", response_model=OrderRead, responses=PROBLEMS)
async def get_order(order_no: str, r: Reader = Depends(reader)) -> Response:
    """One order with its lines, stage and pending approval."""
    return await r.run(lambda ctx: read.order_read(ctx, service.get_order(ctx, order_no)))


@router.patch("/{order_no}", response_model=OrderRead, responses=PROBLEMS)
async def update_order(order_no: str, body: OrderUpdate,
                       w: Writer = Depends(writer)) -> Response:
    """Change editable fields (lines only at the flow's first stage)."""
    return await w.arun(lambda ctx: read.order_read(ctx, service.update_order(ctx, order_no, body)))


@router.get("/{order_no}/transitions", response_model=TransitionOptions, responses=PROBLEMS)
async def list_transitions(order_no: str, r: Reader = Depends(reader),
                           language: str = Depends(lang)) -> Response:
    """The next steps from the current stage, and for each whether you may take it, and why not."""
    return await r.run(lambda ctx: read.options(ctx, order_no, language))


async def _act(w: Writer, order_no: str, request: planner.Request) -> Response:
    return await w.arun(lambda ctx: read.order_read(ctx, service.act(ctx, order_no, request)))


@router.post("/{order_no}/transitions", response_model=OrderRead, responses=PROBLEMS)
async def transition(order_no: str, body: TransitionIn, w: Writer = Depends(writer)) -> Response:
    """Move the order to another stage, if the flow and your role allow it."""
    return await _act(w, order_no, planner.Advance(body.to, body.note, body.expected_stage))


@router.post("/{order_no}/approvals", response_model=OrderRead, responses=PROBLEMS)
async def approve(order_no: str, body: ApprovalIn, w: Writer = Depends(writer)) -> Response:
    """Approve or reject the pending approval level."""
    return await _act(w, order_no, planner.Decide(body.decision.value, body.comment))


@router.post("/{order_no}/hold", response_model=OrderRead, responses=PROBLEMS)
async def hold(order_no: str, body: NoteIn, w: Writer = Depends(writer)) -> Response:
    """Put the order on hold; its stage clock pauses until it is resumed."""
    return await _act(w, order_no, planner.Hold(body.note))


@router.post("/{order_no}/resume", response_model=OrderRead, responses=PROBLEMS)
async def resume(order_no: str, body: NoteIn, w: Writer = Depends(writer)) -> Response:
    """Resume a held order at the stage where it was held."""
    return await _act(w, order_no, planner.Resume(body.note))


@router.post("/{order_no}/cancel", response_model=OrderRead, responses=PROBLEMS)
async def cancel(order_no: str, body: NoteIn, w: Writer = Depends(writer)) -> Response:
    """Cancel the order (a note saying why is required)."""
    return await _act(w, order_no, planner.Cancel(body.note))


@router.get("/{order_no}/timeline", response_model=Timeline, responses=PROBLEMS)
async def timeline(order_no: str, r: Reader = Depends(reader),
                   parcels: bool = Query(True, description="interleave carrier checkpoints")
                   ) -> Response:
    """Everything that happened to the order: who, in which role, when, why, from where."""
    return await r.run(lambda ctx: read.timeline(ctx, order_no, parcels))
