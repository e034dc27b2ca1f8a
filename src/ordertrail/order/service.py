"""Order business rules: the only place that changes orders. Services never commit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Integer, bindparam, case, insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ordertrail.context import Ctx
from ordertrail.db import insert_rows
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound, TransitionNotAllowed
from ordertrail.flow import planner
from ordertrail.flow import service as flows
from ordertrail.flow.definition import FlowDef, StageKind
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit, emit_many
from ordertrail.kit.clock import ensure_utc
from ordertrail.kit.types import ExactDecimal
from ordertrail.models import Approval, Order, OrderLine, StageVisit, TimelineEntry
from ordertrail.order import repository as repo
from ordertrail.order.numbering import next_numbers
from ordertrail.order.schemas import LineIn, OrderCreate, OrderUpdate
from ordertrail.sla import deadlines

EDIT_ROLES = ("sales", "service", "manager")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # NUMERIC(18, 2)


def facts(order: Order) -> dict[str, Any]:
    """What flow conditions can see of an order."""
    return row_facts({c: getattr(order, c) for c in _FACT_COLUMNS})


_FACT_COLUMNS = ("total", "subtotal", "currency", "channel", "priority", "line_count",
                 "total_qty", "tags", "customer_name", "customer_phone", "customer_email",
                 "customer_country", "customer_province", "customer_city", "custom", "flow_id",
                 "stage", "external_source")


def row_facts(row: dict[str, Any]) -> dict[str, Any]:
    """``facts`` of an ``orders`` row as a mapping (bulk creation has no Order objects)."""
    return {
        "total": row["total"],
        "subtotal": row["subtotal"],
        "currency": row["currency"],
        "channel": row["channel"] or "",
        "priority": row["priority"],
        "line_count": row["line_count"],
        "qty": row["total_qty"],
        "tags": list(row["tags"] or []),
        "customer": {
            "name": row["customer_name"], "phone": row["customer_phone"] or "",
            "email": row["customer_email"] or "", "country": row["customer_country"] or "",
            "province": row["customer_province"] or "", "city": row["customer_city"] or "",
        },
        "custom": dict(row["custom"] or {}),
        "flow": row["flow_id"],
        "stage": row["stage"],
        "external_source": row["external_source"],
    }


def _line_values(lines: Sequence[LineIn]) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
    """Line rows with their amounts, the subtotal and the total quantity."""
    rows = []
    subtotal = Decimal(0)
    qty = Decimal(0)
    for n, line in enumerate(lines, start=1):
        amount = (line.qty * line.unit_price).quantize(CENT)
        subtotal += amount
        qty += line.qty
        rows.append({"line_no": n, "sku": line.sku, "name": line.name, "qty": line.qty,
                     "unit_price": line.unit_price, "amount": amount})
    return rows, subtotal, qty


def _lines(order: Order, lines: Sequence[LineIn]) -> None:
    rows, order.subtotal, order.total_qty = _line_values(lines)
    order.lines = [OrderLine(**row) for row in rows]
    order.line_count = len(rows)


def _grand_total(subtotal: Decimal, shipping_fee: Decimal, discount: Decimal) -> Decimal:
    gross = subtotal + shipping_fee
    if gross > MAX_AMOUNT:
        # Amount columns are NUMERIC(18, 2); a larger value is a database error, not a 500.
        raise Invalid(Msg("The order amounts are too large: {amount} is more than the largest "
                          "amount ordertrail stores ({limit}).",
                          {"amount": gross, "limit": MAX_AMOUNT}),
                      code="amount_too_large", field="lines")
    total = gross - discount
    if total < 0:
        raise Conflict(Msg("The discount {discount} is larger than subtotal plus shipping "
                           "{gross}.", {"discount": discount, "gross": subtotal + shipping_fee}),
                       code="negative_total", field="discount")
    return total.quantize(CENT)


def _total(order: Order) -> None:
    order.total = _grand_total(order.subtotal, order.shipping_fee, order.discount)


def _timeline(ctx: Ctx, order: Order, now: datetime, kind: str, role: str | None, *,
              from_stage: str | None = None, to_stage: str | None = None,
              note: str | None = None, data: dict[str, Any] | None = None) -> None:
    _timeline_rows(ctx, order, now, [planner.Step(kind, role, from_stage, to_stage, note,
                                                  data or {})])


def _timeline_rows(ctx: Ctx, order: Order, now: datetime, steps: Sequence[planner.Step],
                   ) -> None:
    # Append-only rows go in with a Core insert: no ORM bookkeeping for rows never updated.
    actor = ctx.actor
    ctx.session.connection().execute(_INSERT_TIMELINE, [{
        "order_id": order.id, "at": now, "kind": s.kind, "actor_id": actor.user_id,
        "actor": actor.name, "role": s.role, "from_stage": s.from_stage,
        "to_stage": s.to_stage, "note": s.note, "source": actor.source, "data": s.data or {}}
        for s in steps])


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
    ((order_id, values),) = _write_orders(ctx, [data])
    # The order is built from what was written (not read back); only its lines are read,
    # for their ids.
    for name, quantum in _DECIMAL_QUANTA.items():
        values[name] = values[name].quantize(quantum)
    order = Order(id=order_id, **values)
    make_transient_to_detached(order)
    ctx.session.add(order)
    repo.load_lines(ctx.session, order)
    return order


_DECIMAL_QUANTA = {c.name: c.type._quantum for c in Order.__table__.c
                   if isinstance(c.type, ExactDecimal)}


def create_orders(ctx: Ctx, batch: Sequence[OrderCreate]) -> list[str]:
    """Create orders in the caller's transaction; returns their numbers (imports, demo, API).

    Flows are resolved once per flow id, numbers reserved with one upsert, and every table is
    written with one bulk insert, so a batch costs a handful of statements.
    """
    return [values["order_no"] for _id, values in _write_orders(ctx, batch)]


def _write_orders(ctx: Ctx, batch: Sequence[OrderCreate]) -> list[tuple[int, dict[str, Any]]]:
    """Write the orders of create_orders; returns each order's id and ``orders`` row."""
    session, now, actor = ctx.session, ctx.clock.now(), ctx.actor
    if len(batch) > 1 and session.get_bind().dialect.name == "postgresql":
        # The batch lookups below (external references, ids by number) are prepared
        # statements after a few batches; a generic plan made while the table was small (a
        # seq scan) would stay until the next ANALYZE, and an import that fills a new table
        # slowed down with every batch. Plan them for their real arguments.
        session.execute(_CUSTOM_PLANS)
    resolved: dict[str, tuple[int, int, FlowDef, str]] = {}
    for data in batch:
        if data.flow not in resolved:
            row, flow = flows.latest_definition(session, data.flow)
            role = _require_role(ctx, flow.create_roles, Msg("create orders in flow {flow}",
                                                             {"flow": flow.id}))
            resolved[data.flow] = (row.id, row.version, flow, role)
    _check_external_refs(session, batch)
    numbers = next_numbers(session, ctx.settings.order_number_pattern, now,
                           ctx.settings.timezone, len(batch))
    orders, lines = [], []
    for data, order_no in zip(batch, numbers, strict=True):
        version_id, _version, flow, _role = resolved[data.flow]
        c = data.customer
        line_rows, subtotal, qty = _line_values(data.lines)
        shipping, discount = data.shipping_fee.quantize(CENT), data.discount.quantize(CENT)
        lines.append(line_rows)
        orders.append({
            "order_no": order_no, "flow_version_id": version_id, "flow_id": flow.id,
            "stage": flow.initial, "status": "active", "stage_entered_at": now, "held_at": None,
            "customer_name": c.name, "customer_phone": c.phone, "customer_email": c.email,
            "customer_country": c.country, "customer_province": c.province,
            "customer_city": c.city, "customer_address": c.address, "currency": data.currency,
            "subtotal": subtotal, "shipping_fee": shipping, "discount": discount,
            "total": _grand_total(subtotal, shipping, discount), "line_count": len(line_rows),
            "total_qty": qty, "channel": data.channel, "priority": data.priority.value,
            "promised_at": ensure_utc(data.promised_at) if data.promised_at else None,
            "external_source": _source(data), "external_ref": data.external_ref,
            "tags": list(dict.fromkeys(data.tags)), "custom": data.custom, "created_at": now,
            "updated_at": now, "created_by": actor.user_id, "row_version": 1,
        })
    try:
        if len(orders) == 1:
            ids = [session.connection().execute(_INSERT_ORDER, orders[0]).scalar_one()]
        else:
            # Plain executemany (COPY on PostgreSQL), then the ids by order number: INSERT …
            # RETURNING in parameter order makes SQLite fall back to one statement per row.
            insert_rows(session.connection(), _ORDERS, orders)
    except IntegrityError as exc:
        raise Conflict("an order with one of these external references was created at the "
                       "same moment", code="duplicate_external_ref") from exc
    if len(orders) > 1:
        id_of = repo.ids_by_number(session, numbers)
        ids = [id_of[n] for n in numbers]
    insert_rows(session.connection(), OrderLine.__table__,
                [{**ln, "order_id": oid} for oid, rows in zip(ids, lines, strict=True)
                 for ln in rows])
    visits, rows, events = [], [], []
    memo: dict[Any, dict[str, Any]] = {}
    for data, oid, values in zip(batch, ids, orders, strict=True):
        version_id, version, flow, role = resolved[data.flow]
        stage = flow.stage(flow.initial)
        visits.append({"order_id": oid, "stage": stage.id, "entered_at": now,
                       "exited_at": None, "responsible_role": stage.responsible,
                       "responsible_user_id": None, "sla_target": _sla_text(stage.sla),
                       "held_seconds": 0, "exit_reason": None,
                       **deadlines.memo_open_values(
                           memo, session, flow, version_id, stage.id,
                           partial(row_facts, values),
                           values["promised_at"], now)})
        rows.append({"order_id": oid, "at": now, "kind": "created",
                     "actor_id": actor.user_id, "actor": actor.name, "role": role,
                     "from_stage": None, "to_stage": stage.id, "note": data.note,
                     "source": actor.source, "data": {"flow_version": version}})
        events.append(("order.created", "order", values["order_no"], {
            "order_no": values["order_no"], "flow": flow.id, "stage": stage.id,
            "total": str(values["total"]), "currency": values["currency"],
            "actor": actor.name, "at": now.isoformat()}))
    insert_rows(session.connection(), _VISITS, visits)
    insert_rows(session.connection(), TimelineEntry.__table__, rows)
    emit_many(session, events, now)
    return list(zip(ids, orders, strict=True))


def _source(data: OrderCreate) -> str | None:
    return data.external_source or ("api" if data.external_ref else None)


def _sla_text(sla: Any) -> str | None:
    """The stage's SLA as declared: '4h', or JSON for the mapping form."""
    if sla is None or isinstance(sla, str):
        return sla
    return json.dumps(sla, ensure_ascii=False, sort_keys=True)


def _check_external_refs(session: Session, batch: Sequence[OrderCreate]) -> None:
    """Refuse external references that exist already or repeat within the batch."""
    pairs = [(_source(d) or "api", d.external_ref) for d in batch if d.external_ref]
    if not pairs:
        return
    seen: set[tuple[str, str]] = set()
    for source, ref in pairs:
        if (source, ref) in seen:
            raise Conflict(Msg("External reference {ref} from {source} appears twice.",
                               {"ref": ref, "source": source}), code="duplicate_external_ref")
        seen.add((source, ref))
    existing = repo.by_external_refs(session, pairs)
    if existing is not None:
        raise Conflict(Msg("Order {order_no} already has external reference {ref} from "
                           "{source}.", {"order_no": existing.order_no,
                                         "ref": existing.external_ref,
                                         "source": existing.external_source}),
                       code="duplicate_external_ref", order_no=existing.order_no)


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
    """Carry out a transition, approval, hold, resume, cancel or trigger, or refuse it.

    Works in the caller's session and transaction (the API's writer, the CLI, services that
    move an order as part of their own change); the returned order is up to date.
    """
    order = get_order(ctx, order_no, with_lines=True, for_update=True)
    _version, flow = flow_of(ctx, order)
    # The open visit is read only where the planner needs it (approval votes); closing it
    # needs no read (see _enter_stages).
    visit = (repo.current_visit(ctx.session, order.id)
             if flow.stage(order.stage).kind == StageKind.APPROVAL else None)
    outcome = planner.plan(flow, state_of(ctx, order, flow, visit), ctx.actor, request)
    if isinstance(outcome, planner.Refusal):
        raise TransitionNotAllowed(outcome.message, status=outcome.status, code=outcome.code,
                                   current_stage=outcome.current_stage or order.stage)
    apply_plan(ctx, order, flow, visit, outcome, request)
    return order


def apply_plan(ctx: Ctx, order: Order, flow: FlowDef, visit: StageVisit | None,
               plan: planner.Plan, request: planner.Request) -> None:
    """Write a plan: timeline rows, vote, visits, stage and status, outbox events.

    ``act`` is the usual caller; bulk writers (the demo, imports) that keep orders and their
    open visits loaded call it directly. Every row is written with a Core statement (nothing
    is left for a flush); ``order`` and ``visit``, when given, are updated to match. The
    order's row is updated only if its ``row_version`` is still the loaded one, else
    ``StaleDataError`` (as an ORM flush would raise).
    """
    session, now = ctx.session, ctx.clock.now()
    _timeline_rows(ctx, order, now, plan.steps)
    if plan.vote is not None and visit is not None:
        comment = request.comment if isinstance(request, planner.Decide) else None
        session.connection().execute(_INSERT_APPROVAL, {
            "order_id": order.id, "visit_id": visit.id, "level": plan.vote.level,
            "user_id": plan.vote.user_id, "user_name": ctx.actor.name,
            "role": plan.vote_role or "", "decision": plan.vote.decision, "comment": comment,
            "at": now})
    held_at, held = order.held_at, 0
    if order.held_at is not None and plan.status != "on_hold":
        held = int((now - order.held_at).total_seconds())
        held_at = None
    elif plan.status == "on_hold" and order.status != "on_hold":
        held_at = now
    reason = {planner.Cancel: "cancelled", planner.Decide: "approval"}.get(type(request),
                                                                          "advanced")
    if plan.status == "on_hold" and order.status != "on_hold":
        deadlines.pause(session, order.id, now)
    elif order.held_at is not None and plan.status != "on_hold" and not plan.entered:
        deadlines.resume(session, order.id, now)
    _enter_stages(ctx, order, flow, visit, plan.entered, now, reason, held)
    _update_order(ctx, order, plan.stage, plan.status, held_at,
                  now if plan.entered else order.stage_entered_at, now)
    emit_many(session, [(event.name, "order", order.order_no,
                         {**event.payload, "at": now.isoformat()}) for event in plan.events],
              now)


_ORDERS = Order.__table__
_VISITS = StageVisit.__table__
# Statements of the transition path, built once (building one costs more than running it).
_INSERT_TIMELINE = insert(TimelineEntry.__table__)
_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_INSERT_APPROVAL = insert(Approval.__table__)
_INSERT_VISIT = insert(_VISITS)
_UPDATE_ORDER = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("o_id"), _ORDERS.c.row_version == bindparam("o_version"))
    .values(stage=bindparam("o_stage"), status=bindparam("o_status"),
            held_at=bindparam("o_held_at"), stage_entered_at=bindparam("o_entered_at"),
            updated_at=bindparam("o_updated_at"), row_version=bindparam("o_new_version")))
_CLOSE_VISIT = (
    update(_VISITS)
    .where(_VISITS.c.order_id == bindparam("v_order_id"), _VISITS.c.exited_at.is_(None))
    .values(exited_at=bindparam("v_exited_at"), exit_reason=bindparam("v_reason"),
            held_seconds=_VISITS.c.held_seconds + bindparam("v_held", type_=Integer),
            # Deadlines not yet claimed leave the sweeper's queues (partial indexes).
            **{col: case((_VISITS.c[col] == "pending", None), else_=_VISITS.c[col])
               for col in ("warn_state", "due_state", "late_state")})
    .returning(_VISITS.c.id, _VISITS.c.calendar_id, _VISITS.c.due_at,
               _VISITS.c.remaining_seconds))
_ADD_HELD = (
    update(_VISITS)
    .where(_VISITS.c.order_id == bindparam("v_order_id"), _VISITS.c.exited_at.is_(None))
    .values(held_seconds=_VISITS.c.held_seconds + bindparam("v_held", type_=Integer)))


def _update_order(ctx: Ctx, order: Order, stage: str, status: str, held_at: datetime | None,
                  stage_entered_at: datetime, now: datetime) -> None:
    """UPDATE the order's row with a version check; the loaded object is kept in step."""
    version = order.row_version
    result = ctx.session.connection().execute(_UPDATE_ORDER, {
        "o_id": order.id, "o_version": version, "o_stage": stage, "o_status": status,
        "o_held_at": held_at, "o_entered_at": stage_entered_at, "o_updated_at": now,
        "o_new_version": version + 1})
    if result.rowcount != 1:
        raise StaleDataError(f"order {order.order_no} was changed by another transaction")
    for name, value in (("stage", stage), ("status", status), ("held_at", held_at),
                        ("stage_entered_at", stage_entered_at), ("updated_at", now),
                        ("row_version", version + 1)):
        set_committed_value(order, name, value)


def _enter_stages(ctx: Ctx, order: Order, flow: FlowDef, visit: StageVisit | None,
                  stage_ids: Sequence[str], now: datetime, reason: str, held: int = 0) -> None:
    """Close the open visit (adding ``held`` seconds) and open one per entered stage.

    The open visit is addressed by order (at most one per order, a unique partial index), so
    it need not be read first; ``visit``, if the caller holds it, is kept in step. Stages
    passed through get visits that are closed at once.
    """
    conn = ctx.session.connection()
    if stage_ids:
        closed = conn.execute(_CLOSE_VISIT, {"v_order_id": order.id, "v_exited_at": now,
                                             "v_reason": reason, "v_held": held}).first()
        if closed is not None:
            deadlines.close(ctx.session, closed.id, closed.calendar_id, closed.due_at,
                            closed.remaining_seconds, now)
    elif held:
        conn.execute(_ADD_HELD, {"v_order_id": order.id, "v_held": held})
    else:
        return
    if visit is not None:
        set_committed_value(visit, "held_seconds", visit.held_seconds + held)
        if stage_ids:
            set_committed_value(visit, "exited_at", now)
            set_committed_value(visit, "exit_reason", reason)
    if not stage_ids:
        return
    rows = []
    for n, stage_id in enumerate(stage_ids, start=1):
        stage = flow.stage(stage_id)
        last = n == len(stage_ids)
        deadline = (deadlines.open_values(
            ctx.session, flow, order.flow_version_id, stage_id,
            deadlines.facts_for(ctx.session, flow,
                                lambda: {**facts(order), "stage": stage_ids[-1]}),
            order.promised_at, now) if last else deadlines.NO_DEADLINE)
        rows.append({"order_id": order.id, "stage": stage_id, "entered_at": now,
                     "exited_at": None if last else now,
                     "exit_reason": None if last else "passed_through",
                     "responsible_role": stage.responsible, "responsible_user_id": None,
                     "sla_target": _sla_text(stage.sla), "held_seconds": 0, **deadline})
    conn.execute(_INSERT_VISIT, rows)


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
        # Decimals compare by value (a stored 2.000 equals a sent 2).
        before = [(ln.sku, ln.name, ln.qty, ln.unit_price) for ln in order.lines]
        # Delete the old lines before inserting the new ones: (order_id, line_no) is unique
        # and a flush inserts before it deletes.
        order.lines = []
        ctx.session.flush()
        _lines(order, data.lines)
        after = [(ln.sku, ln.name, ln.qty, ln.unit_price) for ln in order.lines]
        if before != after:
            changed["lines"] = [len(before), len(after)]
    if "customer" in given and data.customer is not None:
        patch = data.customer
        if "name" in patch.model_fields_set and patch.name is None:
            raise Invalid("customer.name cannot be cleared", code="invalid", field="customer.name")
        for field in sorted(patch.model_fields_set):
            change(f"customer_{field}", getattr(patch, field))
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
    if "promised_at" in changed:
        deadlines.repromise(ctx.session, flow, order.flow_version_id, order.id, order.stage,
                            order.promised_at)
    _timeline(ctx, order, now, "edit", role, note=data.note, data={"changed": changed})
    emit(ctx.session, "order.updated", "order", order.order_no,
         {"order_no": order.order_no, "changed": sorted(changed), "actor": ctx.actor.name,
          "at": now.isoformat()}, now)
    _restart_approval(ctx, order, flow, now)
    ctx.session.flush()  # the response is read in this transaction; sessions do not autoflush
    return order


def _restart_approval(ctx: Ctx, order: Order, flow: FlowDef, now: datetime) -> None:
    """Approvers approved the order as it was: a change under approval starts a new round."""
    stage = flow.stage(order.stage)
    if stage.kind != StageKind.APPROVAL:
        return
    visit = repo.current_visit(ctx.session, order.id)
    if visit is None or not repo.votes(ctx.session, visit.id):
        return
    _enter_stages(ctx, order, flow, visit, [stage.id], now, "approval_restarted")
    order.stage_entered_at = now
    _timeline(ctx, order, now, "approval_restarted", "system", from_stage=stage.id,
              to_stage=stage.id, note="the order changed during approval; approvals start again")
    emit(ctx.session, "order.approval_restarted", "order", order.order_no,
         {"order_no": order.order_no, "stage": stage.id, "at": now.isoformat()}, now)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


require_role = _require_role  # shared with other domains (shipments, operations)
