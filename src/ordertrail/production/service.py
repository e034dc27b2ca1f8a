"""Production business rules: work centers, routings, work orders from plan to QC.

Services never commit; the caller's transaction does (API request, CLI, worker job). Every
change writes its timeline row on the order and its ``work_order.*`` outbox event in that
transaction, and fires the flow trigger it makes true (``work_order.completed``,
``work_order.qc_passed``, ``work_order.qc_failed``). A refusal changes nothing (it is raised
before any write) and is logged on the ``ordertrail.production`` logger with who and what.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordertrail.calendar.service import get_calendar
from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Invalid, NotFound, OrdertrailError
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit_many
from ordertrail.models import Order, OrderLine
from ordertrail.models.alert import Alert
from ordertrail.models.production import (
    QcResult,
    RoutingStep,
    WorkCenter,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderStep,
)
from ordertrail.ops import triggers
from ordertrail.order.numbering import next_numbers
from ordertrail.order.service import require_role
from ordertrail.production import read, stock
from ordertrail.production.schedule import Bookings, Center, Placed, StepNeed, schedule
from ordertrail.production.schemas import (
    RoutingIn,
    RoutingRead,
    RoutingStepRead,
    WorkCenterCreate,
    WorkOrderCreate,
)
from ordertrail.sla.alerts import local

log = logging.getLogger("ordertrail.production")
ACT_ROLES = ("production", "manager", "system")
NUMBER_PATTERN = "WO{date:%Y%m%d}-{seq:04d}"
# A product without a routing is made in one step at this center (created on first use).
DEFAULT_CENTER = ("ASSEMBLY", "Assembly")
DEFAULT_STEP = ("Assembly", Decimal(0), Decimal(60))  # name, setup min, min per unit
MAX_QTY = Decimal("1000000")
P = ParamSpec("P")
R = TypeVar("R")


def refusals(what: str) -> Callable[[Callable[Concatenate[Ctx, P], R]],
                                    Callable[Concatenate[Ctx, P], R]]:
    """Log a refused attempt (who, what, with which arguments, why) and re-raise it."""

    def wrap(fn: Callable[Concatenate[Ctx, P], R]) -> Callable[Concatenate[Ctx, P], R]:
        @functools.wraps(fn)
        def inner(ctx: Ctx, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(ctx, *args, **kwargs)
            except OrdertrailError as exc:
                log.warning("production: %s refused for %s (%s): %s %s", what,
                            ctx.actor.name, ctx.actor.source, exc.detail("en"),
                            [*map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])
                raise

        return inner

    return wrap


def _may_act(ctx: Ctx, what: Msg) -> None:
    require_role(ctx, ACT_ROLES, what)


# Work centers and routings -------------------------------------------------------------------


@refusals("add work center")
def create_work_center(ctx: Ctx, data: WorkCenterCreate) -> WorkCenter:
    """A new work center; its code is unique and its calendar must exist."""
    _may_act(ctx, Msg("manage work centers"))
    get_calendar(ctx.session, data.calendar)
    if ctx.session.scalar(select(WorkCenter.id).where(WorkCenter.code == data.code)):
        raise Conflict(Msg("Work center {code} already exists.", {"code": data.code}),
                       code="work_center_exists")
    now = ctx.clock.now()
    row = WorkCenter(code=data.code, name=data.name, capacity=data.capacity,
                     calendar_id=data.calendar, created_at=now, updated_at=now)
    ctx.session.add(row)
    ctx.session.flush()
    return row


def center_by_code(session: Session, code: str) -> WorkCenter:
    row = session.scalars(select(WorkCenter).where(WorkCenter.code == code)).first()
    if row is None:
        raise NotFound(Msg("No work center {code}.", {"code": code}),
                       code="unknown_work_center")
    return row


def default_center(ctx: Ctx) -> WorkCenter:
    """The default work center, created on first use (safe when two plans race for it)."""
    code, name = DEFAULT_CENTER
    found = ctx.session.scalars(select(WorkCenter).where(WorkCenter.code == code)).first()
    if found is not None:
        return found
    now = ctx.clock.now()
    insert = pg_insert if ctx.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    ctx.session.execute(insert(WorkCenter).values(
        code=code, name=name, capacity=1, calendar_id="cn", created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["code"]))
    return center_by_code(ctx.session, code)


def _require_product(session: Session, sku: str) -> None:
    if not stock.is_product(session, sku):
        raise NotFound(Msg("No product {sku}.", {"sku": sku}), code="unknown_sku")


@refusals("set routing")
def set_routing(ctx: Ctx, sku: str, data: RoutingIn) -> RoutingRead:
    """Replace the routing of a product: its steps in the given order."""
    _may_act(ctx, Msg("set routings"))
    _require_product(ctx.session, sku)
    centers = {s.work_center: center_by_code(ctx.session, s.work_center) for s in data.steps}
    now = ctx.clock.now()
    ctx.session.execute(delete(RoutingStep).where(RoutingStep.sku == sku))
    ctx.session.add_all([RoutingStep(sku=sku, seq=i, name=s.name,
                                     work_center_id=centers[s.work_center].id,
                                     setup_minutes=s.setup_minutes,
                                     minutes_per_unit=s.minutes_per_unit, updated_at=now)
                         for i, s in enumerate(data.steps, 1)])
    ctx.session.flush()
    return get_routing(ctx.session, sku)


def get_routing(session: Session, sku: str) -> RoutingRead:
    """A product's routing, or the default one-step routing when it has none."""
    _require_product(session, sku)
    rows = session.execute(select(RoutingStep, WorkCenter.code)
                           .join(WorkCenter, WorkCenter.id == RoutingStep.work_center_id)
                           .where(RoutingStep.sku == sku).order_by(RoutingStep.seq)).all()
    if not rows:
        name, setup, per_unit = DEFAULT_STEP
        return RoutingRead(sku=sku, default=True, steps=[RoutingStepRead(
            seq=1, name=name, work_center=DEFAULT_CENTER[0], setup_minutes=setup,
            minutes_per_unit=per_unit)])
    return RoutingRead(sku=sku, default=False, steps=[RoutingStepRead(
        seq=r.seq, name=r.name, work_center=code, setup_minutes=r.setup_minutes,
        minutes_per_unit=r.minutes_per_unit) for r, code in rows])


def _routing(ctx: Ctx, sku: str) -> list[tuple[StepNeed, WorkCenter]]:
    rows = ctx.session.execute(select(RoutingStep, WorkCenter)
                               .join(WorkCenter, WorkCenter.id == RoutingStep.work_center_id)
                               .where(RoutingStep.sku == sku).order_by(RoutingStep.seq)).all()
    if rows:
        return [(StepNeed(r.name, c.code, r.setup_minutes, r.minutes_per_unit), c)
                for r, c in rows]
    center = default_center(ctx)
    name, setup, per_unit = DEFAULT_STEP
    return [(StepNeed(name, center.code, setup, per_unit), center)]


# Scheduling ----------------------------------------------------------------------------------


class Planner:
    """Centers and their bookings for one transaction: work orders planned together queue
    behind each other. On PostgreSQL the centers' rows are locked, so two transactions
    planning on the same center take turns instead of double-booking a slot."""

    def __init__(self, ctx: Ctx, now: datetime) -> None:
        self.ctx, self.now = ctx, now
        self.centers: dict[str, Center] = {}
        self.bookings = Bookings()

    def load(self, centers: Sequence[WorkCenter]) -> None:
        session = self.ctx.session
        new = [c for c in centers if c.code not in self.centers]
        if not new:
            return
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(WorkCenter.id).where(WorkCenter.id.in_([c.id for c in new]))
                            .with_for_update())
        for c in new:
            self.centers[c.code] = Center(c.code, c.capacity, get_calendar(session, c.calendar_id))
            self.bookings.of(c.code)
        # Open steps of live work orders still ahead of now hold their slots.
        rows = session.execute(
            select(WorkCenter.code, WorkOrderStep.planned_start, WorkOrderStep.planned_finish)
            .join(WorkOrderStep, WorkOrderStep.work_center_id == WorkCenter.id)
            .join(WorkOrder, WorkOrder.id == WorkOrderStep.work_order_id)
            .where(WorkCenter.id.in_([c.id for c in new]), WorkOrderStep.actual_finish.is_(None),
                   WorkOrderStep.planned_finish > self.now, WorkOrder.status.in_(read.OPEN)))
        for code, start, finish in rows:
            self.bookings.add(code, (start, finish))

    def plan(self, route: list[tuple[StepNeed, WorkCenter]], qty: Decimal,
             start: datetime) -> list[Placed]:
        self.load([c for _n, c in route])
        return schedule([n for n, _c in route], qty, start, self.centers, self.bookings)


# Work orders ---------------------------------------------------------------------------------


def _payload(wo: WorkOrder, order_no: str, now: datetime, **extra: Any) -> dict[str, Any]:
    return {"order_no": order_no, "work_order": wo.number, "work_order_id": wo.id,
            "sku": wo.sku, "qty": str(wo.qty), "status": wo.status, "at": now.isoformat(),
            **extra}


def _emit(ctx: Ctx, name: str, wo: WorkOrder, order_no: str, now: datetime,
          **extra: Any) -> None:
    emit_many(ctx.session, [(name, "work_order", str(wo.id),
                             _payload(wo, order_no, now, **extra))], now)


def _order(ctx: Ctx, order_id: int) -> Order:
    order = ctx.session.get(Order, order_id)
    if order is None:
        raise NotFound(Msg("No order {order_no}.", {"order_no": order_id}), code="unknown_order")
    return order


def _check_qty(qty: Decimal) -> None:
    if not qty.is_finite() or qty <= 0 or qty > MAX_QTY:
        raise Invalid(Msg("Quantity must be more than 0 and at most {max}; got {qty}.",
                          {"max": MAX_QTY, "qty": qty}), code="bad_qty", field="qty")


def _new_work_orders(ctx: Ctx, order: Order, lines: list[tuple[OrderLine, Decimal]],
                     boms: dict[str, stock.ProductInfo]) -> list[WorkOrder]:
    """Work orders for lines (with quantities), scheduled from now, with their steps and
    components; written, with one timeline row and an event each."""
    if not lines:
        return []
    session, now = ctx.session, ctx.clock.now()
    numbers = next_numbers(session, NUMBER_PATTERN, now, ctx.settings.timezone, len(lines))
    planner = Planner(ctx, now)
    made: list[WorkOrder] = []
    for (line, qty), number in zip(lines, numbers, strict=True):
        route = _routing(ctx, line.sku)
        placed = planner.plan(route, qty, now)
        wo = WorkOrder(number=number, order_id=order.id, order_line_id=line.id, sku=line.sku,
                       qty=qty, status="planned", planned_start=placed[0].start,
                       planned_finish=placed[-1].finish, late_alert_state="watch_start",
                       rework_count=0, created_at=now, created_by=ctx.actor.name,
                       updated_at=now)
        session.add(wo)
        session.flush()
        session.add_all([WorkOrderStep(
            work_order_id=wo.id, seq=i, name=p.name, kind="routing", work_center_id=c.id,
            setup_minutes=n.setup_minutes, minutes_per_unit=n.minutes_per_unit,
            planned_minutes=p.minutes, planned_start=p.start, planned_finish=p.finish)
            for i, ((n, c), p) in enumerate(zip(route, placed, strict=True), 1)])
        bom = boms.get(line.sku)
        if bom is not None:
            session.add_all([WorkOrderComponent(work_order_id=wo.id, sku=sku, qty=per * qty)
                             for sku, per in sorted(bom.bom.items())])
        made.append(wo)
    session.flush()
    for wo in made:
        _emit(ctx, "work_order.planned", wo, order.order_no, now,
              planned_start=wo.planned_start.isoformat(),
              planned_finish=wo.planned_finish.isoformat())
    triggers.timeline(ctx, order.id, "work_orders_planned",
                      ", ".join(f"{wo.number} ({wo.sku} × {wo.qty}) planned to finish "
                                f"{local(wo.planned_finish, ctx.settings.timezone)}"
                                for wo in made),
                      {"work_orders": [{"number": wo.number, "id": wo.id, "sku": wo.sku,
                                        "qty": str(wo.qty),
                                        "planned_start": wo.planned_start.isoformat(),
                                        "planned_finish": wo.planned_finish.isoformat()}
                                       for wo in made],
                       "planned_finish": max(wo.planned_finish for wo in made).isoformat()})
    return made


@refusals("plan work orders")
def plan_for_order(ctx: Ctx, order_id: int) -> list[WorkOrder]:
    """One work order per make-to-order line that has none (idempotent); returns the order's
    live work orders of such lines. Lines of other products get none."""
    _may_act(ctx, Msg("plan work orders"))
    return _plan(ctx, _order(ctx, order_id))


@refusals("plan work orders")
def plan_for_order_no(ctx: Ctx, order_no: str) -> list[WorkOrder]:
    """``plan_for_order`` by order number (API and CLI)."""
    _may_act(ctx, Msg("plan work orders"))
    return _plan(ctx, read.order_of(ctx.session, order_no))


def _plan(ctx: Ctx, order: Order) -> list[WorkOrder]:
    if order.status in ("cancelled", "completed"):
        raise Conflict(Msg("Order {order_no} is {status}; nothing to produce.",
                           {"order_no": order.order_no, "status": order.status}),
                       code="order_closed")
    lines = list(ctx.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                     .order_by(OrderLine.line_no)))
    infos = stock.products(ctx.session, [ln.sku for ln in lines])
    mto = [ln for ln in lines if ln.sku in infos and infos[ln.sku].make_to_order]
    have = {wo.order_line_id for wo in read.work_orders_of(ctx.session, order.id)
            if wo.status != "cancelled"}
    _new_work_orders(ctx, order, [(ln, ln.qty) for ln in mto if ln.id not in have], infos)
    wanted = {ln.id for ln in mto}
    return [wo for wo in read.work_orders_of(ctx.session, order.id)
            if wo.order_line_id in wanted and wo.status != "cancelled"]


@refusals("create work order")
def create_work_order(ctx: Ctx, data: WorkOrderCreate) -> WorkOrder:
    """A work order made by hand for one order line (any product; BOM components if any)."""
    _may_act(ctx, Msg("create work orders"))
    order = read.order_of(ctx.session, data.order_no)
    if order.status in ("cancelled", "completed"):
        raise Conflict(Msg("Order {order_no} is {status}; nothing to produce.",
                           {"order_no": order.order_no, "status": order.status}),
                       code="order_closed")
    line = ctx.session.scalars(select(OrderLine).where(OrderLine.order_id == order.id,
                                                      OrderLine.line_no == data.line_no)).first()
    if line is None:
        raise NotFound(Msg("Order {order_no} has no line {line_no}.",
                           {"order_no": order.order_no, "line_no": data.line_no}),
                       code="unknown_line", field="line_no")
    qty = line.qty if data.qty is None else data.qty
    _check_qty(qty)
    if read.count_live(ctx.session, line.id):
        raise Conflict(Msg("Line {line_no} of order {order_no} already has a work order.",
                           {"order_no": order.order_no, "line_no": data.line_no}),
                       code="work_order_exists")
    infos = stock.products(ctx.session, [line.sku])
    (wo,) = _new_work_orders(ctx, order, [(line, qty)], infos)
    return wo


def _steps(session: Session, wo: WorkOrder) -> list[WorkOrderStep]:
    return list(session.scalars(select(WorkOrderStep).where(
        WorkOrderStep.work_order_id == wo.id).order_by(WorkOrderStep.seq)))


def _refuse_status(wo: WorkOrder, allowed: tuple[str, ...], what: Msg) -> None:
    if wo.status not in allowed:
        raise Conflict(Msg("Work order {number} is {status}; it can be {what} only when "
                           "{allowed}.", {"number": wo.number, "status": wo.status,
                                          "what": what, "allowed": list(allowed)}),
                       code="work_order_state")


def _resolve_late(ctx: Ctx, wo: WorkOrder, causes: tuple[str, ...], reason: str) -> None:
    """The late alerts of these causes are over at once (the sweeper would find it later)."""
    from ordertrail.sla import alerts

    names = [f"work_order_late:{c}:{wo.id}" for c in causes]
    if ctx.session.scalar(select(func.count()).select_from(Alert).where(
            Alert.cause.in_(names), Alert.state.in_(alerts.LIVE))):
        alerts.auto_resolve(ctx.session, ctx.clock.now(),
                            Alert.__table__.c.cause.in_(names), reason)


def _late_note(planned: datetime, actual: datetime) -> dict[str, Any]:
    late = (actual - planned).total_seconds()
    return {"planned": planned.isoformat(), "late_minutes": round(late / 60) if late > 0 else 0}


@refusals("start work order")
def start(ctx: Ctx, ref: int | str) -> WorkOrder:
    """Start production: the components are issued from the order's reservations."""
    _may_act(ctx, Msg("start work orders"))
    wo = read.get_work_order(ctx.session, ref, for_update=True)
    if wo.status == "in_progress" and wo.actual_start is not None:
        at = wo.actual_start.isoformat(timespec="seconds")
        raise Conflict(Msg("Work order {number} was already started at {at}.",
                           {"number": wo.number, "at": at}), code="already_started")
    _refuse_status(wo, ("planned",), Msg("started"))
    order = _order(ctx, wo.order_id)
    if order.status != "active":
        raise Conflict(Msg("Order {order_no} is {status}; its work orders cannot start.",
                           {"order_no": order.order_no, "status": order.status}),
                       code="order_not_active")
    now = ctx.clock.now()
    comps = list(ctx.session.scalars(select(WorkOrderComponent).where(
        WorkOrderComponent.work_order_id == wo.id)))
    stock.consume(ctx, order.id, {c.sku: c.qty for c in comps}, wo.number)
    for c in comps:
        c.consumed_at = now
    wo.status, wo.actual_start, wo.updated_at = "in_progress", now, now
    if wo.late_alert_state == "watch_start":
        wo.late_alert_state = "watch_finish"
    steps = _steps(ctx.session, wo)
    if steps:
        steps[0].actual_start = now
    ctx.session.flush()
    _resolve_late(ctx, wo, ("start",), "work order started")
    note = _late_note(wo.planned_start, now)
    triggers.timeline(ctx, order.id, "work_order_started",
                      f"{wo.number} started", {"work_order": wo.number, "work_order_id": wo.id,
                                                "components": {c.sku: str(c.qty) for c in comps},
                                                **note})
    _emit(ctx, "work_order.started", wo, order.order_no, now, **note)
    return wo


@refusals("complete step")
def complete_step(ctx: Ctx, ref: int | str, seq: int, note: str | None = None) -> WorkOrder:
    """Mark one step done; steps are done in order."""
    _may_act(ctx, Msg("complete work order steps"))
    wo = read.get_work_order(ctx.session, ref, for_update=True)
    _refuse_status(wo, ("in_progress", "rework"), Msg("worked on"))
    steps = _steps(ctx.session, wo)
    step = next((s for s in steps if s.seq == seq), None)
    if step is None:
        raise NotFound(Msg("Work order {number} has no step {seq}.",
                           {"number": wo.number, "seq": seq}), code="unknown_step")
    if step.actual_finish is not None:
        raise Conflict(Msg("Step {seq} of work order {number} is already done.",
                           {"number": wo.number, "seq": seq}), code="step_done")
    before = [s.seq for s in steps if s.seq < seq and s.actual_finish is None]
    if before:
        raise Conflict(Msg("Step {first} of work order {number} must be done before step "
                           "{seq}.", {"number": wo.number, "seq": seq, "first": before[0]}),
                       code="step_order")
    now = ctx.clock.now()
    step.actual_start = step.actual_start or now
    step.actual_finish, step.done_by, step.note = now, ctx.actor.name, note
    following = next((s for s in steps if s.seq > seq), None)
    if following is not None and following.actual_start is None:
        following.actual_start = now
    wo.updated_at = now
    ctx.session.flush()
    order_no = read.order_no_of(ctx.session, wo.order_id)
    triggers.timeline(ctx, wo.order_id, "work_order_step_done",
                      f"{wo.number}: step {seq} {step.name} done" + (f" ({note})" if note else ""),
                      {"work_order": wo.number, "work_order_id": wo.id, "seq": seq,
                       "step": step.name, **_late_note(step.planned_finish, now)})
    _emit(ctx, "work_order.step_completed", wo, order_no, now, seq=seq, step=step.name)
    return wo


@refusals("complete work order")
def complete(ctx: Ctx, ref: int | str) -> WorkOrder:
    """Production of the work order is finished: it waits for QC. When every work order of
    the order is made, ``work_order.completed`` moves the order on."""
    _may_act(ctx, Msg("complete work orders"))
    wo = read.get_work_order(ctx.session, ref, for_update=True)
    _refuse_status(wo, ("in_progress", "rework"), Msg("completed"))
    open_steps = [s.seq for s in _steps(ctx.session, wo) if s.actual_finish is None]
    if open_steps:
        raise Conflict(Msg("Work order {number} still has open steps {steps}.",
                           {"number": wo.number, "steps": open_steps}), code="steps_open")
    now = ctx.clock.now()
    wo.status, wo.actual_finish, wo.updated_at = "completed", now, now
    if wo.late_alert_state in ("watch_start", "watch_finish"):
        wo.late_alert_state = "off"
    ctx.session.flush()
    _resolve_late(ctx, wo, ("finish",), "work order finished")
    order_no = read.order_no_of(ctx.session, wo.order_id)
    note = _late_note(wo.planned_finish, now)
    triggers.timeline(ctx, wo.order_id, "work_order_completed",
                      f"{wo.number} completed, waiting for QC",
                      {"work_order": wo.number, "work_order_id": wo.id, **note})
    _emit(ctx, "work_order.completed", wo, order_no, now, **note)
    if read.all_completed(ctx.session, wo.order_id):
        triggers.fire_if_waiting(ctx, wo.order_id, "work_order.completed",
                                 f"all work orders completed ({wo.number} last)")
    return wo


@refusals("record QC")
def record_qc(ctx: Ctx, ref: int | str, result: str, note: str | None = None) -> WorkOrder:
    """QC of a completed work order. Pass: done, the goods go into stock for the order.
    Fail (a note is required): rework, with a rework step appended; completing it again
    brings it back to QC."""
    _may_act(ctx, Msg("record QC results"))
    if result not in ("pass", "fail"):
        raise Invalid(Msg("QC result must be pass or fail; got {result}.", {"result": result}),
                      code="bad_qc_result", field="result")
    note = (note or "").strip() or None
    if result == "fail" and not note:
        raise Invalid(Msg("Say why QC failed (a note is required)."), code="note_required",
                      field="note")
    wo = read.get_work_order(ctx.session, ref, for_update=True)
    _refuse_status(wo, ("completed",), Msg("checked by QC"))
    now = ctx.clock.now()
    ctx.session.add(QcResult(work_order_id=wo.id, result=result, note=note,
                             by_user_id=ctx.actor.user_id, by_name=ctx.actor.name, at=now))
    order_no = read.order_no_of(ctx.session, wo.order_id)
    data = {"work_order": wo.number, "work_order_id": wo.id, "result": result, "note": note}
    if result == "pass":
        wo.status, wo.updated_at = "done", now
        ctx.session.flush()
        stock.receive_produced(ctx, wo.order_id, wo.sku, wo.qty, wo.number)
        triggers.timeline(ctx, wo.order_id, "work_order_qc_passed",
                          f"{wo.number} passed QC" + (f": {note}" if note else ""), data)
        _emit(ctx, "work_order.qc_passed", wo, order_no, now, note=note)
        if read.all_done(ctx.session, wo.order_id):
            triggers.fire_if_waiting(ctx, wo.order_id, "work_order.qc_passed",
                                     f"all work orders passed QC ({wo.number} last)")
        return wo
    _add_rework_step(ctx, wo, now)
    wo.status, wo.actual_finish, wo.updated_at = "rework", None, now
    wo.rework_count += 1
    if wo.late_alert_state == "off":
        wo.late_alert_state = "watch_finish"  # late again if rework runs past the plan
    ctx.session.flush()
    triggers.timeline(ctx, wo.order_id, "work_order_qc_failed",
                      f"{wo.number} failed QC: {note}; rework", data)
    _emit(ctx, "work_order.qc_failed", wo, order_no, now, note=note)
    triggers.fire_if_waiting(ctx, wo.order_id, "work_order.qc_failed",
                             f"{wo.number} failed QC: {note}")
    return wo


def _add_rework_step(ctx: Ctx, wo: WorkOrder, now: datetime) -> None:
    """A rework step at the center of the last routing step, as long as that step, scheduled
    from now."""
    steps = _steps(ctx.session, wo)
    last = [s for s in steps if s.kind == "routing"][-1]
    center = ctx.session.get(WorkCenter, last.work_center_id)
    assert center is not None
    need = StepNeed("Rework", center.code, last.setup_minutes, last.minutes_per_unit)
    (placed,) = Planner(ctx, now).plan([(need, center)], wo.qty, now)
    ctx.session.add(WorkOrderStep(
        work_order_id=wo.id, seq=steps[-1].seq + 1, name=f"Rework {wo.rework_count + 1}",
        kind="rework", work_center_id=center.id, setup_minutes=need.setup_minutes,
        minutes_per_unit=need.minutes_per_unit, planned_minutes=placed.minutes,
        planned_start=placed.start, planned_finish=placed.finish, actual_start=now))


def cancel_for_order(ctx: Ctx, order_id: int, reason: str) -> int:
    """Cancel the order's work orders that are not finished (the order was cancelled)."""
    now = ctx.clock.now()
    rows = ctx.session.execute(
        update(WorkOrder).where(WorkOrder.order_id == order_id,
                                WorkOrder.status.in_(read.OPEN))
        .values(status="cancelled", late_alert_state="off", updated_at=now)
        .returning(WorkOrder.id, WorkOrder.number)).all()
    if rows:
        from ordertrail.sla import alerts

        causes = [f"work_order_late:{c}:{i}" for i, _n in rows for c in ("start", "finish")]
        alerts.auto_resolve(ctx.session, now, Alert.__table__.c.cause.in_(causes), reason)
        triggers.timeline(ctx, order_id, "work_orders_cancelled",
                          f"{', '.join(n for _i, n in rows)} cancelled: {reason}",
                          {"work_orders": [n for _i, n in rows]})
    return len(rows)
