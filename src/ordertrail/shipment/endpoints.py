"""Shipment HTTP endpoints: parcels of an order, events, lookup by tracking number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from ordertrail.api.deps import Reader, Writer, reader, writer
from ordertrail.context import Ctx
from ordertrail.shipment import read, service
from ordertrail.shipment.schemas import (
    EventPage,
    IngestResult,
    ManualEventIn,
    OrderShipments,
    ShipmentCreate,
    ShipmentRead,
    TrackRead,
)

router = APIRouter(prefix="/api/v1", tags=["shipments"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this"},
    404: {"description": "Unknown order, shipment or tracking number"},
    409: {"description": "Not possible in the current state (already shipped, duplicate)"},
    422: {"description": "Invalid field"},
}
OrderNo = Annotated[str, Path(max_length=64)]
ShipmentId = Annotated[int, Path(ge=1)]


@router.post("/orders/{order_no}/shipments", status_code=201, response_model=ShipmentRead,
             responses=PROBLEMS)
async def create_shipment(order_no: OrderNo, body: ShipmentCreate,
                          w: Writer = Depends(writer)) -> Response:
    """Put a parcel on the order; the carrier is detected from the number when not given."""

    def run(ctx: Ctx) -> ShipmentRead:
        shipment, detected = service.create_shipment(ctx, order_no, body)
        return read.shipment_read(ctx, shipment, detected)

    return await w.arun(run, status_code=201)


@router.get("/orders/{order_no}/shipments", response_model=OrderShipments, responses=PROBLEMS)
async def order_shipments(order_no: OrderNo, r: Reader = Depends(reader)) -> Response:
    """The order's parcels, what is still unshipped, and whether all have arrived."""
    return await r.run(lambda ctx: read.order_shipments(ctx, order_no))


@router.get("/shipments/{shipment_id}", response_model=ShipmentRead, responses=PROBLEMS)
async def get_shipment(shipment_id: ShipmentId, r: Reader = Depends(reader)) -> Response:
    """One parcel with its unified status and what it carries."""
    return await r.run(lambda ctx: read.shipment_read(ctx, service.get_shipment(ctx,
                                                                                shipment_id)))


@router.get("/shipments/{shipment_id}/events", response_model=EventPage, responses=PROBLEMS)
async def shipment_events(shipment_id: ShipmentId, r: Reader = Depends(reader)) -> Response:
    """The parcel's carrier checkpoints, newest first."""
    return await r.run(lambda ctx: read.event_page(ctx, shipment_id))


@router.post("/shipments/{shipment_id}/events", status_code=201, response_model=IngestResult,
             responses=PROBLEMS)
async def add_event(shipment_id: ShipmentId, body: ManualEventIn,
                    w: Writer = Depends(writer)) -> Response:
    """Enter a checkpoint by hand, for carriers without an API; the same event twice is
    stored once."""

    def run(ctx: Ctx) -> IngestResult:
        report = service.add_manual_event(ctx, shipment_id, body)
        shipment = service.get_shipment(ctx, shipment_id)
        ctx.session.refresh(shipment)
        return IngestResult(received=report.received, stored=report.stored,
                            duplicates=report.duplicates, unmatched=report.unmatched,
                            status=shipment.status, substatus=shipment.substatus)

    return await w.arun(run, status_code=201)


@router.get("/track/{tracking_number}", response_model=TrackRead, responses=PROBLEMS)
async def track(tracking_number: Annotated[str, Path(min_length=4, max_length=64)],
                r: Reader = Depends(reader)) -> Response:
    """Everything known about a tracking number: its shipments and their events."""
    return await r.run(lambda ctx: read.track(ctx, tracking_number))
