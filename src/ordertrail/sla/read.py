"""Read side of alerts and deadlines: pages and views (never changes anything)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from ordertrail.context import Ctx
from ordertrail.errors import Invalid, NotFound
from ordertrail.i18n import Msg
from ordertrail.models import Order, StageVisit, User
from ordertrail.models.alert import Alert
from ordertrail.sla import alerts
from ordertrail.sla.schemas import AlertPage, AlertRead, DeadlineRead, OrderDeadlines


def _names(ctx: Ctx, rows: Sequence[Alert]) -> dict[int, str]:
    ids = {i for a in rows for i in (a.responsible_user_id, a.assignee_id, a.acked_by,
                                     a.resolved_by) if i is not None}
    if not ids:
        return {}
    return dict(ctx.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def alert_read(ctx: Ctx, alert: Alert, names: dict[int, str] | None = None) -> AlertRead:
    names = names if names is not None else _names(ctx, [alert])

    def name(uid: int | None) -> str | None:
        return names.get(uid) if uid is not None else None

    return AlertRead(
        id=alert.id, kind=alert.kind, cause=alert.cause, severity=alert.severity,
        state=alert.state, level=alert.level, order_no=alert.order_no,
        shipment_id=alert.shipment_id, stage=alert.stage,
        responsible_role=alert.responsible_role,
        responsible_user=name(alert.responsible_user_id), assignee=name(alert.assignee_id),
        title=alert.title, detail=alert.detail, data=alert.data, due_at=alert.due_at,
        opened_at=alert.opened_at, escalate_at=alert.escalate_at,
        last_escalated_at=alert.last_escalated_at, acked_at=alert.acked_at,
        acked_by=name(alert.acked_by), resolved_at=alert.resolved_at,
        resolved_by=name(alert.resolved_by), note=alert.note)


def alert_page(ctx: Ctx, *, order_no: str | None = None, state: str | None = None,
               kind: str | None = None, role: str | None = None, mine: bool = False,
               limit: int = 50, cursor: str | None = None) -> AlertPage:
    """Alerts, newest first, filtered; ``mine``: those the caller answers for at level 1."""
    stmt = select(Alert)
    if state is not None:
        if state not in alerts.STATES:
            raise Invalid(Msg("Unknown alert state {state} (known: {known}).",
                              {"state": state, "known": ", ".join(alerts.STATES)}),
                          field="state")
        stmt = stmt.where(Alert.state == state)
    if kind is not None:
        if kind not in alerts.KINDS:
            raise Invalid(Msg("Unknown alert kind {kind} (known: {known}).",
                              {"kind": kind, "known": ", ".join(alerts.KINDS)}),
                          field="kind")
        stmt = stmt.where(Alert.kind == kind)
    if order_no is not None:
        order_id = ctx.session.scalar(select(Order.id).where(Order.order_no == order_no))
        if order_id is None:
            raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                           code="unknown_order")
        stmt = stmt.where(Alert.order_id == order_id)
    if role is not None:
        stmt = stmt.where(Alert.responsible_role == role)
    if mine:
        me = ctx.actor.user_id
        stmt = stmt.where(or_(
            Alert.assignee_id == me, Alert.responsible_user_id == me,
            (Alert.assignee_id.is_(None) & Alert.responsible_user_id.is_(None)
             & Alert.responsible_role.in_(sorted(ctx.actor.roles)))))
    if cursor:
        if not cursor.isdigit():
            raise Invalid("cursor: pass the next_cursor of the previous page", field="cursor")
        stmt = stmt.where(Alert.id < int(cursor))
    rows = list(ctx.session.scalars(stmt.order_by(Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    names = _names(ctx, rows)
    return AlertPage(items=[alert_read(ctx, a, names) for a in rows],
                     next_cursor=str(rows[-1].id) if more and rows else None)


def order_deadlines(ctx: Ctx, order_no: str) -> OrderDeadlines:
    """Every stage visit of an order with its deadline and, once left, its outcome."""
    order = ctx.session.scalars(select(Order).where(Order.order_no == order_no)).first()
    if order is None:
        raise NotFound(Msg("No order {order_no}.", {"order_no": order_no}),
                       code="unknown_order")
    visits = list(ctx.session.scalars(select(StageVisit).where(StageVisit.order_id == order.id)
                                      .order_by(StageVisit.entered_at, StageVisit.id)))
    current = next((v for v in visits if v.exited_at is None), None)
    return OrderDeadlines(
        order_no=order.order_no, promised_at=order.promised_at,
        late_risk_at=current.late_risk_at if current else None,
        visits=[DeadlineRead(
            stage=v.stage, entered_at=v.entered_at, exited_at=v.exited_at,
            responsible_role=v.responsible_role, calendar=v.calendar_id,
            target_seconds=v.target_seconds, warn_at=v.warn_at, due_at=v.due_at,
            remaining_seconds=v.remaining_seconds, held_seconds=v.held_seconds,
            outcome=v.outcome, variance_seconds=v.variance_seconds) for v in visits])
