"""Read models of an order: detail, timeline, next steps."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ordertrail.context import Ctx
from ordertrail.flow import planner
from ordertrail.flow.definition import FlowDef, StageKind
from ordertrail.models import Order
from ordertrail.order import repository as repo
from ordertrail.order import service
from ordertrail.order.schemas import (
    ApprovalStatus,
    CustomerRead,
    Label,
    LineRead,
    OrderPage,
    OrderRead,
    OrderSummary,
    Timeline,
    TimelineItem,
    TransitionOption,
    TransitionOptions,
    WaitingRead,
)

CENT = Decimal("0.01")


def _qty(value: Decimal) -> Decimal:
    """A quantity without trailing zeros (2, 1.5), never in exponent form."""
    return Decimal(format(value.normalize(), "f"))


def _price(value: Decimal) -> Decimal:
    """A unit price with two decimals, or more when it has them."""
    return value.quantize(CENT) if value == value.quantize(CENT) else _qty(value)


def _label(text: object) -> Label:
    en = getattr(text, "en", str(text))
    zh = getattr(text, "zh", str(text))
    return Label(en=en, zh=zh)


def approval_status(ctx: Ctx, order: Order, flow: FlowDef) -> ApprovalStatus | None:
    stage = flow.stage(order.stage)
    if stage.kind != StageKind.APPROVAL or order.status not in ("active", "on_hold"):
        return None
    visit = repo.current_visit(ctx.session, order.id)
    votes = list(repo.votes(ctx.session, visit.id)) if visit else []
    state = planner.OrderState(order.order_no, order.stage, order.status, service.facts(order),
                               tuple(planner.Vote(v.level, v.user_id, v.decision) for v in votes))
    pos, count, level = planner.pending_level(stage, state)
    return ApprovalStatus(
        stage=stage.id, pending_level=level.id if level else None,
        pending_level_name=_label(level.name) if level else None, position=pos, levels=count,
        required=level.required if level else None,
        approvals=[{"level": v.level, "user_id": v.user_id, "user": v.user_name, "role": v.role,
                    "decision": v.decision, "comment": v.comment, "at": v.at} for v in votes],
    )


def order_read(ctx: Ctx, order: Order) -> OrderRead:
    version, flow = service.flow_of(ctx, order)
    stage = flow.stage(order.stage)
    return OrderRead(
        order_no=order.order_no, flow=order.flow_id, flow_version=version, stage=order.stage,
        stage_name=_label(stage.name), status=order.status,
        stage_entered_at=order.stage_entered_at, responsible_role=stage.responsible,
        customer=CustomerRead(name=order.customer_name, phone=order.customer_phone,
                              email=order.customer_email, country=order.customer_country,
                              province=order.customer_province, city=order.customer_city,
                              address=order.customer_address),
        lines=[LineRead(line_no=ln.line_no, sku=ln.sku, name=ln.name, qty=_qty(ln.qty),
                        unit_price=_price(ln.unit_price), amount=ln.amount)
               for ln in order.lines],
        currency=order.currency, subtotal=order.subtotal, shipping_fee=order.shipping_fee,
        discount=order.discount, total=order.total, channel=order.channel,
        priority=order.priority, promised_at=order.promised_at,
        external_source=order.external_source, external_ref=order.external_ref,
        tags=list(order.tags or []), custom=dict(order.custom or {}),
        created_at=order.created_at, updated_at=order.updated_at,
        approval=approval_status(ctx, order, flow),
        waiting=waiting_of(ctx, order),
    )


def waiting_of(ctx: Ctx, order: Order) -> WaitingRead | None:
    """What the order waits for outside its flow (short stock), or None."""
    if order.status not in ("active", "on_hold"):
        return None
    from ordertrail.inventory import read as stock  # a domain below the order read

    return stock.waiting_of(ctx.session, order.id)


def order_page(ctx: Ctx, flt: repo.OrderFilter, sort: str, cursor: str | None,
               limit: int) -> OrderPage:
    rows, next_cursor = repo.list_orders(ctx.session, flt, sort, cursor, limit)
    return OrderPage(items=[order_summary(o) for o in rows], next_cursor=next_cursor)


def order_summary(order: Any) -> OrderSummary:
    return OrderSummary(
        order_no=order.order_no, flow=order.flow_id, stage=order.stage, status=order.status,
        stage_entered_at=order.stage_entered_at, customer_name=order.customer_name,
        total=order.total, currency=order.currency, priority=order.priority,
        channel=order.channel, promised_at=order.promised_at, external_ref=order.external_ref,
        created_at=order.created_at)


def timeline(ctx: Ctx, order_no: str, parcels: bool = True) -> Timeline:
    """Stage changes, approvals, notes and (with ``parcels``) carrier checkpoints, by time."""
    from ordertrail.shipment import repository as shipments

    order = service.get_order(ctx, order_no, with_lines=False)
    items = [
        TimelineItem(at=e.at, kind=e.kind, actor=e.actor, role=e.role, from_stage=e.from_stage,
                     to_stage=e.to_stage, note=e.note, source=e.source, data=e.data or {})
        for e in repo.timeline(ctx.session, order.id)]
    if parcels:
        # Exceptions and failed attempts already have their own row; do not show them twice.
        told = {(i.data.get("shipment_id"), i.at, i.data.get("substatus")) for i in items
                if i.kind in ("parcel_exception", "delivery_failed")}
        items.extend(
            TimelineItem(at=r.occurred_at, kind="parcel_event", actor=r.carrier, role=None,
                         from_stage=None, to_stage=None, note=r.description, source=r.source,
                         data={"shipment_id": r.id, "tracking_number": r.tracking_number,
                               "status": r.status, "substatus": r.substatus,
                               "location": r.location, "code": r.code})
            for r in shipments.events_of_order(ctx.session, order.id)
            if (r.id, r.occurred_at, r.substatus) not in told)
        items.sort(key=lambda i: i.at)
    return Timeline(order_no=order.order_no, items=items)


def options(ctx: Ctx, order_no: str, lang: str = "en") -> TransitionOptions:
    order = service.get_order(ctx, order_no, with_lines=False)
    _version, flow = service.flow_of(ctx, order)
    state = service.state_of(ctx, order, flow)
    items = [
        TransitionOption(to=o.to, action=o.action, label=_label(o.label), allowed=o.allowed,
                         reason=(o.reason.render(lang) if hasattr(o.reason, "render")
                                 else o.reason),
                         code=o.code, automatic=o.automatic)
        for o in planner.options(flow, state, ctx.actor)
    ]
    return TransitionOptions(order_no=order.order_no, stage=order.stage, status=order.status,
                             items=items)
