"""Shipment rules: create a parcel on an order, enter events by hand, read what is known."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from ordertrail.carrier import registry
from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.couriers import courier as courier_info
from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Invalid, NotFound
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit
from ordertrail.models import Order, OrderLine, Shipment, ShipmentLine, TimelineEntry
from ordertrail.order import service as orders
from ordertrail.shipment import accounts, codec, schedule
from ordertrail.shipment import repository as repo
from ordertrail.shipment.ingest import IngestReport, fire, ingest
from ordertrail.shipment.schemas import ManualEventIn, ShipmentCreate

SHIP_ROLES: tuple[str, ...] = ("warehouse", "service", "manager")
MANUAL = "manual"
MIN_CONFIDENCE = 0.5
# Couriers whose numbers Kuaidi100 covers best; others go to 17TRACK when it is configured.
_DOMESTIC = frozenset({"sf", "jd", "yto", "zto", "sto", "yunda", "ems", "jtexpress",
                       "deppon", "cainiao"})


def _configured(ctx: Ctx, slug: str) -> bool:
    plugin = registry.get(slug)
    return plugin is not None and accounts.configured(ctx.session, ctx.settings, plugin)


def choose_provider(ctx: Ctx, carrier: str, requested: str | None) -> str:
    """Who tracks a new shipment: asked for, configured default, or the first configured."""
    if requested:
        if requested != MANUAL and registry.get(requested) is None:
            raise Invalid(Msg("Unknown tracking provider {provider}; known: {known}.",
                              {"provider": requested,
                               "known": [MANUAL, *sorted(registry.providers())]}),
                          code="unknown_provider")
        return requested
    if ctx.settings.tracking_provider:
        return ctx.settings.tracking_provider
    if carrier in _DOMESTIC and _configured(ctx, "kuaidi100"):
        return "kuaidi100"
    if _configured(ctx, "track17"):
        return "track17"
    return MANUAL


def _resolve_carrier(number: str, carrier: str | None) -> tuple[str, list[dict[str, Any]] | None]:
    if carrier:
        info = courier_info(carrier)
        if info is None:
            raise Invalid(Msg("Unknown carrier {carrier}; see GET /api/v1/carriers for the "
                              "list.", {"carrier": carrier}), code="unknown_carrier")
        return info.slug, None
    from ordertrail.carrier.detect import detect  # compiles the number specs on first use

    found = detect(number)
    if not found.candidates:
        raise Invalid(Msg("Cannot tell the carrier of {number} from its format; send "
                          "\"carrier\".", {"number": number}), code="carrier_not_detected")
    ranked = [{"carrier": c.carrier, "confidence": c.confidence,
               "checksum_valid": c.checksum_valid} for c in found.candidates]
    best = found.candidates[0]
    # Guessing wrong is worse than asking: a weak or failed-check-digit match is not used.
    if best.confidence < MIN_CONFIDENCE or best.checksum_valid is False:
        raise Invalid(Msg("{number} could be {candidates}; send \"carrier\".",
                          {"number": number,
                           "candidates": [f"{c['carrier']} ({c['confidence']:.2f})"
                                          for c in ranked[:4]]}),
                      code="carrier_ambiguous", candidates=ranked)
    return best.carrier, ranked


def unshipped(ctx: Ctx, order_id: int) -> dict[int, Decimal]:
    """Quantity still to ship, per order line id."""
    lines = ctx.session.execute(select(OrderLine.id, OrderLine.qty)
                                .where(OrderLine.order_id == order_id)).all()
    shipped = repo.shipped_qty(ctx.session, order_id)
    return {lid: qty - shipped.get(lid, Decimal(0)) for lid, qty in lines}


def _lines(order: Order, data: ShipmentCreate,
           left: dict[int, Decimal]) -> list[tuple[int, Decimal]]:
    by_no = {line.line_no: line for line in order.lines}
    if data.lines is None:
        picked = [(lid, qty) for lid, qty in left.items() if qty > 0]
        if not picked:
            raise Conflict(Msg("Everything on order {order_no} has shipped already.",
                               {"order_no": order.order_no}), code="nothing_to_ship")
        return picked
    out: dict[int, Decimal] = {}
    for item in data.lines:
        if item.line_no is not None:
            line = by_no.get(item.line_no)
            if line is None:
                raise Invalid(Msg("Order {order_no} has no line {line_no}.",
                                  {"order_no": order.order_no, "line_no": item.line_no}),
                              code="unknown_line")
        else:
            matches = [ln for ln in order.lines if ln.sku == item.sku]
            if len(matches) != 1:
                raise Invalid(Msg("SKU {sku} is on {count} lines of order {order_no}; give "
                                  "line_no.", {"sku": item.sku, "count": len(matches),
                                               "order_no": order.order_no}),
                              code="ambiguous_sku")
            line = matches[0]
        out[line.id] = out.get(line.id, Decimal(0)) + item.qty
        if out[line.id] > left.get(line.id, Decimal(0)):
            raise Conflict(Msg("Line {line_no} ({sku}) has {left} left to ship, not {qty}.",
                               {"line_no": line.line_no, "sku": line.sku,
                                "left": str(left.get(line.id, Decimal(0)).normalize()),
                                "qty": str(out[line.id].normalize())}),
                           code="over_shipped")
    return list(out.items())


def create_shipment(ctx: Ctx, order_no: str,
                    data: ShipmentCreate) -> tuple[Shipment, list[dict[str, Any]] | None]:
    """Put a parcel on an order; fires the flow's ``shipment.created`` trigger.

    Returns the shipment and, when the carrier was detected, the ranked candidates.
    """
    role = orders.require_role(ctx, SHIP_ROLES, Msg("create shipments"))
    order = orders.get_order(ctx, order_no, with_lines=True, for_update=True)
    if order.status == "cancelled":
        raise Conflict(Msg("Order {order_no} is cancelled.", {"order_no": order_no}),
                       code="order_cancelled")
    carrier, detected = _resolve_carrier(data.tracking_number, data.carrier)
    taken = [s for s in repo.by_number(ctx.session, data.tracking_number)
             if s.carrier == carrier]
    if taken:
        other = repo.order_numbers(ctx.session, [taken[0].order_id]) if taken[0].order_id else {}
        raise Conflict(Msg("{carrier} {number} is already shipment {id} of order {order_no}.",
                           {"carrier": carrier, "number": data.tracking_number,
                            "id": taken[0].id,
                            "order_no": other.get(taken[0].order_id or 0, "-")}),
                       code="duplicate_tracking_number", shipment_id=taken[0].id)
    picked = _lines(order, data, unshipped(ctx, order.id))
    provider = choose_provider(ctx, carrier, data.provider)
    now = ctx.clock.now()
    plugin = registry.get(provider)
    origin, dest = data.origin, data.destination
    shipment = Shipment(
        order_id=order.id, carrier=carrier, provider=provider, service=data.service,
        tracking_number=data.tracking_number,
        origin_city=origin.city if origin else None,
        origin_province=origin.province if origin else None,
        origin_country=origin.country if origin else None,
        destination_city=dest.city if dest else order.customer_city,
        destination_province=dest.province if dest else order.customer_province,
        destination_country=dest.country if dest else order.customer_country,
        weight_kg=data.weight_kg, shipped_at=data.shipped_at or now,
        status="pending", substatus="pending.registered", progress_rank=0, event_count=0,
        check_failures=0, created_at=now, updated_at=now, created_by=ctx.actor.user_id,
        next_check_at=schedule.next_check(
            key=data.tracking_number, status="pending", substatus="pending.registered",
            last_event_at=None, now=now, can_poll=bool(plugin and plugin.can_poll),
            pushes=bool(plugin and plugin.can_push), registered=plugin is None),
        registered_at=now if plugin is None else None, meta=_meta(data, order),
    )
    ctx.session.add(shipment)
    ctx.session.flush()
    ctx.session.execute(insert(ShipmentLine.__table__), [
        {"shipment_id": shipment.id, "order_line_id": lid, "qty": qty} for lid, qty in picked])
    number_of = {line.id: line.line_no for line in order.lines}
    left = {k: v for k, v in unshipped(ctx, order.id).items() if v > 0}
    ctx.session.execute(insert(TimelineEntry.__table__), {
        "order_id": order.id, "at": now, "kind": "shipment_created",
        "actor_id": ctx.actor.user_id, "actor": ctx.actor.name, "role": role,
        "from_stage": None, "to_stage": None,
        "note": f"{carrier} {data.tracking_number}", "source": ctx.actor.source,
        "data": {"shipment_id": shipment.id, "carrier": carrier,
                 "tracking_number": data.tracking_number, "provider": provider,
                 "lines": {str(number_of[lid]): str(qty) for lid, qty in picked},
                 "unshipped_lines": sorted(number_of[lid] for lid in left)}})
    emit(ctx.session, "shipment.created", "shipment", str(shipment.id),
         {"shipment_id": shipment.id, "order_no": order.order_no, "carrier": carrier,
          "tracking_number": data.tracking_number, "provider": provider,
          "partial": bool(left), "at": now.isoformat()}, now)
    fire(ctx, order.order_no, "shipment.created")
    attach_unmatched(ctx, shipment)
    return shipment, detected


def _meta(data: ShipmentCreate, order: Order) -> dict[str, Any]:
    # What a provider may need to subscribe: SF asks for the receiver's phone, of which only
    # the last four digits are kept; the simulated carrier takes a scenario.
    phone = "".join(ch for ch in (data.phone or order.customer_phone or "") if ch.isdigit())
    meta: dict[str, Any] = {}
    if phone:
        meta["phone_last4"] = phone[-4:]
    if data.scenario:
        meta["scenario"] = data.scenario
    return meta


def attach_unmatched(ctx: Ctx, shipment: Shipment) -> IngestReport | None:
    """Feed updates that arrived before the shipment existed; mark them attached."""
    waiting = repo.unmatched_for(ctx.session, shipment.tracking_number)
    if not waiting:
        return None
    report = IngestReport()
    now = ctx.clock.now()
    for item in waiting:
        part = ingest(ctx, item.provider, [codec.load(item.payload)], item.source)
        report.received += part.received
        report.stored += part.stored
        item.attached_at = now
        item.shipment_id = shipment.id
    ctx.session.flush()
    return report


def get_shipment(ctx: Ctx, shipment_id: int) -> Shipment:
    shipment = repo.get(ctx.session, shipment_id)
    if shipment is None:
        raise NotFound(Msg("No shipment {id}.", {"id": shipment_id}), code="unknown_shipment")
    return shipment


def add_manual_event(ctx: Ctx, shipment_id: int, data: ManualEventIn) -> IngestReport:
    """Record a checkpoint typed in by hand (carriers without an API)."""
    orders.require_role(ctx, SHIP_ROLES, Msg("enter tracking events"))
    shipment = get_shipment(ctx, shipment_id)
    event = CarrierEvent(occurred_at=data.occurred_at, status=data.status.value,
                         substatus=data.substatus or f"{data.status.value}.other",
                         description=data.description, code=data.code, location=data.location)
    if data.occurred_at > ctx.clock.now():
        raise Invalid(Msg("occurred_at is in the future."), code="event_in_future")
    update = TrackingUpdate(shipment.tracking_number, (event,), courier=shipment.carrier)
    return ingest(ctx, shipment.provider, [update], MANUAL)
