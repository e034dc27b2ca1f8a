"""Order business rules: the only place that changes orders. Services never commit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError

from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Forbidden, NotFound, TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.flow import service as flows
from ordertrail.flow.definition import FlowDef, StageKind
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit
from ordertrail.kit.clock import ensure_utc
from ordertrail.models import Approval, Order, OrderLine, StageVisit, TimelineEntry
from ordertrail.order import repository as repo
from ordertrail.order.numbering import next_numbers
from ordertrail.order.schemas import LineIn, OrderCreate, OrderUpdate

EDIT_ROLES = ("sales", "service", "manager")
CENT = Decimal("0.01")


def facts(order: Order) -> dict[str, Any]:
    """What flow conditions can see of an order."""
    return {
        "total": order.total,
        "subtotal": order.subtotal,
        "currency": order.currency,
        "channel": order.channel or "",
        "priority": order.priority,
        "line_count": order.line_count,
        "qty": order.total_qty,
        "tags": list(order.tags or []),
        "customer": {
            "name": order.customer_name, "phone": order.customer_phone or "",
            "email": order.customer_email or "", "country": order.customer_country or "",
            "province": order.customer_province or "", "city": order.customer_city or "",
        },
        "custom": dict(order.custom or {}),
        "flow": order.flow_id,
        "stage": order.stage,
        "external_source": order.external_source,
    }


def _lines(order: Order, lines: list[LineIn]) -> None:
    rows = []
    subtotal = Decimal(0)
    qty = Decimal(0)
    for n, line in enumerate(lines, start=1):
        amount = (line.qty * line.unit_price).quantize(CENT)
        subtotal += amount
        qty += line.qty
        rows.append(OrderLine(line_no=n, sku=line.sku, name=line.name, qty=line.qty,
                              unit_price=line.unit_price, amount=amount))
    order.lines = rows
    order.subtotal = subtotal
    order.line_count = len(rows)
    order.total_qty = qty


def _total(order: Order) -> None:
    total = order.subtotal + order.shipping_fee - order.discount
    if total < 0:
        raise Conflict(Msg("The discount {discount} is larger than subtotal plus shipping "
                           "{gross}.", {"discount": order.discount,
                                        "gross": order.subtotal + order.shipping_fee}),
                       code="negative_total", field="discount")
    order.total = total.quantize(CENT)


def _timeline(ctx: Ctx, order: Order, now: datetime, kind: str, role: str | None, *,
              from_stage: str | None = None, to_stage: str | None = None,
              note: str | None = None, data: dict[str, Any] | None = None) -> None:
    ctx.session.add(TimelineEntry(
        order_id=order.id, at=now, kind=kind, actor_id=ctx.actor.user_id, actor=ctx.actor.name,
        role=role, from_stage=from_stage, to_stage=to_stage, note=note,
        source=ctx.actor.source, data=data or {}))


def _open_visit(ctx: Ctx, order: Order, flow: FlowDef, stage_id: str, now: datetime,
                ) -> StageVisit:
    stage = flow.stage(stage_id)
    sla = stage.sla if stage.sla is None or isinstance(stage.sla, str) else str(stage.sla)
    visit = StageVisit(order_id=order.id, stage=stage_id, entered_at=now,
                       responsible_role=stage.responsible, sla_target=sla, held_seconds=0)
    ctx.session.add(visit)
    return visit


def _require_role(ctx: Ctx, allowed: tuple[str, ...], what: Msg) -> str:
    for role in allowed:
        if role in ctx.actor.roles:
            return role
    if ctx.actor.is_admin:
        return "admin"
    raise Forbidden(Msg("Your role may not {what}: that needs {roles}, and you have {yours}.",
                        {"what": what, "roles": list(allowed), "yours": sorted(ctx.actor.roles)}),
                    code="role_not_allowed")


def create_order(ctx: Ctx, data: OrderCreate) -> Order:
    """Create an order at its flow's initial stage, with its first timeline row and event."""
    session, now = ctx.session, ctx.clock.now()
    row = flows.get_version(session, data.flow)
    flow = flows.definition_of(session, row)
    role = _require_role(ctx, flow.create_roles, Msg("create orders in flow {flow}",
                                                     {"flow": flow.id}))
    source = data.external_source or ("api" if data.external_ref else None)
    if data.external_ref:
        existing = repo.by_external(session, source or "api", data.external_ref)
        if existing is not None:
            raise Conflict(Msg("Order {order_no} already has external reference {ref} from "
                               "{source}.", {"order_no": existing.order_no,
                                             "ref": data.external_ref, "source": source}),
                           code="duplicate_external_ref", order_no=existing.order_no)
    order_no = next_numbers(session, ctx.settings.order_number_pattern, now,
                            ctx.settings.timezone)[0]
    c = data.customer
    order = Order(
        order_no=order_no, flow_version_id=row.id, flow_id=flow.id, stage=flow.initial,
        status="active", stage_entered_at=now, held_at=None,
        customer_name=c.name, customer_phone=c.phone, customer_email=c.email,
        customer_country=c.country, customer_province=c.province, customer_city=c.city,
        customer_address=c.address, currency=data.currency,
        shipping_fee=data.shipping_fee.quantize(CENT), discount=data.discount.quantize(CENT),
        channel=data.channel, priority=data.priority.value,
        promised_at=ensure_utc(data.promised_at) if data.promised_at else None,
        external_source=source, external_ref=data.external_ref,
        tags=list(dict.fromkeys(data.tags)), custom=data.custom, created_at=now, updated_at=now,
        created_by=ctx.actor.user_id,
    )
    _lines(order, data.lines)
    _total(order)
    session.add(order)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("an order with this external reference was created at the same moment",
                       code="duplicate_external_ref") from exc
    _open_visit(ctx, order, flow, flow.initial, now)
    _timeline(ctx, order, now, "created", role, to_stage=flow.initial, note=data.note,
              data={"flow_version": row.version})
    emit(session, "order.created", "order", order.order_no,
         {"order_no": order.order_no, "flow": flow.id, "stage": flow.initial,
          "total": str(order.total), "currency": order.currency, "actor": ctx.actor.name}, now)
    return order


def get_order(ctx: Ctx, order_no: str, *, with_lines: bool = True,
              for_update: bool = False) -> Order:
    order = repo.get_by_no(ctx.session, order_no, with_lines=with_lines, for_update=for_update)
    if order is None:
        raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}), code="unknown_order")
    return order


def flow_of(ctx: Ctx, order: Order) -> tuple[int, FlowDef]:
    row, flow = flows.definition_by_id(ctx.session, order.flow_version_id)
    return row.version, flow


def state_of(ctx: Ctx, order: Order, flow: FlowDef,
             visit: StageVisit | None = None) -> planner.OrderState:
    votes: tuple[planner.Vote, ...] = ()
    if flow.stage(order.stage).kind == StageKind.APPROVAL:
        visit = visit or repo.current_visit(ctx.session, order.id)
        if visit is not None:
            votes = tuple(planner.Vote(v.level, v.user_id, v.decision)
                          for v in repo.votes(ctx.session, visit.id))
    return planner.OrderState(order.order_no, order.stage, order.status, facts(order), votes,
                              order.held_at)


def act(ctx: Ctx, order_no: str, request: planner.Request) -> Order:
    """Carry out a transition, approval, hold, resume, cancel or trigger, or refuse it."""
    order = get_order(ctx, order_no, with_lines=True, for_update=True)
    _version, flow = flow_of(ctx, order)
    visit = repo.current_visit(ctx.session, order.id)
    outcome = planner.plan(flow, state_of(ctx, order, flow, visit), ctx.actor, request)
    if isinstance(outcome, planner.Refusal):
        raise TransitionNotAllowed(outcome.message, status=outcome.status, code=outcome.code,
                                   current_stage=outcome.current_stage or order.stage)
    _apply(ctx, order, flow, visit, outcome, request)
    return order


def _apply(ctx: Ctx, order: Order, flow: FlowDef, visit: StageVisit | None,
           plan: planner.Plan, request: planner.Request) -> None:
    session, now = ctx.session, ctx.clock.now()
    for step in plan.steps:
        _timeline(ctx, order, now, step.kind, step.role, from_stage=step.from_stage,
                  to_stage=step.to_stage, note=step.note, data=step.data)
    if plan.vote is not None and visit is not None:
        comment = request.comment if isinstance(request, planner.Decide) else None
        session.add(Approval(order_id=order.id, visit_id=visit.id, level=plan.vote.level,
                             user_id=plan.vote.user_id, role=plan.vote_role or "",
                             decision=plan.vote.decision, comment=comment, at=now))
    if order.held_at is not None and plan.status != "on_hold":
        if visit is not None:
            visit.held_seconds += int((now - order.held_at).total_seconds())
        order.held_at = None
    elif plan.status == "on_hold" and order.status != "on_hold":
        order.held_at = now
    reason = {planner.Cancel: "cancelled", planner.Decide: "approval"}.get(type(request),
                                                                          "advanced")
    for stage_id in plan.entered:
        if visit is not None:
            visit.exited_at = now
            visit.exit_reason = reason
        visit = _open_visit(ctx, order, flow, stage_id, now)
        reason = "passed_through"
    if plan.entered:
        order.stage_entered_at = now
    order.stage = plan.stage
    order.status = plan.status
    order.updated_at = now
    for event in plan.events:
        emit(session, event.name, "order", order.order_no, {**event.payload, "at": now.isoformat()},
             now)


def update_order(ctx: Ctx, order_no: str, data: OrderUpdate) -> Order:
    """Change editable fields; every change is on the timeline with old and new values."""
    order = get_order(ctx, order_no, with_lines=True, for_update=True)
    _version, flow = flow_of(ctx, order)
    role = _require_role(ctx, EDIT_ROLES, Msg("edit orders"))
    if order.status in ("completed", "cancelled"):
        raise Conflict(Msg("Order {order_no} is finished; it can no longer be edited.",
                           {"order_no": order_no}), code="order_closed")
    given = data.model_fields_set - {"note"}
    changed: dict[str, Any] = {}

    def change(field: str, new: Any) -> None:
        old = getattr(order, field)
        if old != new:
            changed[field] = [_plain(old), _plain(new)]
            setattr(order, field, new)

    if "lines" in given and data.lines is not None:
        if order.stage != flow.initial:
            raise Conflict(Msg("Lines can only change while the order is at {stage}; it is at "
                               "{current}.", {"stage": flow.stage(flow.initial).name,
                                              "current": flow.stage(order.stage).name}),
                           code="lines_locked", field="lines")
        before = [(ln.sku, str(ln.qty), str(ln.unit_price)) for ln in order.lines]
        _lines(order, data.lines)
        after = [(ln.sku, str(ln.qty), str(ln.unit_price)) for ln in order.lines]
        if before != after:
            changed["lines"] = [len(before), len(after)]
    if "customer" in given and data.customer is not None:
        c = data.customer
        for field, value in (("customer_name", c.name), ("customer_phone", c.phone),
                             ("customer_email", c.email), ("customer_country", c.country),
                             ("customer_province", c.province), ("customer_city", c.city),
                             ("customer_address", c.address)):
            change(field, value)
    for field in ("shipping_fee", "discount", "channel", "promised_at", "custom"):
        if field in given:
            new = getattr(data, field)
            if field in ("shipping_fee", "discount"):
                new = (new or Decimal(0)).quantize(CENT)
            elif field == "promised_at" and new is not None:
                new = ensure_utc(new)
            change(field, new if field != "custom" else (new or {}))
    if "priority" in given and data.priority is not None:
        change("priority", data.priority.value)
    if "tags" in given:
        change("tags", list(dict.fromkeys(data.tags or [])))
    old_total = order.total
    _total(order)
    if order.total != old_total:
        changed["total"] = [str(old_total), str(order.total)]
    if not changed:
        return order
    now = ctx.clock.now()
    order.updated_at = now
    _timeline(ctx, order, now, "edit", role, note=data.note, data={"changed": changed})
    emit(ctx.session, "order.updated", "order", order.order_no,
         {"order_no": order.order_no, "changed": sorted(changed), "actor": ctx.actor.name}, now)
    return order


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
