"""SLA targets: a stage's ``sla`` after the SLA policies that match the order.

A stage's ``sla: 2h`` is business time in the flow's calendar (default "cn");
``sla: {target: 90s, calendar: 24x7}`` names its own. Policies (rows of ``sla_policies``) then
adjust it for orders matching a condition: a ``factor`` multiplies the target (VIP: 0.5), a
``target`` replaces it, and either may move it to another calendar. The first matching policy
wins, the most specific first (flow and stage, then flow, then stage, then global) and then by
``position``. Stages without an ``sla`` get no target; policies never invent one.
"""

from __future__ import annotations

import logging
import re
import threading
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ordertrail.calendar import service as calendars
from ordertrail.calendar.builtin import BUILTINS
from ordertrail.calendar.business import WorkCalendar
from ordertrail.calendar.durations import Duration, parse_duration
from ordertrail.calendar.schemas import PolicyIn, PolicyRead
from ordertrail.context import Ctx
from ordertrail.errors import Invalid, NotFound, OrdertrailError
from ordertrail.jobs.outbox import emit
from ordertrail.kit.expr import Expr, ExprError, compile_expr, evaluate
from ordertrail.models.calendar import SlaPolicy

log = logging.getLogger(__name__)
DEFAULT_CALENDAR = "cn"
MAX_FACTOR = 100.0
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Policy:
    """An SLA policy, ready to match (its condition compiled, its target parsed)."""

    id: int
    name: str
    flow_id: str | None = None
    stage: str | None = None
    when: Expr | None = None
    factor: float | None = None
    target: Duration | None = None
    calendar_id: str | None = None
    position: int = 100

    @property
    def specificity(self) -> int:
        return (2 if self.flow_id else 0) + (1 if self.stage else 0)


@dataclass(frozen=True)
class Target:
    """A stage's SLA target: seconds of business time in a calendar."""

    seconds: float
    calendar_id: str
    declared: str  # the stage's own target, as written
    policy: str | None = None  # the name of the policy that changed it


def _builtin_lookup(calendar_id: str) -> WorkCalendar:
    cal = BUILTINS.get(calendar_id)
    if cal is None:
        raise NotFound(f"no built-in calendar {calendar_id!r}", code="unknown_calendar")
    return cal


def matching(policies: Sequence[Policy], facts: Mapping[str, Any], flow_id: str | None,
             stage: str | None) -> Policy | None:
    """The policy that applies: most specific first, then by position; None if none."""
    ordered = sorted(policies, key=lambda p: (-p.specificity, p.position, p.id))
    for p in ordered:
        if p.flow_id is not None and p.flow_id != flow_id:
            continue
        if p.stage is not None and p.stage != stage:
            continue
        if p.when is not None:
            try:
                if not evaluate(p.when, facts):
                    continue
            except ExprError as exc:  # one bad order's data never blocks the order
                log.warning("SLA policy %s skipped: %s", p.name, exc)
                continue
        return p
    return None


def resolve(stage_sla: str | Mapping[str, Any] | None, flow_calendar: str | None,
            facts: Mapping[str, Any], policies: Sequence[Policy], *,
            flow_id: str | None = None, stage: str | None = None,
            calendars: Callable[[str], WorkCalendar] = _builtin_lookup) -> Target | None:
    """The target of a stage for an order; ``flow_id``/``stage`` default to the facts'."""
    if stage_sla is None:
        return None
    declared = parse_duration(stage_sla)
    calendar_id = declared.calendar or flow_calendar or DEFAULT_CALENDAR
    flow_id = flow_id if flow_id is not None else facts.get("flow")
    stage = stage if stage is not None else facts.get("stage")
    policy = matching(policies, facts, flow_id, stage)
    duration = declared
    if policy is not None:
        calendar_id = policy.calendar_id or calendar_id
        if policy.target is not None:
            duration = policy.target
        elif policy.factor is not None:
            duration = declared * policy.factor
    seconds = duration.seconds_in(calendars(calendar_id))
    return Target(seconds=seconds, calendar_id=calendar_id, declared=declared.text,
                  policy=policy.name if policy else None)


# -- input ----------------------------------------------------------------------------------


def validate(data: PolicyIn, calendar_exists: Callable[[str], bool]) -> dict[str, Any]:
    """Check a policy; the column values to store, or Invalid naming the field."""
    if data.when is not None and data.when.strip():
        try:
            compile_expr(data.when)
        except ExprError as exc:
            raise Invalid(f"when: {exc}", field="when") from None
    if (data.factor is None) == (data.target is None):
        raise Invalid("factor: give either a factor (e.g. 0.5) or a target (e.g. 1h), not "
                      "both or neither", field="factor")
    if data.factor is not None and not 0 < data.factor <= MAX_FACTOR:
        raise Invalid(f"factor: must be above 0 and at most {MAX_FACTOR:g}, got "
                      f"{data.factor:g}", field="factor")
    target = None
    if data.target is not None:
        try:
            target = parse_duration(data.target).text
        except ValueError as exc:
            raise Invalid(f"target: {exc}", field="target") from None
    for field, value in (("flow", data.flow), ("stage", data.stage)):
        if value is not None and not _NAME_RE.match(value):
            raise Invalid(f"{field}: bad id {value!r}: lower-case letters, digits, _ or -",
                          field=field)
    if data.calendar is not None and not calendar_exists(data.calendar):
        raise Invalid(f"calendar: unknown calendar {data.calendar!r}", field="calendar")
    when = data.when.strip() if data.when and data.when.strip() else None
    return {"name": data.name.strip(), "condition": when, "factor": data.factor,
            "target": target, "flow_id": data.flow, "stage": data.stage,
            "calendar_id": data.calendar, "position": data.position, "enabled": data.enabled}


def to_policy(row: SlaPolicy) -> Policy:
    """A stored row as a Policy (stored rows were validated on the way in)."""
    return Policy(id=row.id, name=row.name, flow_id=row.flow_id, stage=row.stage,
                  when=compile_expr(row.condition) if row.condition else None,
                  factor=row.factor, target=parse_duration(row.target) if row.target else None,
                  calendar_id=row.calendar_id, position=row.position)


def policy_read(row: SlaPolicy) -> PolicyRead:
    return PolicyRead(id=row.id, name=row.name, when=row.condition, factor=row.factor,
                      target=row.target, flow=row.flow_id, stage=row.stage,
                      calendar=row.calendar_id, position=row.position, enabled=row.enabled,
                      created_at=row.created_at)


# -- storage --------------------------------------------------------------------------------

_cache: dict[str | None, tuple[float, list[Policy]]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def policies_for(session: Session, flow_id: str | None) -> list[Policy]:
    """The enabled policies that can apply to a flow (its own and global ones), cached."""
    hit = _cache.get(flow_id)
    now = _time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    stmt = select(SlaPolicy).where(SlaPolicy.enabled.is_(True))
    stmt = stmt.where(or_(SlaPolicy.flow_id.is_(None), SlaPolicy.flow_id == flow_id)
                      if flow_id is not None else SlaPolicy.flow_id.is_(None))
    out = []
    for row in session.scalars(stmt.order_by(SlaPolicy.position, SlaPolicy.id)):
        try:
            out.append(to_policy(row))
        except (ExprError, ValueError) as exc:
            log.warning("SLA policy %s (%s) ignored: %s", row.id, row.name, exc)
    with _lock:
        _cache[flow_id] = (now + CACHE_SECONDS, out)
    return out


def resolve_for(session: Session, flow_id: str, stage: str,
                stage_sla: str | Mapping[str, Any] | None, flow_calendar: str | None,
                facts: Mapping[str, Any]) -> Target | None:
    """``resolve`` with the stored policies and calendars."""
    return resolve(stage_sla, flow_calendar, facts, policies_for(session, flow_id),
                   flow_id=flow_id, stage=stage,
                   calendars=lambda cid: calendars.get_calendar(session, cid))


def _exists(session: Session) -> Callable[[str], bool]:
    def check(calendar_id: str) -> bool:
        try:
            calendars.get_calendar(session, calendar_id)
        except OrdertrailError:
            return False
        return True

    return check


def list_policies(session: Session) -> list[PolicyRead]:
    rows = session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id))
    return [policy_read(row) for row in rows]


def create_policy(ctx: Ctx, data: PolicyIn) -> PolicyRead:
    """Store a validated policy (managers and admins)."""
    calendars.require_manager(ctx)
    values = validate(data, _exists(ctx.session))
    now = ctx.clock.now()
    row = SlaPolicy(created_at=now, **values)
    ctx.session.add(row)
    ctx.session.flush()
    emit(ctx.session, "sla_policy.created", "sla_policy", str(row.id),
         {"policy_id": row.id, "name": row.name, "actor": ctx.actor.name,
          "at": now.isoformat()}, now)
    clear_cache()
    return policy_read(row)


def delete_policy(ctx: Ctx, policy_id: int) -> None:
    calendars.require_manager(ctx)
    row = ctx.session.get(SlaPolicy, policy_id)
    if row is None:
        raise NotFound(f"no SLA policy {policy_id}", code="unknown_policy")
    ctx.session.delete(row)
    ctx.session.flush()
    now = ctx.clock.now()
    emit(ctx.session, "sla_policy.deleted", "sla_policy", str(policy_id),
         {"policy_id": policy_id, "name": row.name, "actor": ctx.actor.name,
          "at": now.isoformat()}, now)
    clear_cache()
