"""The sweeper: claims stored deadlines that have passed and opens their alerts.

Each step claims its rows with one conditional UPDATE … RETURNING (``warn_state: pending →
raised`` and the like; on PostgreSQL the candidates are picked ``FOR UPDATE SKIP LOCKED``),
so several sweepers can run at once and a row is claimed by exactly one of them. Nothing is
computed from the tick: a sweep after downtime finds everything whose time has passed and
catches up. The claim, the alerts, their events and timeline rows commit together; an alert
cause is unique, so even a claim repeated after a crash opens its alert once.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    exists,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.calendar.service import get_calendar
from ordertrail.config import Settings
from ordertrail.db import write_session
from ordertrail.flow.definition import FlowDef, StageKind
from ordertrail.jobs.outbox import emit_many
from ordertrail.kit.clock import Clock
from ordertrail.models import Approval, Order, Shipment, StageVisit
from ordertrail.models.alert import Alert
from ordertrail.sla import alerts, deadlines
from ordertrail.sla.claims import (
    Claim,
    Orders,
    claim_visits,
    picked,
    skip_locked,
)

_V = StageVisit.__table__
_O = Order.__table__
_S = Shipment.__table__
_A = Alert.__table__
_PENDING = literal_column("'pending'")
MAX_ROUNDS = 100

# No carrier scan for this long (wall-clock hours: parcels move at weekends) → alert.
SILENCE_HOURS: dict[str, int] = {"info_received": 72, "in_transit": 48,
                                 "out_for_delivery": 24, "available_for_pickup": 72}
# Per carrier and leg: slower services get longer before anyone is told.
CARRIER_SILENCE_HOURS: dict[tuple[str, str], int] = {
    ("ems", "in_transit"): 72, ("chinapost", "in_transit"): 96,
    ("ups", "in_transit"): 72, ("dhl", "in_transit"): 72, ("fedex", "in_transit"): 72,
}
STAGE_KINDS = ("stage_at_risk", "stage_overdue", "approval_waiting")


@dataclass
class SweepResult:
    at_risk: int = 0
    approval_waiting: int = 0
    overdue: int = 0
    late_risk: int = 0
    no_update: int = 0
    escalated: int = 0
    auto_resolved: int = 0
    delayed: int = 0
    work_order_late: int = 0
    payment_overdue: int = 0

    @property
    def opened(self) -> int:
        return (self.at_risk + self.approval_waiting + self.overdue + self.late_risk
                + self.no_update + self.work_order_late + self.payment_overdue)

    def add(self, other: SweepResult) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "opened": self.opened}


# A step returns (more, result): ``more`` when it left due work for another round.
Step = Callable[[Session, datetime, Settings, int], tuple[bool, SweepResult]]


def sweep(factory: sessionmaker[Session], clock: Clock, settings: Settings, *,
          limit: int = 10_000) -> SweepResult:
    """One sweep: every step, each in its own transactions of at most ``limit`` claims,
    repeated until nothing is due."""
    result = SweepResult()
    now = clock.now()
    for step in all_steps():
        for _ in range(MAX_ROUNDS):
            with batch_gc(), write_session(factory) as session:
                more, part = step(session, now, settings, limit)
            result.add(part)
            if not more:
                break
    return result


def sweep_session(session: Session, now: datetime, settings: Settings, *,
                  limit: int = 10_000) -> SweepResult:
    """Every step once, in the caller's transaction (the periodic job)."""
    result = SweepResult()
    with batch_gc():
        for step in all_steps():
            result.add(step(session, now, settings, limit)[1])
    return result


@contextmanager
def batch_gc() -> Iterator[None]:
    """No cyclic GC while a step builds its thousands of short-lived rows: with a large heap
    (a worker process) the collector's passes cost more than the step; reference counting
    still frees everything, and the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pending_level_roles(session: Session, flow: FlowDef, visits: list[Row[Any]],
                         ) -> dict[int, tuple[str, ...]]:
    """For visits of approval stages: the roles of the first level still short of votes."""
    ids = [v.id for v in visits]
    if not ids:
        return {}
    votes: dict[tuple[int, int], int] = {}
    for visit_id, level in session.execute(
            select(Approval.visit_id, Approval.level)
            .where(Approval.visit_id.in_(ids), Approval.decision == "approve")):
        votes[(visit_id, level)] = votes.get((visit_id, level), 0) + 1
    out = {}
    for v in visits:
        rule = flow.stage(v.stage).approval
        if rule is None:
            continue
        for lv in rule.levels:
            if votes.get((v.id, lv.index), 0) < lv.required:
                out[v.id] = lv.roles
                break
    return out


def _orders_of(session: Session, claim: Claim) -> Orders:
    return Orders(session, sorted({v.order_id for v in claim.visits}))


def _visit_specs(session: Session, claim: Claim, kind_of: Callable[[Any], str],
                 settings: Settings) -> tuple[list[alerts.AlertSpec], Orders]:
    visits = claim.visits
    orders = _orders_of(session, claim)
    rows = orders.rows
    # Per flow version and stage, once: the alert kind, the stage, the shared data.
    shapes: dict[tuple[int, str, int | None, str | None], tuple[str, Any, dict[str, Any]]] = {}
    approval_visits: dict[int, list[Row[Any]]] = {}
    plan = []
    for v in visits:
        o = rows.get(v.order_id)
        if o is None:
            continue
        key = (o.flow_version_id, v.stage, v.target_seconds, v.calendar_id)
        shape = shapes.get(key)
        if shape is None:
            flow = orders.flow(o.flow_version_id)
            stage = flow.stage(v.stage)
            shape = shapes[key] = (kind_of(stage), stage.name, {
                "flow": flow.id, "target_seconds": v.target_seconds,
                "calendar": v.calendar_id})
        if shape[0] == "approval_waiting":
            approval_visits.setdefault(o.flow_version_id, []).append(v)
        plan.append((v, o, shape))
    approver_roles: dict[int, tuple[str, ...]] = {}
    for version_id, group in approval_visits.items():
        approver_roles.update(_pending_level_roles(session, orders.flow(version_id), group))
    tz = settings.timezone
    specs = []
    for v, o, (kind, name, data) in plan:
        role = v.responsible_role
        approvers = approver_roles.get(v.id)
        if approvers:
            role = approvers[0]
            data = {**data, "approver_roles": list(approvers)}
        specs.append(alerts.AlertSpec(
            kind=kind, cause=f"{kind}:visit:{v.id}", order_id=o.id, order_no=o.order_no,
            visit_id=v.id, stage=v.stage, responsible_role=role,
            responsible_user_id=v.responsible_user_id, due_at=v.due_at,
            since=v.due_at if kind == "stage_overdue" else v.warn_at,
            title=alerts.stage_texts(kind, o.order_no, name, alerts.local(v.due_at, tz)),
            detail=alerts.detail_texts(role, o.order_no), data=data,
            escalation=orders.escalation(o.flow_version_id)))
    return specs, orders


def step_at_risk(session: Session, now: datetime, settings: Settings,
                 limit: int) -> tuple[int, SweepResult]:
    """warn_at passed: stage_at_risk, or approval_waiting for approval stages."""
    claim = claim_visits(session, now, "warn_at", "warn_state", limit)
    specs, _ = _visit_specs(session, claim, lambda s: "approval_waiting"
                            if s.kind == StageKind.APPROVAL else "stage_at_risk", settings)
    opened = alerts.open_alerts(session, now, specs)
    waiting = sum(1 for a in opened if a["kind"] == "approval_waiting")
    return claim.more, SweepResult(at_risk=len(opened) - waiting, approval_waiting=waiting)


def step_overdue(session: Session, now: datetime, settings: Settings,
                 limit: int) -> tuple[int, SweepResult]:
    """due_at passed: stage_overdue; order.delayed if the promise can no longer be kept."""
    claim = claim_visits(session, now, "due_at", "due_state", limit)
    specs, orders = _visit_specs(session, claim, lambda s: "stage_overdue", settings)
    opened = alerts.open_alerts(session, now, specs)
    if opened:
        # Overdue supersedes at risk: one alert per late stage climbs the escalation chain.
        alerts.auto_resolve(session, now, _SUPERSEDED, "overdue now")
    by_visit = {v.id: v for v in claim.visits}
    delayed = []
    for alert in opened:
        v = by_visit[alert["visit_id"]]
        o = orders.rows[v.order_id]
        if o.promised_at is None:
            continue
        flow = orders.flow(o.flow_version_id)
        remaining = deadlines.typical_remaining(session, flow, o.flow_version_id)
        rest = max(remaining.get(v.stage, 0.0) - (v.target_seconds or 0), 0.0)
        cal = get_calendar(session, v.calendar_id or flow.calendar)
        expected = cal.add(now, rest)
        if expected > o.promised_at:
            delayed.append(delayed_event(o.order_no, "stage_overdue", o.promised_at, expected, now))
    emit_many(session, delayed, now)
    return claim.more, SweepResult(overdue=len(opened), delayed=len(delayed))


def step_late_risk(session: Session, now: datetime, settings: Settings,
                   limit: int) -> tuple[int, SweepResult]:
    """late_risk_at passed: the promise cannot be kept at typical speed (once per order)."""
    claim = claim_visits(session, now, "late_risk_at", "late_state", limit)
    orders = _orders_of(session, claim)
    tz = settings.timezone
    specs, expected_of = [], {}
    for v in claim.visits:
        o = orders.rows.get(v.order_id)
        if o is None or o.promised_at is None or o.status in ("completed", "cancelled"):
            continue
        flow = orders.flow(o.flow_version_id)
        remaining = deadlines.typical_remaining(session, flow, o.flow_version_id)
        cal = get_calendar(session, v.calendar_id or flow.calendar)
        expected_of[o.id] = cal.add(now, remaining.get(v.stage, 0.0))
        specs.append(alerts.AlertSpec(
            kind="order_late_risk", cause=f"order_late_risk:order:{o.id}", order_id=o.id,
            order_no=o.order_no, visit_id=v.id, stage=v.stage,
            responsible_role=v.responsible_role, responsible_user_id=v.responsible_user_id,
            due_at=o.promised_at,
            title=alerts.texts("order_late_risk", order_no=o.order_no,
                               promised=alerts.local(o.promised_at, tz)),
            detail=alerts.detail_texts(v.responsible_role, o.order_no),
            data={"promised_at": o.promised_at.isoformat(),
                  "expected_at": expected_of[o.id].isoformat(), "stage": v.stage},
            escalation=orders.escalation(o.flow_version_id)))
    opened = alerts.open_alerts(session, now, specs)
    delayed = [delayed_event(a["order_no"], "late_risk", orders.rows[a["order_id"]].promised_at,
                        expected_of[a["order_id"]], now) for a in opened]
    emit_many(session, delayed, now)
    return claim.more, SweepResult(late_risk=len(opened), delayed=len(delayed))


def delayed_event(order_no: str, reason: str, promised: datetime | None, expected: datetime | None,
             now: datetime, shipment_id: int | None = None,
             tracking: str | None = None) -> tuple[str, str, str, dict[str, Any]]:
    return ("order.delayed", "order", order_no, {
        "order_no": order_no, "reason": reason, "shipment_id": shipment_id,
        "tracking_number": tracking,
        "promised_at": promised.isoformat() if promised else None,
        "expected_at": expected.isoformat() if expected else None, "at": now.isoformat()})


def _silence_rules() -> list[tuple[str, str | None, int]]:
    rules: list[tuple[str, str | None, int]] = [
        (status, carrier, hours) for (carrier, status), hours in CARRIER_SILENCE_HOURS.items()]
    rules += [(status, None, hours) for status, hours in SILENCE_HOURS.items()]
    return rules


def step_no_update(session: Session, now: datetime, settings: Settings,
                   limit: int) -> tuple[int, SweepResult]:
    """No carrier scan for N hours (per status, per carrier): shipment_no_update, once per
    silence (the marker is the last_event_at that went quiet)."""
    special = {c for c, _s in CARRIER_SILENCE_HOURS}
    fresh = or_(_S.c.silence_alerted_at.is_(None), _S.c.silence_alerted_at < _S.c.last_event_at)
    claimed: list[Row[Any]] = []
    for status, carrier, hours in _silence_rules():
        left = limit - len(claimed)
        if left <= 0:
            break
        cond = [_S.c.status == status, _S.c.last_event_at <= now - timedelta(hours=hours),
                fresh]
        cond.append(_S.c.carrier == carrier if carrier else _S.c.carrier.not_in(special))
        pick = skip_locked(session, select(_S.c.id).where(*cond).limit(left))
        stmt = (update(_S).where(picked(session, _S.c.id, pick), fresh)
                .values(silence_alerted_at=_S.c.last_event_at)
                .returning(_S.c.id, _S.c.order_id, _S.c.carrier, _S.c.tracking_number,
                           _S.c.status, _S.c.last_event_at))
        claimed += list(session.connection().execute(stmt))
    orders = Orders(session, sorted({s.order_id for s in claimed if s.order_id}))
    tz = settings.timezone
    specs = []
    for s in claimed:
        o = orders.rows.get(s.order_id) if s.order_id else None
        specs.append(alerts.AlertSpec(
            kind="shipment_no_update",
            cause=f"shipment_no_update:shipment:{s.id}:{int(s.last_event_at.timestamp())}",
            order_id=o.id if o else None, order_no=o.order_no if o else None,
            shipment_id=s.id, responsible_role="service",
            title=alerts.texts("shipment_no_update", tracking=s.tracking_number,
                               carrier=s.carrier, since=alerts.local(s.last_event_at, tz)),
            detail=alerts.detail_texts("service", o.order_no if o else None),
            data={"status": s.status, "carrier": s.carrier,
                  "tracking_number": s.tracking_number,
                  "last_event_at": s.last_event_at.isoformat()},
            escalation=orders.escalation(o.flow_version_id) if o else None))
    opened = alerts.open_alerts(session, now, specs)
    return len(claimed) >= limit, SweepResult(no_update=len(opened))


def step_escalate(session: Session, now: datetime, settings: Settings,
                  limit: int) -> tuple[int, SweepResult]:
    """Open (unacknowledged) alerts past escalate_at climb one level."""
    pick = skip_locked(session, select(_A.c.id)
                        .where(_A.c.state == literal_column("'open'"), _A.c.escalate_at <= now)
                        .order_by(_A.c.escalate_at).limit(limit))
    stmt = (update(_A).where(picked(session, _A.c.id, pick), _A.c.state == "open",
                             _A.c.escalate_at <= now)
            .values(level=_A.c.level + 1, last_escalated_at=now, escalate_at=None,
                    updated_at=now)
            .returning(*_A.c))
    rows = list(session.connection().execute(stmt))
    alerts.escalated(session, now, rows)
    return len(rows) >= limit, SweepResult(escalated=len(rows))


_SUPERSEDED = and_(_A.c.kind == "stage_at_risk", exists().where(
    _V.c.id == _A.c.visit_id, _V.c.due_state == "raised"))


def step_auto_resolve(session: Session, now: datetime, settings: Settings,
                      limit: int) -> tuple[int, SweepResult]:
    """Alerts whose cause went away: stage left, order finished, parcel moved on."""
    stage_left = and_(_A.c.kind.in_(STAGE_KINDS), exists().where(
        _V.c.id == _A.c.visit_id, _V.c.exited_at.is_not(None)))
    order_done = and_(_A.c.kind == "order_late_risk", exists().where(
        _O.c.id == _A.c.order_id, _O.c.status.in_(("completed", "cancelled"))))
    parcel = or_(
        and_(_A.c.kind == "shipment_exception", exists().where(
            _S.c.id == _A.c.shipment_id, _S.c.status != "exception")),
        and_(_A.c.kind == "delivery_failed", exists().where(
            _S.c.id == _A.c.shipment_id, _S.c.status != "attempt_fail")),
        and_(_A.c.kind == "shipment_no_update", exists().where(
            _S.c.id == _A.c.shipment_id,
            or_(_S.c.last_event_at > _S.c.silence_alerted_at,
                _S.c.status.not_in(tuple(SILENCE_HOURS))))))
    count = 0
    for where, reason in ((stage_left, "stage left"), (order_done, "order finished"),
                          (parcel, "shipment moved on")):
        count += alerts.auto_resolve(session, now, where, reason)
    return False, SweepResult(auto_resolved=count)


STEPS: tuple[Step, ...] = (step_auto_resolve, step_at_risk, step_overdue, step_late_risk,
                           step_no_update, step_escalate)


@lru_cache(maxsize=1)
def all_steps() -> tuple[Step, ...]:
    """The SLA steps, then the operations domains' own (late work orders, overdue payments):
    imported here, late, because those domains import this module."""
    from ordertrail.billing.alerts import step_payment_overdue
    from ordertrail.production.alerts import step_work_order_late

    return (*STEPS[:-1], step_work_order_late, step_payment_overdue, STEPS[-1])
