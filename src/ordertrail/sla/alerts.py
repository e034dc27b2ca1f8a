"""Alerts: opened once per cause, escalated level by level, acknowledged, resolved.

Every change of an alert writes, in the caller's transaction, its ``alert.*`` outbox event
(with the recipients of that level) and, for alerts about an order, a timeline row. Opening
and auto-resolving work on many alerts at once (the sweeper opens thousands per statement);
people act on one alert at a time.

One alert per cause (``alerts.cause`` is unique): a cause that is seen again while its alert
exists is ignored — except for ``shipment_exception`` and ``delivery_failed``, whose alert is
reopened (level 1, a new ``alert.opened``) when the parcel fails again after the alert was
resolved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Row, bindparam, select, update
from sqlalchemy.orm import Session

from ordertrail.calendar.durations import parse_duration
from ordertrail.calendar.service import get_calendar
from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Forbidden, NotFound, OrdertrailError
from ordertrail.flow.definition import FlowDef
from ordertrail.i18n import Msg
from ordertrail.jobs.outbox import emit_many
from ordertrail.models import User
from ordertrail.models.alert import Alert
from ordertrail.sla import repository

KINDS = ("stage_at_risk", "stage_overdue", "order_late_risk", "approval_waiting",
         "shipment_no_update", "shipment_exception", "delivery_failed", "payment_overdue",
         "work_order_late")
SEVERITY = {"stage_at_risk": "warning", "stage_overdue": "critical",
            "order_late_risk": "warning", "approval_waiting": "warning",
            "shipment_no_update": "warning", "shipment_exception": "critical",
            "delivery_failed": "warning", "payment_overdue": "warning",
            "work_order_late": "warning"}
STATES = ("open", "acknowledged", "resolved", "auto_resolved")
LIVE = ("open", "acknowledged")
REOPENS = frozenset({"shipment_exception", "delivery_failed"})
DEFAULT_LEVELS = ("manager", "admin")
MANAGING_ROLES = frozenset({"manager", "admin"})

_A = Alert.__table__

_TEXTS: dict[str, tuple[str, str]] = {
    "stage_at_risk": ("Order {order_no}: {stage_en} is due at {due}",
                      "订单 {order_no}：{stage_zh}将于 {due} 到期"),
    "stage_overdue": ("Order {order_no}: {stage_en} is overdue (due {due})",
                      "订单 {order_no}：{stage_zh}已超时（截止 {due}）"),
    "approval_waiting": ("Order {order_no} waits for approval at {stage_en} (due {due})",
                         "订单 {order_no} 在{stage_zh}等待审批（截止 {due}）"),
    "order_late_risk": ("Order {order_no} may miss its promised time {promised}",
                        "订单 {order_no} 可能无法在承诺时间 {promised} 前完成"),
    "shipment_no_update": ("Shipment {tracking} ({carrier}) has had no carrier update since "
                           "{since}", "包裹 {tracking}（{carrier}）自 {since} 起没有物流更新"),
    "shipment_exception": ("Shipment {tracking} ({carrier}) has a problem: {description}",
                           "包裹 {tracking}（{carrier}）异常：{description}"),
    "delivery_failed": ("Delivery of {tracking} ({carrier}) failed: {description}",
                        "包裹 {tracking}（{carrier}）派送失败：{description}"),
    "payment_overdue": ("Order {order_no}: payment is overdue (due {due})",
                        "订单 {order_no}：付款已逾期（截止 {due}）"),
    "work_order_late": ("Order {order_no}: work order {work_order} is behind plan ({what}, "
                        "planned {due})",
                        "订单 {order_no}：生产工单 {work_order} 落后于计划"
                        "（{what_zh}，计划 {due}）"),
}
_DETAILS: dict[str, tuple[str, str]] = {
    "responsible": ("Responsible: {who}.", "负责人：{who}。"),
    "order": ("Order {order_no}.", "订单 {order_no}。"),
}


def texts(kind: str, **params: Any) -> dict[str, str]:
    """The alert's title in English and Chinese."""
    en, zh = _TEXTS[kind]
    safe = _Defaults(params)
    return {"en": en.format_map(safe), "zh": zh.format_map(safe)}


def stage_texts(kind: str, order_no: str, stage: Any, due: str) -> dict[str, str]:
    """``texts`` for the stage kinds, on the sweeper's hot path (plain formatting)."""
    en, zh = _TEXTS[kind]
    return {"en": en.format(order_no=order_no, stage_en=stage.en, due=due),
            "zh": zh.format(order_no=order_no, stage_zh=stage.zh, due=due)}


def detail_texts(who: str | None, order_no: str | None) -> dict[str, str]:
    """A second line for the alert: who answers for it (else the order)."""
    if who:
        return _responsible(who)
    if order_no:
        en, zh = _DETAILS["order"]
        return {"en": en.format(order_no=order_no), "zh": zh.format(order_no=order_no)}
    return {"en": "", "zh": ""}


@lru_cache(maxsize=256)
def _responsible(who: str) -> dict[str, str]:
    en, zh = _DETAILS["responsible"]
    return {"en": en.format(who=who), "zh": zh.format(who=who)}


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "-"


@lru_cache(maxsize=4096)
def local(at: datetime | None, tz: str) -> str:
    """A time as people read it in alert texts (the deployment's time zone)."""
    return "-" if at is None else at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


@dataclass
class AlertSpec:
    """What the sweeper or a consumer wants opened (one per cause)."""

    kind: str
    cause: str
    title: dict[str, str]
    order_id: int | None = None
    order_no: str | None = None
    shipment_id: int | None = None
    visit_id: int | None = None
    stage: str | None = None
    responsible_role: str | None = None
    responsible_user_id: int | None = None
    detail: dict[str, str] = field(default_factory=lambda: {"en": "", "zh": ""})
    data: dict[str, Any] = field(default_factory=dict)
    due_at: datetime | None = None
    severity: str | None = None
    escalation: Escalation | None = None
    # When the cause arose (the warn or due time a sweep found passed): escalation counts
    # from there, so after downtime a long-overdue alert climbs at once instead of waiting
    # another full step from the moment the late sweep opened it.
    since: datetime | None = None


@dataclass(frozen=True)
class Escalation:
    """How an alert climbs: business seconds per level in a calendar, the roles of levels 2+."""

    calendar_id: str
    after: int
    roles: tuple[str, ...] = DEFAULT_LEVELS


def escalation_of(session: Session, flow: FlowDef | None) -> Escalation:
    """A flow's escalation rule (default: 2 business hours, manager then admin, in "cn")."""
    if flow is None:
        cal = get_calendar(session, "cn")
        return Escalation(cal.id, 7200, DEFAULT_LEVELS)
    try:
        cal = get_calendar(session, flow.calendar)
    except OrdertrailError:  # a flow naming a missing calendar still escalates, in "cn"
        cal = get_calendar(session, "cn")
    after = round(parse_duration(flow.escalation.after).seconds_in(cal))
    return Escalation(cal.id, after, flow.escalation.levels or DEFAULT_LEVELS)


# Recipients ---------------------------------------------------------------------------------


class People:
    """Active users by id and by role, read once per batch."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._users: dict[int, tuple[int | None, tuple[str, ...]]] | None = None

    def _load(self) -> dict[int, tuple[int | None, tuple[str, ...]]]:
        if self._users is None:
            rows = self._session.execute(select(User.id, User.manager_id, User.roles)
                                         .where(User.active.is_(True)))
            self._users = {uid: (mgr, tuple(roles or ())) for uid, mgr, roles in rows}
        return self._users

    def manager_of(self, user_id: int | None) -> int | None:
        if user_id is None:
            return None
        hit = self._load().get(user_id)
        return hit[0] if hit else None

    def with_role(self, role: str) -> list[int]:
        return sorted(uid for uid, (_m, roles) in self._load().items() if role in roles)


def recipients(people: People, level: int, role: str | None, person: int | None,
               roles: Sequence[str]) -> dict[str, list[Any]]:
    """Who must hear about an alert at this level.

    Level 1: the responsible person (the assignee, else the visit's responsible user), else
    the responsible role. Level 2: that person's manager, else the users of the first
    escalation role. Level n > 2: the users of escalation role n - 1.
    """
    if level <= 1:
        if person is not None:
            return {"users": [person], "roles": []}
        return {"users": [], "roles": [role] if role else []}
    if level == 2:
        manager = people.manager_of(person)
        if manager is not None:
            return {"users": [manager], "roles": []}
    index = min(level - 2, len(roles) - 1)
    if index < 0:
        return {"users": [], "roles": []}
    chosen = roles[index]
    return {"users": people.with_role(chosen), "roles": [chosen]}


# Events and timeline --------------------------------------------------------------------------


def _payload(row: Mapping[str, Any], recipients_: dict[str, list[Any]],
             now: datetime) -> dict[str, Any]:
    due = row.get("due_at")
    return {"alert_id": row["id"], "kind": row["kind"], "severity": row["severity"],
            "state": row["state"], "level": row["level"], "order_no": row.get("order_no"),
            "shipment_id": row.get("shipment_id"), "stage": row.get("stage"),
            "title": row["title"], "detail": row["detail"],
            "due_at": due.isoformat() if due is not None else None,
            "recipients": recipients_, "at": now.isoformat()}


class _PayloadText:
    """``_payload`` as JSON text, for batches: the parts alerts share (kind, stage, detail,
    recipients, times) are serialised once per batch, only the title and identifiers per
    alert. Same keys, order and values as ``json.dumps(_payload(...))``."""

    def __init__(self, now: datetime) -> None:
        self.at = json.dumps(now.isoformat())
        self.memo: dict[Any, str] = {}

    def _once(self, key: Any, value: Any) -> str:
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = json.dumps(value)
        return hit

    def __call__(self, row: Mapping[str, Any], to: dict[str, list[Any]]) -> str:
        due = row.get("due_at")
        detail = row["detail"]
        head = self._once(("head", row["kind"], row["severity"], row["state"], row["level"]),
                          None) if False else None
        del head
        return (
            f'{{"alert_id": {int(row["id"])}, '
            f'"kind": {self._once(("s", row["kind"]), row["kind"])}, '
            f'"severity": {self._once(("s", row["severity"]), row["severity"])}, '
            f'"state": {self._once(("s", row["state"]), row["state"])}, '
            f'"level": {int(row["level"])}, '
            f'"order_no": {json.dumps(row.get("order_no"))}, '
            f'"shipment_id": {json.dumps(row.get("shipment_id"))}, '
            f'"stage": {self._once(("s", row.get("stage")), row.get("stage"))}, '
            f'"title": {json.dumps(row["title"])}, '
            f'"detail": {self._once(("d", *detail.items()), detail)}, '
            f'"due_at": {self._once(("t", due), None if due is None else due.isoformat())}, '
            f'"recipients": {self._once(("r", *to["users"], "|", *to["roles"]), to)}, '
            f'"at": {self.at}}}')


def announce(session: Session, now: datetime, rows: Sequence[Mapping[str, Any]],
             event: str, timeline_kind: str, people: People | None = None,
             actor: tuple[int | None, str, str | None, str] | None = None) -> None:
    """Write the ``alert.*`` event and the order timeline row of each changed alert."""
    if not rows:
        return
    people = people or People(session)
    actor_id, actor_name, role, source = actor or (None, "system", "system", "automation")
    events: list[tuple[str, str, str, Any]] = []
    timeline = []
    payload = _PayloadText(now)
    for row in rows:
        person = row.get("assignee_id") or row.get("responsible_user_id")
        to = recipients(people, row["level"], row.get("responsible_role"), person,
                        row.get("escalation_roles") or DEFAULT_LEVELS)
        events.append((event, "alert", str(row["id"]), payload(row, to)))
        if row.get("order_id") is not None:
            # Plain identifiers and numbers only: formatted, not serialised, per row.
            timeline.append((
                row["order_id"], timeline_kind, actor_id, actor_name, role,
                row["title"].get("en"), source,
                f'{{"alert_id": {int(row["id"])}, "kind": "{row["kind"]}", "level": '
                f'{int(row["level"])}, "severity": "{row["severity"]}", "state": '
                f'"{row["state"]}"}}'))
    emit_many(session, events, now)
    repository.write_timeline(session, now, timeline)


# Opening --------------------------------------------------------------------------------------


def open_alerts(session: Session, now: datetime, specs: Sequence[AlertSpec],
                people: People | None = None) -> list[dict[str, Any]]:
    """Open the alerts whose cause has none yet (or reopen, see module doc); returns the
    rows opened, after writing their events and timeline rows."""
    if not specs:
        return []
    dialect = session.get_bind().dialect.name
    escalate_at: dict[tuple[Any, ...], datetime] = {}
    rows: dict[str, dict[str, Any]] = {}
    default = None
    for spec in specs:
        esc = spec.escalation
        if esc is None:
            esc = default = default or escalation_of(session, None)
        key = (esc.calendar_id, esc.after)
        if key not in escalate_at:
            escalate_at[key] = get_calendar(session, esc.calendar_id).add(now, esc.after)
        climb = escalate_at[key]
        if spec.since is not None and (now - spec.since).total_seconds() >= esc.after:
            # Business time is never more than wall time: only a cause older than one step
            # in wall time can be due already; only those pay for their own computation.
            late = (esc.calendar_id, esc.after, spec.since)
            if late not in escalate_at:
                escalate_at[late] = get_calendar(session, esc.calendar_id).add(spec.since,
                                                                               esc.after)
            climb = escalate_at[late]
        rows[spec.cause] = {
            "kind": spec.kind, "cause": spec.cause,
            "severity": spec.severity or SEVERITY[spec.kind], "state": "open", "level": 1,
            "order_id": spec.order_id, "order_no": spec.order_no,
            "shipment_id": spec.shipment_id, "visit_id": spec.visit_id, "stage": spec.stage,
            "responsible_role": spec.responsible_role,
            "responsible_user_id": spec.responsible_user_id, "assignee_id": None,
            "title": spec.title, "detail": spec.detail, "data": spec.data,
            "due_at": spec.due_at, "opened_at": now, "calendar_id": esc.calendar_id,
            "escalate_after": esc.after, "escalation_roles": list(esc.roles),
            "escalate_at": climb if esc.roles else None,
            "last_escalated_at": None, "acked_at": None, "acked_by": None,
            "resolved_at": None, "resolved_by": None, "note": None, "updated_at": now}
    opened: list[dict[str, Any]] = []
    fresh = [r for r in rows.values() if r["kind"] not in REOPENS]
    again = [r for r in rows.values() if r["kind"] in REOPENS]
    for alert_id, cause in repository.insert_new(session, fresh):
        row = rows[cause]
        row["id"] = alert_id
        opened.append(row)
    if again:
        reopen = repository.reopen_insert(dialect)
        for alert_id, cause in session.connection().execute(reopen, again):
            row = rows[cause]
            row["id"] = alert_id
            opened.append(row)
    announce(session, now, opened, "alert.opened", "alert_opened", people)
    return opened


# Escalating and resolving --------------------------------------------------------------------

_SET_ESCALATE = (update(_A).where(_A.c.id == bindparam("a_id"))
                 .values(escalate_at=bindparam("a_next")))


def escalated(session: Session, now: datetime, rows: Sequence[Row[Any]],
              people: People | None = None) -> None:
    """After the sweeper claimed escalations (level already raised, escalate_at cleared):
    schedule the next level where there is one, and announce."""
    plain = [dict(r._mapping) for r in rows]
    nexts = []
    for row in plain:
        roles = row.get("escalation_roles") or []
        if row["level"] <= len(roles) and row.get("escalate_after"):
            cal = get_calendar(session, row.get("calendar_id") or "cn")
            row["escalate_at"] = cal.add(now, row["escalate_after"])
            nexts.append({"a_id": row["id"], "a_next": row["escalate_at"]})
    if nexts:
        session.connection().execute(_SET_ESCALATE, nexts)
    announce(session, now, plain, "alert.escalated", "alert_escalated", people)


def auto_resolve(session: Session, now: datetime, where: ColumnElement[bool],
                 reason: str) -> int:
    """Mark the live alerts matching ``where`` auto-resolved (their cause went away)."""
    rows = session.connection().execute(
        update(_A).where(_A.c.state.in_(LIVE), where)
        .values(state="auto_resolved", resolved_at=now, escalate_at=None, updated_at=now,
                note=reason)
        .returning(*_A.c)).all()
    announce(session, now, [dict(r._mapping) for r in rows], "alert.resolved",
             "alert_resolved")
    return len(rows)


# People acting on one alert ------------------------------------------------------------------


def get_alert(session: Session, alert_id: int, *, for_update: bool = False) -> Alert:
    stmt = select(Alert).where(Alert.id == alert_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    alert = session.scalars(stmt).first()
    if alert is None:
        raise NotFound(Msg("No alert {id}.", {"id": alert_id}), code="unknown_alert")
    return alert


def may_act(ctx: Ctx, alert: Alert) -> bool:
    actor = ctx.actor
    if actor.is_admin or actor.roles & MANAGING_ROLES or "system" in actor.roles:
        return True
    if actor.user_id is not None and actor.user_id in (alert.assignee_id,
                                                        alert.responsible_user_id):
        return True
    roles = {alert.responsible_role, *alert.escalation_roles[:max(alert.level - 1, 0)]}
    return bool(actor.roles & {r for r in roles if r})


def _require(ctx: Ctx, alert: Alert, what: str) -> None:
    if not may_act(ctx, alert):
        raise Forbidden(Msg("Your role may not {what} alert {id}: it is for {role}.",
                            {"what": what, "id": alert.id,
                             "role": alert.responsible_role or "managers"}),
                        code="role_not_allowed")


def _row(alert: Alert) -> dict[str, Any]:
    return {c.name: getattr(alert, c.key) for c in _A.c}


def _actor(ctx: Ctx) -> tuple[int | None, str, str | None, str]:
    return (ctx.actor.user_id, ctx.actor.name, None, ctx.actor.source)


def acknowledge(ctx: Ctx, alert_id: int, note: str | None = None) -> Alert:
    """Someone took it: escalation stops. Acknowledging twice changes nothing."""
    alert = get_alert(ctx.session, alert_id, for_update=True)
    _require(ctx, alert, "acknowledge")
    if alert.state == "acknowledged":
        return alert
    if alert.state != "open":
        raise Conflict(Msg("Alert {id} is {state}; only open alerts can be acknowledged.",
                           {"id": alert_id, "state": alert.state}), code="alert_closed")
    now = ctx.clock.now()
    alert.state, alert.acked_at, alert.acked_by = "acknowledged", now, ctx.actor.user_id
    return _settled(ctx, alert, now, note, "acknowledged")


def _settled(ctx: Ctx, alert: Alert, now: datetime, note: str | None, event: str) -> Alert:
    """Escalation stops, the note is kept, and everyone hears of it (alert.<event>)."""
    alert.escalate_at, alert.updated_at = None, now
    if note:
        alert.note = note
    ctx.session.flush()
    announce(ctx.session, now, [_row(alert)], f"alert.{event}", f"alert_{event}",
             actor=_actor(ctx))
    return alert


def resolve(ctx: Ctx, alert_id: int, note: str | None = None) -> Alert:
    """Close an open or acknowledged alert by hand."""
    alert = get_alert(ctx.session, alert_id, for_update=True)
    _require(ctx, alert, "resolve")
    if alert.state not in LIVE:
        raise Conflict(Msg("Alert {id} is already {state}.",
                           {"id": alert_id, "state": alert.state}), code="alert_closed")
    now = ctx.clock.now()
    alert.state, alert.resolved_at, alert.resolved_by = "resolved", now, ctx.actor.user_id
    return _settled(ctx, alert, now, note, "resolved")


def assign(ctx: Ctx, alert_id: int, user_name: str) -> Alert:
    """Make someone the alert's responsible person (level 1 recipient from now on)."""
    alert = get_alert(ctx.session, alert_id, for_update=True)
    _require(ctx, alert, "assign")
    if alert.state not in LIVE:
        raise Conflict(Msg("Alert {id} is {state}; only open or acknowledged alerts can be "
                           "assigned.", {"id": alert_id, "state": alert.state}),
                       code="alert_closed")
    user = ctx.session.scalars(select(User).where(User.name == user_name)).first()
    if user is None or not user.active:
        raise NotFound(Msg("No active user {name}.", {"name": user_name}),
                       code="unknown_user", field="user")
    alert.assignee_id, alert.updated_at = user.id, ctx.clock.now()
    ctx.session.flush()
    return alert


def by_ids(session: Session, ids: Iterable[int]) -> list[Alert]:
    wanted = list(ids)
    if not wanted:
        return []
    return list(session.scalars(select(Alert).where(Alert.id.in_(wanted))))
