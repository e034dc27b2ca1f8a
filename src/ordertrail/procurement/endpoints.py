"""HTTP API: suppliers, purchase orders, suggestions, supplier links and receipts.

Staff endpoints need an API key; the supplier endpoints (``/api/v1/supplier/…`` and the page
``/supplier/po``) need only the signed token of the link.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ordertrail.api.deps import AppState, Reader, Writer, committer, get_state, reader, writer
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.procurement import links, pages, read, receiving, service, suggest, supplier
from ordertrail.procurement.schemas import (
    CancelIn,
    ConfirmIn,
    FromShortages,
    LinkRead,
    PoCreate,
    PoList,
    PoRead,
    ReceiptIn,
    SuggestionList,
    SupplierConfirm,
    SupplierCreate,
    SupplierDate,
    SupplierList,
    SupplierRead,
    SupplierTracking,
    SupplierView,
    TrackingIn,
)

api = APIRouter(prefix="/api/v1", tags=["procurement"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this (procurement, warehouse for receipts, "
                         "managers)"},
    404: {"description": "Unknown purchase order, supplier or warehouse"},
    409: {"description": "The purchase order is cancelled or fully received"},
    422: {"description": "Invalid input: unknown SKU, SKU not on the order, more than still "
                         "open, date in the past …"},
}
SUPPLIER_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The link is malformed or tampered with (logged)"},
    409: {"description": "The purchase order is cancelled or fully received"},
    410: {"description": "The link has expired (logged)"},
    422: {"description": "Invalid date or tracking number"},
}
PoNo = Annotated[str, Path(max_length=64)]


def po_out(ctx: Ctx, po_no: str) -> PoRead:
    return read.po_read(ctx.session, service.get_po(ctx, po_no))


# Suppliers -------------------------------------------------------------------------------


@api.get("/suppliers", response_model=SupplierList, responses=PROBLEMS)
async def list_suppliers(r: Reader = Depends(reader)) -> Response:
    """Suppliers by code."""
    return await r.run(lambda ctx: SupplierList(suppliers=[
        read.supplier_read(s) for s in service.list_suppliers(ctx.session)]))


@api.post("/suppliers", status_code=201, response_model=SupplierRead, responses=PROBLEMS)
async def create_supplier(body: SupplierCreate, w: Writer = Depends(writer)) -> Response:
    """Add a supplier (code, name, contact, lead time, locale of its link page)."""
    return await w.arun(lambda ctx: read.supplier_read(service.create_supplier(ctx, body)),
                        status_code=201)


# Purchase orders -------------------------------------------------------------------------


@api.get("/purchase-orders", response_model=PoList, responses=PROBLEMS)
async def list_purchase_orders(
    r: Reader = Depends(reader),
    status: Annotated[str | None, Query(max_length=24, description="a status, or open")] = None,
    supplier_code: Annotated[str | None, Query(alias="supplier", max_length=32)] = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Purchase orders, newest first."""
    return await r.run(lambda ctx: read.po_list(ctx.session, service.list_pos(
        ctx.session, status=status, supplier=supplier_code, sku=sku, limit=limit)))


@api.get("/purchase-orders/suggestions", response_model=SuggestionList, responses=PROBLEMS)
async def purchase_suggestions(
    r: Reader = Depends(reader),
    include_covered: Annotated[bool, Query(alias="all", description="also SKUs that open "
                                                                    "purchase orders cover")]
    = False,
) -> Response:
    """What to buy: inventory shortages per SKU, less what is already on order, with the
    waiting orders, the last supplier and the date it could come."""
    return await r.run(lambda ctx: suggest.suggestions(ctx, include_covered=include_covered))


@api.post("/purchase-orders/from-shortages", status_code=201, response_model=PoRead,
          responses=PROBLEMS)
async def po_from_shortages(body: FromShortages, w: Writer = Depends(writer)) -> Response:
    """A purchase order for the shortages (all, or the SKUs named); waiting orders are
    linked to it and told (timeline ``po_created``)."""
    return await w.arun(lambda ctx: read.po_read(ctx.session,
                                                 suggest.from_shortages(ctx, body)),
                        status_code=201)


@api.post("/purchase-orders", status_code=201, response_model=PoRead, responses=PROBLEMS)
async def create_purchase_order(body: PoCreate, w: Writer = Depends(writer)) -> Response:
    """A purchase order made by hand."""
    return await w.arun(lambda ctx: read.po_read(ctx.session, service.create_po(ctx, body)),
                        status_code=201)


@api.get("/purchase-orders/{po_no}", response_model=PoRead, responses=PROBLEMS)
async def get_purchase_order(po_no: PoNo, r: Reader = Depends(reader)) -> Response:
    """One purchase order: lines, the orders it serves, its parcel and its history."""
    return await r.run(lambda ctx: po_out(ctx, po_no))


def _then_read(po_no: str, fn: Callable[[Ctx], object]) -> Callable[[Ctx], PoRead]:
    def run(ctx: Ctx) -> PoRead:
        fn(ctx)
        return po_out(ctx, po_no)

    return run


@api.post("/purchase-orders/{po_no}/confirm", response_model=PoRead, responses=PROBLEMS)
async def confirm_purchase_order(po_no: PoNo, body: ConfirmIn,
                                 w: Writer = Depends(writer)) -> Response:
    """Record the supplier's confirmation (``date``: a new promised date; none: the current
    one). The orders it serves are told and their expected date follows."""
    return await w.arun(_then_read(po_no, lambda ctx: service.confirm(ctx, po_no, body.date,
                                                                       body.note)))


@api.post("/purchase-orders/{po_no}/send", response_model=LinkRead, responses=PROBLEMS)
async def send_purchase_order(po_no: PoNo, w: Writer = Depends(writer),
                              days: Annotated[int | None, Query(ge=1, le=links.MAX_DAYS)]
                              = None) -> Response:
    """Mark the purchase order sent and return the supplier's link."""
    def run(ctx: Ctx) -> LinkRead:
        service.mark_sent(ctx, po_no)
        return _link(ctx, po_no, days)

    return await w.arun(run)


@api.get("/purchase-orders/{po_no}/supplier-link", response_model=LinkRead,
         responses=PROBLEMS)
async def supplier_link(po_no: PoNo, w: Writer = Depends(writer),
                        days: Annotated[int | None, Query(ge=1, le=links.MAX_DAYS)] = None,
                        ) -> Response:
    """A signed link for the supplier (valid ``days``, default 30) on ``public_url``.
    (Runs as a write: the install key is created on first use.)"""
    return await w.arun(lambda ctx: _link(ctx, po_no, days))


def _link(ctx: Ctx, po_no: str, days: int | None) -> LinkRead:
    from ordertrail.i18n import Msg
    from ordertrail.order import service as orders

    orders.require_role(ctx, service.BUY_ROLES, Msg("issue supplier links"))
    po = service.get_po(ctx, po_no)
    token, expires = links.issue(ctx.session, ctx.settings, po.id, ctx.clock.now(),
                                 timedelta(days=days) if days else None)
    return LinkRead(po_no=po.po_no, url=links.url(ctx.settings, token), token=token,
                    expires_at=expires)


@api.post("/purchase-orders/{po_no}/tracking", response_model=PoRead, responses=PROBLEMS)
async def track_purchase_order(po_no: PoNo, body: TrackingIn,
                               w: Writer = Depends(writer)) -> Response:
    """Enter the inbound parcel's number for the supplier; the shipment hub tracks it and
    its delivery receives the goods (unless ``receive_on_delivery`` is off)."""
    return await w.arun(_then_read(po_no, lambda ctx: receiving.staff_tracking(
        ctx, po_no, body.carrier, body.tracking_number, body.provider)))


@api.post("/purchase-orders/{po_no}/receipts", response_model=PoRead, responses=PROBLEMS)
async def receive_purchase_order(po_no: PoNo, body: ReceiptIn,
                                 w: Writer = Depends(writer)) -> Response:
    """Goods in: each line goes into stock (and to waiting orders); refused whole if a SKU
    is not on the order or more than still open is given."""
    return await w.arun(_then_read(po_no, lambda ctx: receiving.receive(
        ctx, po_no, body.lines, warehouse=body.warehouse, note=body.note)))


@api.post("/purchase-orders/{po_no}/cancel", response_model=PoRead, responses=PROBLEMS)
async def cancel_purchase_order(po_no: PoNo, body: CancelIn | None = None,
                                w: Writer = Depends(writer)) -> Response:
    """Cancel what is still open."""
    reason = body.reason if body else None
    return await w.arun(_then_read(po_no, lambda ctx: service.cancel(ctx, po_no, reason)))


# Supplier systems: the token instead of an API key ---------------------------------------


async def _as_supplier(request: Request, state: AppState, token: str,
                       fn: Callable[[Ctx, supplier.Access], object]) -> SupplierView:
    client = request.client.host if request.client else None

    def verify() -> supplier.Access:
        with state.factory() as session:
            return supplier.check(session, state.settings, token, state.clock.now(), client)

    access = await run_in_threadpool(verify)

    def job(session: Session) -> SupplierView:
        ctx = Ctx(session, SYSTEM_ACTOR, state.clock, state.settings)
        fn(ctx, access)
        po = supplier.load(ctx, access)[0]
        return read.supplier_view(session, po, access.expires_at)

    return await committer(state).run(job)  # type: ignore[no-any-return]


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@api.get("/supplier/purchase-orders", response_model=SupplierView,
         responses=SUPPLIER_PROBLEMS, tags=["supplier"])
async def supplier_get(request: Request, t: Annotated[str, Query(max_length=512)],
                       state: AppState = Depends(get_state)) -> Response:
    """The purchase order a token opens (for supplier systems)."""
    return _json(await _as_supplier(request, state, t, lambda ctx, access: None))


@api.post("/supplier/purchase-orders/confirm", response_model=SupplierView,
          responses=SUPPLIER_PROBLEMS, tags=["supplier"])
async def supplier_confirm(request: Request, body: SupplierConfirm,
                           state: AppState = Depends(get_state)) -> Response:
    """The supplier confirms the delivery date."""
    return _json(await _as_supplier(request, state, body.token, lambda ctx, access:
                                    supplier.confirm(ctx, access, body.note)))


@api.post("/supplier/purchase-orders/date", response_model=SupplierView,
          responses=SUPPLIER_PROBLEMS, tags=["supplier"])
async def supplier_date(request: Request, body: SupplierDate,
                        state: AppState = Depends(get_state)) -> Response:
    """The supplier promises another delivery date."""
    return _json(await _as_supplier(request, state, body.token, lambda ctx, access:
                                    supplier.propose(ctx, access, body.date, body.note)))


@api.post("/supplier/purchase-orders/tracking", response_model=SupplierView,
          responses=SUPPLIER_PROBLEMS, tags=["supplier"])
async def supplier_tracking(request: Request, body: SupplierTracking,
                            state: AppState = Depends(get_state)) -> Response:
    """The supplier gives the inbound parcel's carrier and tracking number."""
    return _json(await _as_supplier(request, state, body.token, lambda ctx, access:
                                    supplier.tracking(ctx, access, body.carrier,
                                                      body.tracking_number)))


router = APIRouter()
router.include_router(api)
router.include_router(pages.router)
