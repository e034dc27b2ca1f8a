"""Webhook subscriptions and their messages: create, change, list, replay, fan out events.

Services never commit; the caller's transaction does (API request, CLI, consumer job).
Addresses are checked against the SSRF rule (``ssrf.py``) on create and on a URL change;
the API does that check before it enters the write transaction (DNS can be slow), and
passes ``check_address=False``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.errors import Conflict, Forbidden, Invalid, NotFound
from ordertrail.i18n import Msg
from ordertrail.jobs.registry import Event
from ordertrail.models.webhook import WebhookAttempt, WebhookEndpoint, WebhookMessage
from ordertrail.webhooks import signing, ssrf
from ordertrail.webhooks.schemas import (
    AttemptRead,
    DeliveryPage,
    MessageRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
)

MANAGE_ROLES = ("admin", "manager", "system")
TEST_EVENT = "webhook.test"
DISABLED_EVENT = "webhook.endpoint_disabled"
# Every event type a subscription may name (exactly, by "prefix.*", or all with "*").
KNOWN_EVENTS: tuple[str, ...] = (
    "order.created", "order.updated", "order.stage_changed", "order.approval_recorded",
    "order.approval_restarted", "order.held", "order.resumed", "order.cancelled",
    "order.completed", "order.delayed",
    "shipment.created", "shipment.status_changed", "shipment.exception",
    "shipment.attempt_failed", "shipment.delivered",
    "alert.opened", "alert.escalated", "alert.acknowledged", "alert.resolved",
    "stock.received", "stock.issued", "stock.adjusted", "stock.transferred",
    "reservation.completed", "reservation.waiting", "reservation.released",
    "reservation.consumed",
    "work_order.planned", "work_order.started", "work_order.step_completed",
    "work_order.completed", "work_order.qc_passed", "work_order.qc_failed",
    "purchase_order.created", "purchase_order.sent", "purchase_order.confirmed",
    "purchase_order.date_changed", "purchase_order.shipped", "purchase_order.received",
    "purchase_order.cancelled",
    "invoice.issued", "invoice.voided", "payment.received", "payment.fully_paid",
    TEST_EVENT, DISABLED_EVENT,
)
KNOWN_PREFIXES = tuple(sorted({name.split(".", 1)[0] for name in KNOWN_EVENTS}))
# The outbox events the fan-out consumer listens to (registry patterns).
CONSUMED = ("order.*", "shipment.*", "alert.*", "stock.*", "reservation.*", "work_order.*",
            "purchase_order.*", "invoice.*", "payment.*", DISABLED_EVENT)


def matches(patterns: Iterable[str], name: str) -> bool:
    """Whether an event name is wanted by subscription patterns."""
    return any(p == "*" or p == name or (p.endswith(".*") and name.startswith(p[:-1]))
               for p in patterns)


def check_events(events: list[str]) -> list[str]:
    """The subscription's patterns, de-duplicated; Invalid listing the known names."""
    out: list[str] = []
    unknown: list[str] = []
    for raw in events:
        name = raw.strip()
        ok = (name == "*" or name in KNOWN_EVENTS
              or (name.endswith(".*") and name[:-2] in KNOWN_PREFIXES))
        if not ok:
            unknown.append(raw)
        elif name not in out:
            out.append(name)
    if unknown:
        raise Invalid(Msg("Unknown webhook event types {unknown}. Known: {known}; or "
                          "\"prefix.*\" ({prefixes}) or \"*\".",
                          {"unknown": unknown, "known": list(KNOWN_EVENTS),
                           "prefixes": [f"{p}.*" for p in KNOWN_PREFIXES]}),
                      code="unknown_event_type", known=list(KNOWN_EVENTS))
    return out


def require_manager(ctx: Ctx) -> None:
    """Only admins and managers manage webhooks."""
    if ctx.actor.is_admin or set(MANAGE_ROLES) & ctx.actor.roles:
        return
    raise Forbidden(Msg("Your role may not {what}: that needs {roles}, and you have {yours}.",
                        {"what": Msg("manage webhooks"), "roles": ["admin", "manager"],
                         "yours": sorted(ctx.actor.roles)}), code="role_not_allowed")


def check_url(ctx: Ctx, url: str) -> str:
    """The URL, stripped, if the SSRF rule allows it."""
    url = url.strip()
    ssrf.check_url(url, allow_private=ctx.settings.webhooks_allow_private)
    return url


def get_endpoint(ctx: Ctx, endpoint_id: int) -> WebhookEndpoint:
    row = ctx.session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise NotFound(Msg("No webhook {id}.", {"id": endpoint_id}), code="webhook_not_found")
    return row


def pending_counts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(select(WebhookMessage.endpoint_id, func.count())
                           .where(WebhookMessage.endpoint_id.in_(ids),
                                  WebhookMessage.state == "pending")
                           .group_by(WebhookMessage.endpoint_id))
    return {int(e): int(n) for e, n in rows}


def read(row: WebhookEndpoint, pending: int = 0) -> WebhookRead:
    return WebhookRead(id=row.id, url=row.url, description=row.description,
                       events=list(row.events), enabled=row.enabled,
                       disabled_at=row.disabled_at, disabled_reason=row.disabled_reason,
                       failure_streak=row.failure_streak, first_failure_at=row.first_failure_at,
                       next_attempt_at=row.next_attempt_at, created_at=row.created_at,
                       pending=pending)


def read_one(ctx: Ctx, endpoint_id: int) -> WebhookRead:
    require_manager(ctx)
    row = get_endpoint(ctx, endpoint_id)
    return read(row, pending_counts(ctx.session, [row.id]).get(row.id, 0))


def list_endpoints(ctx: Ctx) -> list[WebhookRead]:
    require_manager(ctx)
    rows = list(ctx.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
    counts = pending_counts(ctx.session, [r.id for r in rows])
    return [read(r, counts.get(r.id, 0)) for r in rows]


def create_endpoint(ctx: Ctx, body: WebhookCreate, *, check_address: bool = True,
                    ) -> tuple[WebhookEndpoint, str]:
    """A new subscription and its signing secret (the only time the secret is returned)."""
    require_manager(ctx)
    events = check_events(body.events)
    url = check_url(ctx, body.url) if check_address else body.url.strip()
    ssrf.parse(url)
    now = ctx.clock.now()
    secret = signing.new_secret()
    row = WebhookEndpoint(url=url, description=body.description, events=events, secret=secret,
                          enabled=True, failure_streak=0, created_at=now,
                          created_by=ctx.actor.user_id, updated_at=now)
    ctx.session.add(row)
    ctx.session.flush()
    return row, secret


def update_endpoint(ctx: Ctx, endpoint_id: int, body: WebhookUpdate, *,
                    check_address: bool = True) -> WebhookEndpoint:
    """Change URL, events, description or enabled; re-enabling resets the failure streak."""
    require_manager(ctx)
    row = get_endpoint(ctx, endpoint_id)
    if body.events is not None:
        row.events = check_events(body.events)
    if body.url is not None:
        row.url = check_url(ctx, body.url) if check_address else body.url.strip()
        ssrf.parse(row.url)
    if body.description is not None:
        row.description = body.description
    if body.enabled is not None:
        set_enabled(ctx, row, body.enabled)
    row.updated_at = ctx.clock.now()
    ctx.session.flush()
    return row


def set_enabled(ctx: Ctx, row: WebhookEndpoint, enabled: bool,
                reason: str | None = None) -> None:
    """Enable (streak reset, due now) or disable by hand."""
    now = ctx.clock.now()
    if enabled and not row.enabled:
        row.enabled = True
        row.disabled_at = row.disabled_reason = None
        row.failure_streak = 0
        row.first_failure_at = None
        row.next_attempt_at = None
    elif not enabled and row.enabled:
        row.enabled = False
        row.disabled_at = now
        row.disabled_reason = reason or f"disabled by {ctx.actor.name}"
    row.updated_at = now


def delete_endpoint(ctx: Ctx, endpoint_id: int) -> None:
    """Remove a subscription with its messages and attempts."""
    require_manager(ctx)
    row = get_endpoint(ctx, endpoint_id)
    # Explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign keys on, and a
    # bulk delete is cheaper than loading the children.
    ctx.session.execute(delete(WebhookAttempt).where(WebhookAttempt.endpoint_id == row.id))
    ctx.session.execute(delete(WebhookMessage).where(WebhookMessage.endpoint_id == row.id))
    ctx.session.delete(row)
    ctx.session.flush()


def rotate_secret(ctx: Ctx, endpoint_id: int) -> str:
    """A new signing secret, used from the next try on; returned only now."""
    require_manager(ctx)
    row = get_endpoint(ctx, endpoint_id)
    row.secret = signing.new_secret()
    row.updated_at = ctx.clock.now()
    ctx.session.flush()
    return row.secret


# Messages -------------------------------------------------------------------------------


def envelope(event_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks body: ``{"type", "timestamp", "data"}``."""
    return {"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"),
            "data": data}


def _insert(session: Session) -> Any:
    return (pg_insert if session.get_bind().dialect.name == "postgresql"
            else sqlite_insert)(WebhookMessage)


def fan_out(session: Session, event: Event, now: datetime) -> int:
    """Queue the event for every enabled endpoint subscribed to it; idempotent per
    (endpoint, event). Returns how many endpoints want it."""
    endpoints = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                                .where(WebhookEndpoint.enabled)).all()
    wanted = [eid for eid, events in endpoints if matches(events or (), event.name)]
    if not wanted:
        return 0
    body = envelope(event.name, event.created_at,
                    {**event.payload, "aggregate": event.aggregate,
                     "aggregate_id": event.aggregate_id, "event_id": event.id})
    rows = [{"endpoint_id": eid, "event_id": event.id, "event_type": event.name,
             "msg_id": f"msg_{event.id}_{eid}", "payload": body, "state": "pending",
             "trigger": "auto", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for eid in wanted]
    stmt = _insert(session).on_conflict_do_nothing(
        index_elements=["endpoint_id", "event_id"])
    session.execute(stmt, rows)
    return len(wanted)


def send_test(ctx: Ctx, endpoint_id: int) -> WebhookMessage:
    """Queue a ``webhook.test`` message for one endpoint."""
    require_manager(ctx)
    row = get_endpoint(ctx, endpoint_id)
    if not row.enabled:
        raise Conflict(Msg("Webhook {id} is disabled; enable it first.", {"id": row.id}),
                       code="webhook_disabled")
    now = ctx.clock.now()
    msg = WebhookMessage(
        endpoint_id=row.id, event_id=None, event_type=TEST_EVENT,
        msg_id=f"msg_test_{secrets.token_hex(10)}",
        payload=envelope(TEST_EVENT, now, {"endpoint_id": row.id, "url": row.url,
                                           "sent_by": ctx.actor.name}),
        state="pending", trigger="auto", attempts=0, next_attempt_at=now, created_at=now)
    ctx.session.add(msg)
    ctx.session.flush()
    return msg


def _requeue(ctx: Ctx, endpoint: WebhookEndpoint, messages: list[WebhookMessage]) -> None:
    now = ctx.clock.now()
    for msg in messages:
        msg.state = "pending"
        msg.trigger = "replay"
        msg.next_attempt_at = now
    if endpoint.enabled:
        endpoint.next_attempt_at = None  # a replay is not held back by the last backoff
    ctx.session.flush()


def replay(ctx: Ctx, endpoint_id: int, msg_id: str) -> WebhookMessage:
    """Send a message again (same ``webhook-id``), whatever its state."""
    require_manager(ctx)
    endpoint = get_endpoint(ctx, endpoint_id)
    msg = ctx.session.scalars(select(WebhookMessage).where(
        WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.msg_id == msg_id)).first()
    if msg is None:
        raise NotFound(Msg("Webhook {id} has no message {msg_id}.",
                           {"id": endpoint.id, "msg_id": msg_id}), code="message_not_found")
    _requeue(ctx, endpoint, [msg])
    return msg


def replay_since(ctx: Ctx, endpoint_id: int, since: datetime, state: str = "failed",
                 ) -> list[WebhookMessage]:
    """Send again every message in ``state`` created at or after ``since``."""
    require_manager(ctx)
    endpoint = get_endpoint(ctx, endpoint_id)
    msgs = list(ctx.session.scalars(select(WebhookMessage).where(
        WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.state == state,
        WebhookMessage.created_at >= since).order_by(WebhookMessage.id).limit(10_000)))
    _requeue(ctx, endpoint, msgs)
    return msgs


def message_read(msg: WebhookMessage, tries: list[WebhookAttempt]) -> MessageRead:
    return MessageRead(
        id=msg.id, msg_id=msg.msg_id, event_id=msg.event_id, event_type=msg.event_type,
        state=msg.state, attempts=msg.attempts, next_attempt_at=msg.next_attempt_at,
        last_error=msg.last_error, created_at=msg.created_at, delivered_at=msg.delivered_at,
        payload=msg.payload,
        tries=[AttemptRead(id=a.id, at=a.at, status_code=a.status_code,
                           latency_ms=a.latency_ms, response_excerpt=a.response_excerpt,
                           error=a.error, trigger=a.trigger) for a in tries])


def message_with_tries(ctx: Ctx, msg: WebhookMessage) -> MessageRead:
    tries = list(ctx.session.scalars(select(WebhookAttempt).where(
        WebhookAttempt.message_id == msg.id).order_by(WebhookAttempt.id)))
    return message_read(msg, tries)


STATES = ("pending", "delivered", "failed")


def deliveries(ctx: Ctx, endpoint_id: int, *, state: str | None = None,
               event_type: str | None = None, limit: int = 50,
               before: int | None = None) -> DeliveryPage:
    """An endpoint's messages, newest first, each with its tries."""
    require_manager(ctx)
    endpoint = get_endpoint(ctx, endpoint_id)
    if state is not None and state not in STATES:
        raise Invalid(Msg("Unknown state {state}; use one of {states}.",
                          {"state": state, "states": list(STATES)}), code="bad_state")
    stmt = select(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id)
    if state:
        stmt = stmt.where(WebhookMessage.state == state)
    if event_type:
        stmt = stmt.where(WebhookMessage.event_type == event_type)
    if before:
        stmt = stmt.where(WebhookMessage.id < before)
    msgs = list(ctx.session.scalars(stmt.order_by(WebhookMessage.id.desc()).limit(limit + 1)))
    more = len(msgs) > limit
    msgs = msgs[:limit]
    tries: dict[int, list[WebhookAttempt]] = {m.id: [] for m in msgs}
    if msgs:
        for a in ctx.session.scalars(select(WebhookAttempt).where(
                WebhookAttempt.message_id.in_(list(tries))).order_by(WebhookAttempt.id)):
            tries[a.message_id].append(a)
    return DeliveryPage(items=[message_read(m, tries[m.id]) for m in msgs],
                        next_before=msgs[-1].id if more and msgs else None)


def message_counts(session: Session, endpoint_id: int) -> dict[str, int]:
    rows = session.execute(select(WebhookMessage.state, func.count())
                           .where(WebhookMessage.endpoint_id == endpoint_id)
                           .group_by(WebhookMessage.state))
    return {str(s): int(n) for s, n in rows}


def release_leases(session: Session, worker_id: str) -> None:
    """Give back a worker's endpoint leases (on a clean stop)."""
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.lease_owner == worker_id)
                    .values(lease_owner=None, lease_until=None))
