"""production: the sweep step that opens and auto-resolves `work_order_late` alerts.

A work order stores its plan (``planned_start``, ``planned_finish``) and what the sweeper
still watches (``late_alert_state``):

- ``watch_start``: not started ``START_GRACE`` (15 minutes) after the planned start →
  alert ``work_order_late:start:<id>`` ("not started"), state → ``watch_finish``;
- ``watch_start``/``watch_finish``: not finished after the planned finish → alert
  ``work_order_late:finish:<id>`` ("not finished"), state → ``raised``.

Each claim is ONE conditional UPDATE … RETURNING (candidates picked ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), so several sweepers open each alert once; nothing is computed from
the tick, so a sweep after downtime catches up. Starting or finishing the work order resolves
its alert at once (production/service.py); this step also auto-resolves any left whose cause
is gone (started / finished / cancelled).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, and_, case, cast, exists, func, select, update
from sqlalchemy.orm import Session

from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.kit.clock import FrozenClock
from ordertrail.models.alert import Alert
from ordertrail.models.production import WorkOrder
from ordertrail.ops import triggers
from ordertrail.production.read import START_GRACE
from ordertrail.sla import alerts
from ordertrail.sla.claims import Orders, picked, skip_locked
from ordertrail.sla.sweep import SweepResult

_W = WorkOrder.__table__
_A = Alert.__table__
OPEN = ("planned", "in_progress", "rework")
ROLE = "production"
# cause → (claimed from, claimed to, which planned time, extra status condition, en, zh)
CAUSES: dict[str, tuple[tuple[str, ...], str, str, tuple[str, ...], str, str]] = {
    "start": (("watch_start",), "watch_finish", "planned_start", ("planned",),
              "not started", "未开工"),
    "finish": (("watch_start", "watch_finish"), "raised", "planned_finish", OPEN,
               "not finished", "未完工"),
}
# A cause stays while the work order is in these statuses.
STILL = {"start": ("planned",), "finish": OPEN}


def _claim(session: Session, now: datetime, cause: str, limit: int) -> list[Row[Any]]:
    states, to, at, statuses, _en, _zh = CAUSES[cause]
    at_col = _W.c[at]
    # A cutoff, not arithmetic on the tick: a work order planned to start "now" is not late
    # the moment it is planned.
    cutoff = now - START_GRACE if cause == "start" else now
    cond = (_W.c.late_alert_state.in_(states), at_col <= cutoff, _W.c.status.in_(statuses))
    pick = skip_locked(session, select(_W.c.id).where(*cond).order_by(at_col).limit(limit))
    stmt = (update(_W).where(picked(session, _W.c.id, pick), *cond)
            .values(late_alert_state=to)
            .returning(_W.c.id, _W.c.number, _W.c.order_id, _W.c.sku, _W.c.status, at_col))
    return list(session.connection().execute(stmt))


def step_work_order_late(session: Session, now: datetime, settings: Settings,
                         limit: int) -> tuple[bool, SweepResult]:
    """Open ``work_order_late`` for work orders behind plan; resolve those caught up."""
    resolved = _auto_resolve(session, now)
    claimed: list[tuple[str, Row[Any]]] = []
    more = False
    for cause in CAUSES:
        rows = _claim(session, now, cause, limit)
        more = more or len(rows) >= limit
        claimed += [(cause, r) for r in rows]
    if not claimed:
        return more, SweepResult(auto_resolved=resolved)
    orders = Orders(session, sorted({r.order_id for _c, r in claimed}))
    tz = settings.timezone
    specs = []
    for cause, r in claimed:
        o = orders.rows.get(r.order_id)
        if o is None:
            continue
        _s, _t, at, _st, en, zh = CAUSES[cause]
        due = getattr(r, at)
        specs.append(alerts.AlertSpec(
            kind="work_order_late", cause=f"work_order_late:{cause}:{r.id}", order_id=o.id,
            order_no=o.order_no, responsible_role=ROLE, due_at=due, since=due,
            title=alerts.texts("work_order_late", order_no=o.order_no, work_order=r.number,
                               what=en, what_zh=zh, due=alerts.local(due, tz)),
            detail=alerts.detail_texts(ROLE, o.order_no),
            data={"work_order": r.number, "work_order_id": r.id, "cause": cause,
                  "sku": r.sku, "planned": due.isoformat()},
            escalation=orders.escalation(o.flow_version_id)))
    opened = alerts.open_alerts(session, now, specs)
    _timeline(session, now, settings, opened)
    return more, SweepResult(work_order_late=len(opened), auto_resolved=resolved)


def _timeline(session: Session, now: datetime, settings: Settings,
              opened: list[dict[str, Any]]) -> None:
    """A ``work_order_late`` row on each order's timeline, by the system."""
    ctx = Ctx(session, SYSTEM_ACTOR, FrozenClock(now), settings)
    for a in opened:
        data = a["data"]
        triggers.timeline(ctx, a["order_id"], "work_order_late", a["title"]["en"],
                          {**data, "alert_id": a["id"]}, role="system")


def _auto_resolve(session: Session, now: datetime) -> int:
    """Live alerts whose work order has started (not-started) or finished (not-finished)."""
    count = 0
    for cause, still in STILL.items():
        prefix = f"work_order_late:{cause}:"
        # The id is read from the cause only for this cause's alerts (CASE keeps PostgreSQL
        # from casting other causes' text).
        wo_id = case((_A.c.cause.startswith(prefix, autoescape=True),
                      cast(func.substr(_A.c.cause, len(prefix) + 1), BigInteger)), else_=None)
        gone = and_(_A.c.kind == "work_order_late", _A.c.cause.startswith(prefix, autoescape=True),
                    exists().where(_W.c.id == wo_id, _W.c.status.not_in(still)))
        count += alerts.auto_resolve(session, now, gone,
                                     "work order started" if cause == "start"
                                     else "work order finished")
    return count
