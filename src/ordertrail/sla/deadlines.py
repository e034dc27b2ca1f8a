"""Stage deadlines: computed once when a visit opens, paused by holds, closed on exit.

Everything here is pure over a ``WorkCalendar`` except the cached lookups (calendars, SLA
targets, typical durations), so the order service's transition path pays one dict lookup
per stage in the common case. The sweeper never recomputes a deadline: it claims the stored
``warn_at`` / ``due_at`` / ``late_risk_at`` (sla/sweep.py).
"""

from __future__ import annotations

import heapq
import logging
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from ordertrail.calendar.business import WorkCalendar
from ordertrail.calendar.service import get_calendar
from ordertrail.errors import OrdertrailError
from ordertrail.flow.definition import FlowDef, Stage, StageKind
from ordertrail.kit.types import UTCDateTime
from ordertrail.models.order import StageVisit
from ordertrail.sla import policy

WARN_FRACTION = 0.8  # the at-risk warning comes at 80 % of the target (business time)
TYPICAL_MIN_SAMPLES = 20  # fewer closed visits of a stage: its SLA target is the typical time
TYPICAL_SAMPLE = 2000  # recent closed visits read per flow version
TYPICAL_WINDOW = 30_000  # ... among this many most recent visits (a bounded primary-key scan)
TYPICAL_TTL = 600.0  # seconds a flow's typical durations are kept
PENDING = "pending"
_V = StageVisit.__table__
log = logging.getLogger(__name__)

# Every deadline column of stage_visits, so that bulk inserts have the same keys per row.
NO_DEADLINE: dict[str, Any] = {
    "calendar_id": None, "target_seconds": None, "due_at": None, "warn_at": None,
    "remaining_seconds": None, "late_risk_at": None, "warn_state": None, "due_state": None,
    "late_state": None, "outcome": None, "variance_seconds": None,
}


def _resolve_target(session: Session, flow: FlowDef, stage: Stage,
                    facts: Mapping[str, Any]) -> tuple[str, float] | None:
    """(calendar id, business seconds) of the stage's SLA after policies; None without SLA."""
    if stage.sla is None:
        return None
    target = policy.resolve_for(session, flow.id, stage.id, stage.sla, flow.calendar, facts)
    return None if target is None else (target.calendar_id, target.seconds)


def target_of(session: Session, flow: FlowDef, stage_id: str,
              facts: Mapping[str, Any]) -> tuple[WorkCalendar, float] | None:
    """The stage's calendar and target in business seconds, or None (no SLA, terminal)."""
    stage = flow.stage(stage_id)
    if stage.kind == StageKind.TERMINAL:
        return None
    resolved = _resolve_target(session, flow, stage, facts)
    if resolved is None:
        return None
    cal_id, seconds = resolved
    return get_calendar(session, cal_id), float(seconds)


def subtract(cal: WorkCalendar, end: datetime, seconds: float) -> datetime:
    """The latest moment from which ``seconds`` of working time end at ``end``."""
    if seconds <= 0:
        return end
    if cal.always:
        return end - timedelta(seconds=seconds)
    left = timedelta(seconds=seconds)
    d = end.astimezone(cal.tz).date() + timedelta(days=1)
    for _ in range(366 * 20):
        for iv_start, iv_end in reversed(cal.day(d)):
            seg_end = min(iv_end, end)
            if seg_end <= iv_start:
                continue
            avail = seg_end - iv_start
            if left <= avail:
                return seg_end - left
            left -= avail
        d -= timedelta(days=1)
    return end - timedelta(seconds=seconds)


def open_values(session: Session, flow: FlowDef, flow_version_id: int, stage_id: str,
                facts: Mapping[str, Any], promised_at: datetime | None,
                now: datetime) -> dict[str, Any]:
    """The deadline columns of a visit opening now (all of NO_DEADLINE's keys)."""
    row = dict(NO_DEADLINE)
    try:
        target = target_of(session, flow, stage_id, facts)
    except OrdertrailError as exc:
        # A flow naming a calendar that was deleted (or never made) must not stop orders.
        log.warning("no deadline for %s/%s: %s", flow.id, stage_id, exc)
        return row
    if target is not None:
        cal, seconds = target
        row.update(calendar_id=cal.id, target_seconds=round(seconds),
                   due_at=cal.add(now, seconds), warn_at=cal.add(now, seconds * WARN_FRACTION),
                   warn_state=PENDING, due_state=PENDING)
    if promised_at is not None and flow.stage(stage_id).kind != StageKind.TERMINAL:
        cal = target[0] if target else _calendar_or_cn(session, flow.calendar)
        remaining = typical_remaining(session, flow, flow_version_id).get(stage_id)
        if remaining is not None:
            row.update(late_risk_at=subtract(cal, promised_at, remaining),
                       late_state=PENDING)
    return row


def _calendar_or_cn(session: Session, calendar_id: str) -> WorkCalendar:
    try:
        return get_calendar(session, calendar_id)
    except OrdertrailError:
        return get_calendar(session, "cn")


def close_values(cal: WorkCalendar, due_at: datetime | None, remaining: int | None,
                 now: datetime) -> tuple[str, int]:
    """(outcome, variance in business seconds; negative = early) of a visit leaving now."""
    if due_at is not None:
        variance = round(cal.elapsed(due_at, now))
        return ("breached" if now > due_at else "met"), variance
    left = remaining or 0
    return ("met" if left >= 0 else "breached"), -left


def pause_values(cal: WorkCalendar, due_at: datetime, now: datetime) -> int:
    """Business seconds left (negative: overdue by) when a hold stops the clock."""
    return round(cal.elapsed(now, due_at))


def resume_values(cal: WorkCalendar, target: int, remaining: int,
                  now: datetime) -> tuple[datetime, datetime]:
    """(due_at, warn_at) when the clock starts again with ``remaining`` seconds left."""
    left = max(remaining, 0)
    warn_left = max(left - target * (1 - WARN_FRACTION), 0)
    return cal.add(now, left), cal.add(now, warn_left)


# Typical durations (order_late_risk) --------------------------------------------------------

_typical: dict[int, tuple[float, dict[str, float]]] = {}
_typical_lock = threading.Lock()

_SAMPLE_SQL = text(
    "SELECT v.stage, v.entered_at, v.exited_at, v.held_seconds FROM stage_visits v "
    "JOIN orders o ON o.id = v.order_id WHERE v.id > :floor AND o.flow_version_id = :fv "
    "AND v.exited_at IS NOT NULL AND v.exit_reason IN ('advanced', 'approval') "
    "ORDER BY v.id DESC LIMIT :n").columns(stage=String(), entered_at=UTCDateTime(),
                                           exited_at=UTCDateTime(), held_seconds=Integer())


def clear_cache() -> None:
    with _typical_lock:
        _typical.clear()


def _stage_typical(session: Session, flow: FlowDef, flow_version_id: int) -> dict[str, float]:
    """Median business seconds per stage of recent closed visits, else the SLA target."""
    samples: dict[str, list[float]] = {}
    cal = _calendar_or_cn(session, flow.calendar)
    top = session.scalar(select(func.max(_V.c.id))) or 0
    rows = session.execute(_SAMPLE_SQL, {"fv": flow_version_id, "n": TYPICAL_SAMPLE,
                                         "floor": top - TYPICAL_WINDOW}).all()
    for stage, entered, exited, held in rows:
        samples.setdefault(stage, []).append(
            max(cal.elapsed(entered, exited) - (held or 0), 0.0))
    out: dict[str, float] = {}
    for stage in flow.stages:
        if stage.kind == StageKind.TERMINAL:
            continue
        got = samples.get(stage.id, [])
        if len(got) >= TYPICAL_MIN_SAMPLES:
            out[stage.id] = statistics.median(got)
        else:
            try:
                target = target_of(session, flow, stage.id, {})
            except OrdertrailError:
                target = None
            out[stage.id] = target[1] if target else 0.0
    return out


def typical_remaining(session: Session, flow: FlowDef,
                      flow_version_id: int) -> dict[str, float]:
    """Per stage: typical business seconds from entering it to reaching a finishing stage,
    along the quickest path (cancel excluded), cached per flow version."""
    hit = _typical.get(flow_version_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    per_stage = _stage_typical(session, flow, flow_version_id)
    result = remaining_by_stage(flow, per_stage)
    with _typical_lock:
        _typical[flow_version_id] = (now + TYPICAL_TTL, result)
    return result


def remaining_by_stage(flow: FlowDef, per_stage: Mapping[str, float]) -> dict[str, float]:
    """Dijkstra backwards from the finishing stages: own typical time plus the quickest path."""
    cancel_to = flow.cancel.to if flow.cancel else None
    reverse: dict[str, set[str]] = {s.id: set() for s in flow.stages}
    for t in flow.transitions:
        for src in t.from_stages:
            if t.to in reverse:
                reverse[t.to].add(src)
    for s in flow.stages:
        if s.approval is not None and s.approval.approved in reverse:
            reverse[s.approval.approved].add(s.id)
    best: dict[str, float] = {}
    heap = [(0.0, s.id) for s in flow.stages
            if s.kind == StageKind.TERMINAL and s.id != cancel_to]
    heapq.heapify(heap)
    finished: set[str] = set()
    while heap:
        cost, sid = heapq.heappop(heap)
        if sid in finished:
            continue
        finished.add(sid)
        if flow.stage(sid).kind != StageKind.TERMINAL:
            best[sid] = cost
        for prev in reverse[sid]:
            if prev not in finished:
                heapq.heappush(heap, (cost + per_stage.get(prev, 0.0), prev))
    return best


# Writing (the order service's hooks) ----------------------------------------------------------

_OPEN_VISIT = (select(_V.c.id, _V.c.due_at, _V.c.calendar_id, _V.c.target_seconds,
                      _V.c.remaining_seconds)
               .where(_V.c.order_id == bindparam("o"), _V.c.exited_at.is_(None)))
_PAUSE = (update(_V).where(_V.c.id == bindparam("v_id"))
          .values(due_at=None, warn_at=None, remaining_seconds=bindparam("r")))
_RESUME = (update(_V).where(_V.c.id == bindparam("v_id"))
           .values(due_at=bindparam("due"), warn_at=bindparam("warn"), remaining_seconds=None))
_OUTCOME = (update(_V).where(_V.c.id == bindparam("v_id"))
            .values(outcome=bindparam("outcome"), variance_seconds=bindparam("variance")))


def memo_open_values(memo: dict[Any, dict[str, Any]], session: Session, flow: FlowDef,
                     flow_version_id: int, stage_id: str,
                     facts: Callable[[], Mapping[str, Any]],
                     promised_at: datetime | None, now: datetime) -> dict[str, Any]:
    """``open_values`` for a batch opening visits at one moment: orders that no policy can
    tell apart (none stored for the flow) share one computation per stage and promise."""
    if policy.policies_for(session, flow.id):
        return open_values(session, flow, flow_version_id, stage_id, facts(), promised_at,
                           now)
    key = (flow_version_id, stage_id, promised_at)
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = open_values(session, flow, flow_version_id, stage_id, {},
                                      promised_at, now)
    return dict(hit)


def facts_for(session: Session, flow: FlowDef,
              facts: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
    """The order's facts if an SLA policy of the flow could look at them (else none)."""
    return facts() if policy.policies_for(session, flow.id) else {}


def pause(session: Session, order_id: int, now: datetime) -> None:
    """A hold stops the open visit's clock: keep the business time left, clear due/warn."""
    row = session.execute(_OPEN_VISIT, {"o": order_id}).first()
    if row is None or row.due_at is None or row.calendar_id is None:
        return
    left = pause_values(get_calendar(session, row.calendar_id), row.due_at, now)
    session.execute(_PAUSE, {"r": left, "v_id": row.id})


def resume(session: Session, order_id: int, now: datetime) -> None:
    """Resuming starts the clock again: due = now + the business time that was left."""
    row = session.execute(_OPEN_VISIT, {"o": order_id}).first()
    if row is None or row.remaining_seconds is None or row.calendar_id is None:
        return
    cal = get_calendar(session, row.calendar_id)
    due, warn = resume_values(cal, row.target_seconds or 0, row.remaining_seconds, now)
    session.execute(_RESUME, {"due": due, "warn": warn, "v_id": row.id})


def close(session: Session, visit_id: int, calendar_id: str | None, due_at: datetime | None,
          remaining: int | None, now: datetime) -> None:
    """Record met/breached and the variance of a visit that just closed."""
    if calendar_id is None or (due_at is None and remaining is None):
        return
    outcome, variance = close_values(get_calendar(session, calendar_id), due_at, remaining,
                                     now)
    session.execute(_OUTCOME, {"outcome": outcome, "variance": variance, "v_id": visit_id})



_REPROMISE = (update(_V).where(_V.c.order_id == bindparam("o"), _V.c.exited_at.is_(None))
              .values(late_risk_at=bindparam("late"), late_state=bindparam("state")))


def repromise(session: Session, flow: FlowDef, flow_version_id: int, order_id: int,
              stage_id: str, promised_at: datetime | None) -> None:
    """The promised time changed: move the open visit's late-risk time with it."""
    late = None
    if promised_at is not None and flow.stage(stage_id).kind != StageKind.TERMINAL:
        remaining = typical_remaining(session, flow, flow_version_id).get(stage_id)
        if remaining is not None:
            late = subtract(_calendar_or_cn(session, flow.calendar), promised_at, remaining)
    session.execute(_REPROMISE, {"o": order_id, "late": late,
                                 "state": PENDING if late is not None else None})
