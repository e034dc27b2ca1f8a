"""Shipment read models: what the API and CLI show."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from ordertrail.carrier.couriers import courier as courier_info
from ordertrail.carrier.status import Status
from ordertrail.context import Ctx
from ordertrail.errors import NotFound
from ordertrail.i18n import Msg
from ordertrail.models import Shipment
from ordertrail.order import service as orders
from ordertrail.shipment import repository as repo
from ordertrail.shipment.ingest import normalise_number
from ordertrail.shipment.schemas import (
    EventPage,
    EventRead,
    OrderShipments,
    Place,
    ShipmentLineRead,
    ShipmentRead,
    TrackRead,
    UnshippedLine,
)
from ordertrail.shipment.service import get_shipment, unshipped


def _qty(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001")).normalize() + Decimal(0)


def courier_label(slug: str, number: str) -> tuple[str | None, str | None]:
    """(display name, tracking URL) of a courier for a number."""
    info = courier_info(slug)
    if info is None:
        return None, None
    url = info.tracking_url.replace("%s", number) if info.tracking_url else None
    return info.name, url


def shipment_reads(ctx: Ctx, shipments: list[Shipment],
                   order_nos: dict[int, str] | None = None) -> list[ShipmentRead]:
    """Read models for several shipments with two queries (lines, order numbers)."""
    if not shipments:
        return []
    lines: dict[int, list[ShipmentLineRead]] = defaultdict(list)
    for r in repo.lines_of(ctx.session, [s.id for s in shipments]):
        lines[r.shipment_id].append(ShipmentLineRead(line_no=r.line_no, sku=r.sku,
                                                     name=r.name, qty=_qty(r.qty)))
    if order_nos is None:
        ids = {s.order_id for s in shipments if s.order_id is not None}
        order_nos = repo.order_numbers(ctx.session, ids) if ids else {}
    out = []
    for s in shipments:
        name, url = courier_label(s.carrier, s.tracking_number)
        out.append(ShipmentRead(
            id=s.id, order_no=order_nos.get(s.order_id) if s.order_id else None,
            carrier=s.carrier, carrier_name=name, provider=s.provider,
            tracking_number=s.tracking_number, tracking_url=url, service=s.service,
            status=s.status, substatus=s.substatus, last_event=s.last_event,
            last_event_at=s.last_event_at, last_location=s.last_location,
            origin=Place(city=s.origin_city, province=s.origin_province,
                         country=s.origin_country),
            destination=Place(city=s.destination_city, province=s.destination_province,
                              country=s.destination_country),
            weight_kg=s.weight_kg, shipped_at=s.shipped_at, carrier_eta=s.carrier_eta,
            eta=s.eta, delivered_at=s.delivered_at, event_count=s.event_count,
            lines=lines.get(s.id, []), registered_at=s.registered_at,
            last_checked_at=s.last_checked_at, next_check_at=s.next_check_at,
            stopped_reason=s.stopped_reason, created_at=s.created_at))
    return out


def shipment_read(ctx: Ctx, shipment: Shipment,
                  detected: list[dict[str, Any]] | None = None) -> ShipmentRead:
    read = shipment_reads(ctx, [shipment])[0]
    read.detected = detected
    return read


def order_shipments(ctx: Ctx, order_no: str) -> OrderShipments:
    """An order's parcels and what is still to ship."""
    order = orders.get_order(ctx, order_no, with_lines=True)
    shipments = repo.of_order(ctx.session, order.id)
    left = unshipped(ctx, order.id)
    rows = [UnshippedLine(line_no=ln.line_no, sku=ln.sku, name=ln.name, ordered=_qty(ln.qty),
                          shipped=_qty(ln.qty - left[ln.id]), unshipped=_qty(left[ln.id]))
            for ln in order.lines if left.get(ln.id, Decimal(0)) > 0]
    return OrderShipments(
        order_no=order.order_no,
        shipments=shipment_reads(ctx, shipments, {order.id: order.order_no}),
        unshipped=rows,
        all_delivered=bool(shipments) and not rows
        and all(s.status == Status.DELIVERED for s in shipments))


def _events(ctx: Ctx, shipment_id: int) -> list[EventRead]:
    return [EventRead(occurred_at=e.occurred_at, status=e.status, substatus=e.substatus,
                      description=e.description, location=e.location, code=e.code,
                      source=e.source, received_at=e.received_at)
            for e in repo.events_of(ctx.session, shipment_id)]


def event_page(ctx: Ctx, shipment_id: int) -> EventPage:
    """A shipment's events, newest first."""
    s = get_shipment(ctx, shipment_id)
    return EventPage(shipment_id=s.id, tracking_number=s.tracking_number, status=s.status,
                     substatus=s.substatus, events=_events(ctx, s.id))


def track(ctx: Ctx, number: str) -> TrackRead:
    """Everything known about a tracking number."""
    norm = normalise_number(number)
    shipments = repo.by_number(ctx.session, norm)
    if not shipments:
        raise NotFound(Msg("No shipment has tracking number {number}.", {"number": norm}),
                       code="unknown_tracking_number")
    return TrackRead(tracking_number=norm, shipments=shipment_reads(ctx, shipments),
                     events={s.id: _events(ctx, s.id) for s in shipments})
