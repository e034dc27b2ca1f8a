"""procurement: outbox consumers — the inbound parcel's progress and its delivery."""

from __future__ import annotations

from ordertrail.context import Ctx
from ordertrail.jobs.registry import Event, consumer
from ordertrail.procurement import receiving


@consumer("procurement.inbound_delivered", "shipment.delivered")
def inbound_delivered(ctx: Ctx, event: Event) -> None:
    """A purchase order's parcel arrived: receive its open lines (when it says so)."""
    if event.payload.get("order_no") is not None:
        return  # a sales order's parcel, not an inbound one
    receiving.on_delivered(ctx, int(event.payload["shipment_id"]))


@consumer("procurement.inbound_progress", "shipment.status_changed")
def inbound_progress(ctx: Ctx, event: Event) -> None:
    """A purchase order's parcel is on its way (or in trouble): tell the waiting orders."""
    if event.payload.get("order_no") is not None:
        return
    receiving.on_status_changed(ctx, event.payload)
