"""Inbound parcels: shipments that come to us (a supplier's delivery), not tied to a sales order.

The shipment hub tracks them like any other parcel (carrier detection, provider choice,
polling schedule, pushes, unmatched updates that arrived first); they have no order, so no
order timeline row and no flow trigger. Whoever calls this checks who may (procurement does).
"""

from __future__ import annotations

from ordertrail.carrier import registry
from ordertrail.context import Ctx
from ordertrail.errors import Conflict
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit
from ordertrail.models import Shipment
from ordertrail.shipment import repository as repo
from ordertrail.shipment import schedule
from ordertrail.shipment.ingest import normalise_number
from ordertrail.shipment.service import _resolve_carrier, attach_unmatched, choose_provider


def create_inbound_shipment(ctx: Ctx, tracking_number: str, carrier: str | None = None,
                            provider: str | None = None,
                            scenario: str | None = None) -> Shipment:
    """Start tracking an inbound parcel (``order_id`` NULL); emits ``shipment.created``
    with ``order_no`` None."""
    number = normalise_number(tracking_number.strip())
    slug, _detected = _resolve_carrier(number, carrier)
    taken = [s for s in repo.by_number(ctx.session, number) if s.carrier == slug]
    if taken:
        raise Conflict(Msg("{carrier} {number} is already tracked as shipment {id}.",
                           {"carrier": slug, "number": number, "id": taken[0].id}),
                       code="duplicate_tracking_number", shipment_id=taken[0].id)
    chosen = choose_provider(ctx, slug, provider)
    plugin = registry.get(chosen)
    now = ctx.clock.now()
    shipment = Shipment(
        order_id=None, carrier=slug, provider=chosen, tracking_number=number,
        status="pending", substatus="pending.registered", progress_rank=0, event_count=0,
        check_failures=0, shipped_at=now, created_at=now, updated_at=now,
        created_by=ctx.actor.user_id,
        next_check_at=schedule.next_check(
            key=number, status="pending", substatus="pending.registered", last_event_at=None,
            now=now, can_poll=bool(plugin and plugin.can_poll),
            pushes=bool(plugin and plugin.can_push), registered=plugin is None),
        registered_at=now if plugin is None else None,
        meta={"inbound": True, **({"scenario": scenario} if scenario else {})})
    ctx.session.add(shipment)
    ctx.session.flush()
    emit(ctx.session, "shipment.created", "shipment", str(shipment.id),
         {"shipment_id": shipment.id, "order_no": None, "carrier": slug,
          "tracking_number": number, "provider": chosen, "partial": False, "inbound": True,
          "at": now.isoformat()}, now)
    attach_unmatched(ctx, shipment)
    return shipment
