"""production: every query, and the shapes the API and CLI show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.errors import Invalid, NotFound
from ordertrail.i18n import Msg
from ordertrail.models import Order
from ordertrail.models.production import (
    QcResult,
    WorkCenter,
    WorkOrder,
    WorkOrderComponent,
    WorkOrderStep,
)
from ordertrail.production import stock
from ordertrail.production.schemas import (
    ComponentRead,
    QcRead,
    ScheduleRead,
    StepRead,
    WorkCenterRead,
    WorkOrderDetail,
    WorkOrderPage,
    WorkOrderRead,
)

OPEN = ("planned", "in_progress", "rework")      # still being made
FINISHED = ("completed", "done")                 # made (waiting for QC, or passed)
# Not started this long after the planned start counts as late (a work order planned to
# start now is not late the moment it is planned).
START_GRACE = timedelta(minutes=15)
STATUSES = ("planned", "in_progress", "completed", "rework", "done", "cancelled")


def get_work_order(session: Session, ref: int | str, *, for_update: bool = False) -> WorkOrder:
    """A work order by id or by number (``WO20261120-0001``); NotFound otherwise."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        stmt = select(WorkOrder).where(WorkOrder.id == int(ref))
    else:
        stmt = select(WorkOrder).where(WorkOrder.number == ref)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(Msg("No work order {ref}.", {"ref": ref}), code="unknown_work_order")
    return row


def order_of(session: Session, order_no: str) -> Order:
    order = session.scalars(select(Order).where(Order.order_no == order_no)).first()
    if order is None:
        raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                       code="unknown_order")
    return order


def work_orders_of(session: Session, order_id: int) -> list[WorkOrder]:
    return list(session.scalars(select(WorkOrder).where(WorkOrder.order_id == order_id)
                                .order_by(WorkOrder.id)))


def live_statuses(session: Session, order_id: int) -> list[str]:
    """The statuses of an order's work orders that are not cancelled."""
    return list(session.scalars(select(WorkOrder.status).where(
        WorkOrder.order_id == order_id, WorkOrder.status != "cancelled")))


def all_completed(session: Session, order_id: int) -> bool:
    """Every (non-cancelled) work order of the order is made: completed or done; at least one."""
    found = live_statuses(session, order_id)
    return bool(found) and all(s in FINISHED for s in found)


def all_done(session: Session, order_id: int) -> bool:
    """Every (non-cancelled) work order passed QC; at least one."""
    found = live_statuses(session, order_id)
    return bool(found) and all(s == "done" for s in found)


def any_rework(session: Session, order_id: int) -> bool:
    """Some work order of the order failed QC and is being reworked."""
    return "rework" in live_statuses(session, order_id)


def late_causes(wo: WorkOrder, now: datetime) -> list[str]:
    """What is behind plan now: not started after the planned start, not finished after the
    planned finish."""
    out = []
    if wo.status == "planned" and wo.planned_start <= now - START_GRACE:
        out.append("not_started")
    if wo.status in OPEN and wo.planned_finish <= now:
        out.append("not_finished")
    return out


def _late_filter(now: datetime) -> object:
    return or_(and_(WorkOrder.status == "planned", WorkOrder.planned_start <= now - START_GRACE),
               and_(WorkOrder.status.in_(OPEN), WorkOrder.planned_finish <= now))


def centers_by_id(session: Session, ids: Sequence[int] | None = None) -> dict[int, WorkCenter]:
    stmt = select(WorkCenter)
    if ids is not None:
        stmt = stmt.where(WorkCenter.id.in_(sorted(set(ids))))
    return {c.id: c for c in session.scalars(stmt)}


def center_read(c: WorkCenter) -> WorkCenterRead:
    return WorkCenterRead(id=c.id, code=c.code, name=c.name, capacity=c.capacity,
                          calendar=c.calendar_id, created_at=c.created_at)


def list_centers(session: Session) -> list[WorkCenterRead]:
    return [center_read(c) for c in session.scalars(select(WorkCenter).order_by(WorkCenter.code))]


def wo_read(wo: WorkOrder, order_no: str, now: datetime) -> WorkOrderRead:
    return WorkOrderRead(
        id=wo.id, number=wo.number, order_no=order_no, order_line_id=wo.order_line_id,
        sku=wo.sku, qty=wo.qty, status=wo.status,  # type: ignore[arg-type]
        planned_start=wo.planned_start, planned_finish=wo.planned_finish,
        actual_start=wo.actual_start, actual_finish=wo.actual_finish,
        late=bool(late_causes(wo, now)), rework_count=wo.rework_count,
        created_by=wo.created_by, created_at=wo.created_at)


def order_no_of(session: Session, order_id: int) -> str:
    return session.scalar(select(Order.order_no).where(Order.id == order_id)) or "-"


def detail(ctx: Ctx, wo: WorkOrder) -> WorkOrderDetail:
    """A work order with its steps, components (and their stock), schedule and QC results."""
    session, now = ctx.session, ctx.clock.now()
    steps = list(session.scalars(select(WorkOrderStep).where(
        WorkOrderStep.work_order_id == wo.id).order_by(WorkOrderStep.seq)))
    centers = centers_by_id(session, [s.work_center_id for s in steps])
    comps = list(session.scalars(select(WorkOrderComponent).where(
        WorkOrderComponent.work_order_id == wo.id).order_by(WorkOrderComponent.sku)))
    free = stock.available(session, [c.sku for c in comps])
    qcs = session.scalars(select(QcResult).where(QcResult.work_order_id == wo.id)
                          .order_by(QcResult.id))
    base = wo_read(wo, order_no_of(session, wo.order_id), now)
    return WorkOrderDetail(
        **base.model_dump(),
        steps=[StepRead(seq=s.seq, name=s.name, kind=s.kind,  # type: ignore[arg-type]
                        work_center=centers[s.work_center_id].code,
                        planned_minutes=s.planned_minutes, planned_start=s.planned_start,
                        planned_finish=s.planned_finish, actual_start=s.actual_start,
                        actual_finish=s.actual_finish, done_by=s.done_by, note=s.note)
               for s in steps],
        components=[_component(c, free) for c in comps],
        schedule=ScheduleRead(planned_start=wo.planned_start, planned_finish=wo.planned_finish,
                              actual_start=wo.actual_start, actual_finish=wo.actual_finish,
                              late=late_causes(wo, now)),  # type: ignore[arg-type]
        qc=[QcRead(result=q.result, note=q.note, by=q.by_name, at=q.at)  # type: ignore[arg-type]
            for q in qcs])


def _component(c: WorkOrderComponent, free: dict[str, Decimal]) -> ComponentRead:
    have = free.get(c.sku)
    enough = None if have is None or c.consumed_at is not None else have >= c.qty
    return ComponentRead(sku=c.sku, qty=c.qty, available=have, enough=enough,
                         consumed_at=c.consumed_at)


def page(ctx: Ctx, *, status: str | None = None, order_no: str | None = None,
         late: bool | None = None, limit: int = 50, cursor: str | None = None,
         ) -> WorkOrderPage:
    """Work orders, newest first, with filters; ``next_cursor`` continues the list."""
    session, now = ctx.session, ctx.clock.now()
    stmt: Select[tuple[WorkOrder, str]] = (
        select(WorkOrder, Order.order_no).join(Order, Order.id == WorkOrder.order_id))
    if status is not None:
        if status not in STATUSES:
            raise Invalid(Msg("Unknown work order status {status}; use one of {known}.",
                              {"status": status, "known": list(STATUSES)}),
                          code="unknown_status")
        stmt = stmt.where(WorkOrder.status == status)
    if order_no is not None:
        stmt = stmt.where(WorkOrder.order_id == order_of(session, order_no).id)
    if late is not None:
        cond = _late_filter(now)
        stmt = stmt.where(cond if late else ~cond)  # type: ignore[operator,arg-type]
    if cursor is not None:
        if not cursor.isdigit():
            raise Invalid(Msg("Bad cursor {cursor}.", {"cursor": cursor}), code="bad_cursor")
        stmt = stmt.where(WorkOrder.id < int(cursor))
    rows = session.execute(stmt.order_by(WorkOrder.id.desc()).limit(limit + 1)).all()
    items = [wo_read(wo, no, now) for wo, no in rows[:limit]]
    more = len(rows) > limit
    return WorkOrderPage(items=items, next_cursor=str(items[-1].id) if more and items else None)


def count_live(session: Session, order_line_id: int) -> int:
    return session.scalar(select(func.count()).select_from(WorkOrder).where(
        WorkOrder.order_line_id == order_line_id, WorkOrder.status != "cancelled")) or 0
