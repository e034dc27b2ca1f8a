"""The delivery pump: sends pending webhook messages, in order per endpoint, in parallel
across endpoints.

A round claims endpoints that have pending messages and are not held back, with a lease (a
conditional UPDATE of ``lease_owner``/``lease_until``; FOR UPDATE SKIP LOCKED on PostgreSQL),
so one worker at a time delivers to an endpoint. For each claimed endpoint a thread sends up
to ``BATCH`` of its pending messages in id order over a kept-alive connection, then records
the batch in one transaction: an attempt row per try, the messages' new states, the
endpoint's failure streak, and the lease given back. Nothing is marked delivered before its
HTTP response has come back; a worker killed mid-batch leaves its messages pending, and after
its lease runs out they are sent again with the same ``webhook-id`` (at-least-once: receivers
de-duplicate on it), while a message already recorded as delivered is never sent or marked
again.

Outcomes: 2xx delivered; 4xx other than 408 and 429 failed for good (the batch goes on with
the next message); 408, 429, 5xx, 3xx, timeouts and connection errors are retried later with
capped exponential backoff (or after Retry-After), and the endpoint's later messages wait
behind it, so order is kept. After ``DISABLE_AFTER_FAILURES`` failed tries in a row spanning
at least ``DISABLE_AFTER`` the endpoint is disabled, logged, and a
``webhook.endpoint_disabled`` event is written to the outbox (the notice).
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.config import Settings
from ordertrail.db import write_session
from ordertrail.jobs.outbox import emit
from ordertrail.jobs.registry import PumpCtx
from ordertrail.kit.clock import Clock
from ordertrail.models.webhook import WebhookAttempt, WebhookEndpoint, WebhookMessage
from ordertrail.webhooks import service, signing, ssrf
from ordertrail.webhooks.sender import Sender, SendError

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)        # > BATCH_SECONDS + one request timeout
BATCH = 100                          # messages per endpoint per claim
BATCH_SECONDS = 10.0                 # a batch stops sending after this long
PARALLEL = 8                         # endpoints delivered to at once by one worker
BACKOFF_BASE = timedelta(seconds=5)  # 5 s, 10 s, 20 s, … per failed try of a message
BACKOFF_CAP = timedelta(hours=1)
RETRY_AFTER_MAX = timedelta(hours=6)
DISABLE_AFTER_FAILURES = 10          # failed tries in a row …
DISABLE_AFTER = timedelta(hours=1)   # … spanning at least this long disable an endpoint
EXCERPT_CHARS = 500


# Pure rules -----------------------------------------------------------------------------


def classify(status: int | None) -> str:
    """``delivered``, ``failed`` (no retry) or ``retry`` for an HTTP status (None: no answer)."""
    if status is not None and 200 <= status < 300:
        return "delivered"
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return "failed"
    return "retry"


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failed try (Retry-After wins, capped)."""
    if retry_after is not None and retry_after >= 0:
        return min(timedelta(seconds=retry_after), RETRY_AFTER_MAX)
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True)
class Claimed:
    id: int
    url: str
    secret: str


@dataclass
class Outcome:
    message_id: int
    msg_id: str
    attempts: int        # tries before this one
    trigger: str
    at: datetime
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    result: str          # delivered | failed | retry
    retry_after: float | None = None


@dataclass(frozen=True)
class _Pending:
    id: int
    msg_id: str
    payload: dict[str, Any]
    trigger: str
    attempts: int


def streak_after(streak: int, first: datetime | None, outcomes: list[Outcome],
                 ) -> tuple[int, datetime | None]:
    """The endpoint's failure streak and its start after these tries."""
    for o in outcomes:
        if o.result == "delivered":
            streak, first = 0, None
        else:
            if streak == 0 or first is None:
                first = o.at
            streak += 1
    return streak, first


def should_disable(streak: int, first: datetime | None, now: datetime) -> bool:
    return (streak >= DISABLE_AFTER_FAILURES and first is not None
            and now - first >= DISABLE_AFTER)


# The deliverer ---------------------------------------------------------------------------


class Deliverer:
    """Claims endpoints and delivers their messages; ``step`` for the worker's pump,
    ``run_until_idle`` for the CLI and tests."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, settings: Settings,
                 worker_id: str, *, parallel: int = PARALLEL, lease: timedelta | None = None,
                 stopping: threading.Event | None = None) -> None:
        self.factory, self.clock, self.settings = factory, clock, settings
        self.worker_id, self.parallel, self.lease = worker_id, parallel, lease or LEASE
        self.sender = Sender()
        self._pool = ThreadPoolExecutor(max_workers=parallel,
                                         thread_name_prefix="ordertrail-webhooks")
        self._inflight: dict[int, Future[int]] = {}
        # The worker's stop event: a batch stops after the request at hand when it is set.
        self._stopping = stopping or threading.Event()

    # -- claiming ------------------------------------------------------------------------

    def _candidates(self, session: Session, now: datetime, limit: int,
                    exclude: set[int]) -> Any:
        pending = (select(WebhookMessage.id)
                   .where(WebhookMessage.endpoint_id == WebhookEndpoint.id,
                          WebhookMessage.state == "pending").exists())
        stmt = (select(WebhookEndpoint.id)
                .where(WebhookEndpoint.enabled,
                       (WebhookEndpoint.next_attempt_at.is_(None))
                       | (WebhookEndpoint.next_attempt_at <= now),
                       (WebhookEndpoint.lease_until.is_(None))
                       | (WebhookEndpoint.lease_until < now),
                       pending)
                .order_by(WebhookEndpoint.id).limit(limit))
        if exclude:
            stmt = stmt.where(WebhookEndpoint.id.not_in(exclude))
        return stmt

    def claim(self, limit: int, exclude: set[int] | None = None) -> list[Claimed]:
        """Lease up to ``limit`` endpoints that have due pending messages."""
        exclude = exclude or set()
        now = self.clock.now()
        pg = self._dialect() == "postgresql"
        if not pg:
            # SQLite: look first without the write lock; most rounds find nothing.
            with self.factory() as session:
                ids = list(session.scalars(self._candidates(session, now, limit, exclude)))
            if not ids:
                return []
        with write_session(self.factory) as session:
            stmt = self._candidates(session, now, limit, exclude)
            if pg:
                stmt = stmt.with_for_update(skip_locked=True)
            ids = list(session.scalars(stmt))
            if not ids:
                return []
            rows = session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.enabled,
                       (WebhookEndpoint.lease_until.is_(None))
                       | (WebhookEndpoint.lease_until < now))
                .values(lease_owner=self.worker_id, lease_until=now + self.lease)
                .returning(WebhookEndpoint.id, WebhookEndpoint.url, WebhookEndpoint.secret)
            ).all()
        return sorted((Claimed(int(i), u, s) for i, u, s in rows), key=lambda c: c.id)

    def _dialect(self) -> str:
        bind = self.factory.kw.get("bind")
        return bind.dialect.name if bind is not None else "sqlite"

    # -- one endpoint's batch ------------------------------------------------------------

    def deliver_endpoint(self, ep: Claimed) -> int:
        """Send the endpoint's next pending messages in order; record them; release it."""
        with self.factory() as session:
            batch = [_Pending(int(r.id), r.msg_id, r.payload, r.trigger, int(r.attempts))
                     for r in session.execute(
                         select(WebhookMessage.id, WebhookMessage.msg_id,
                                WebhookMessage.payload, WebhookMessage.trigger,
                                WebhookMessage.attempts)
                         .where(WebhookMessage.endpoint_id == ep.id,
                                WebhookMessage.state == "pending")
                         .order_by(WebhookMessage.id).limit(BATCH))]
        if not batch:
            self._record(ep, [])
            return 0
        outcomes: list[Outcome] = []
        try:
            target = ssrf.check_url(ep.url, allow_private=self.settings.webhooks_allow_private)
        except ssrf.UnsafeUrl as exc:
            head = batch[0]
            outcomes.append(Outcome(head.id, head.msg_id, head.attempts, head.trigger,
                                    self.clock.now(), None, 0, None,
                                    f"refused: {exc.detail('en')}"[:500], "retry"))
            self._record(ep, outcomes)
            return 1
        started = time.monotonic()
        for msg in batch:
            if self._stopping.is_set() or time.monotonic() - started > BATCH_SECONDS:
                break
            outcome = self._send(ep, target, msg)
            outcomes.append(outcome)
            if outcome.result == "retry":
                break  # later messages wait behind this one: order per endpoint
        self._record(ep, outcomes)
        return len(outcomes)

    def _send(self, ep: Claimed, target: ssrf.Target, msg: _Pending) -> Outcome:
        body = signing.body_of(msg.payload)
        # The signature's timestamp is the wall clock (receivers compare it with theirs);
        # stored times come from the injectable clock.
        headers = signing.headers_for(ep.secret, msg.msg_id, datetime.now(UTC), body)
        # Connect to the address that was checked, not to a fresh lookup (DNS rebinding).
        address = target.addresses[0] if target.addresses else None
        at = self.clock.now()
        t0 = time.perf_counter()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            answer = self.sender.post(ep.url, body, headers, address)
            status = answer.status
            excerpt = answer.body.decode("utf-8", errors="replace")[:EXCERPT_CHARS] or None
            if status in (429, 503, 408):
                retry_after = parse_retry_after(answer.headers.get("retry-after"), at)
        except SendError as exc:
            error = f"{exc.kind}: {exc}"[:500]
        latency = int((time.perf_counter() - t0) * 1000)
        result = classify(status)
        if status is not None and result != "delivered":
            error = f"HTTP {status}"
        return Outcome(msg.id, msg.msg_id, msg.attempts, msg.trigger, at, status, latency,
                       excerpt, error, result, retry_after)

    # -- recording -----------------------------------------------------------------------

    def _record(self, ep: Claimed, outcomes: list[Outcome]) -> None:
        now = self.clock.now()
        with write_session(self.factory) as session:
            if outcomes:
                session.execute(insert(WebhookAttempt), [{
                    "message_id": o.message_id, "endpoint_id": ep.id, "at": o.at,
                    "status_code": o.status_code, "latency_ms": o.latency_ms,
                    "response_excerpt": o.excerpt, "error": o.error, "trigger": o.trigger}
                    for o in outcomes])
                self._settle_messages(session, outcomes, now)
            row = session.get(WebhookEndpoint, ep.id)
            if row is None:
                return
            if outcomes:
                streak, first = streak_after(row.failure_streak, row.first_failure_at,
                                             outcomes)
                if (streak, first) != (row.failure_streak, row.first_failure_at):
                    row.failure_streak, row.first_failure_at = streak, first
                last = outcomes[-1]
                if last.result == "retry":
                    row.next_attempt_at = now + backoff(last.attempts + 1, last.retry_after)
                elif row.next_attempt_at is not None:
                    row.next_attempt_at = None
                if row.enabled and should_disable(streak, first, now):
                    self._disable(session, row, last, now)
            if row.lease_owner == self.worker_id:
                row.lease_owner = None
                row.lease_until = None

    def _settle_messages(self, session: Session, outcomes: list[Outcome],
                         now: datetime) -> None:
        pending = WebhookMessage.state == "pending"
        delivered = [o.message_id for o in outcomes if o.result == "delivered"]
        if delivered:
            # Conditional: a message is marked delivered once, whoever sent it.
            session.execute(update(WebhookMessage)
                            .where(WebhookMessage.id.in_(delivered), pending)
                            .values(state="delivered", delivered_at=now, trigger="auto",
                                    attempts=WebhookMessage.attempts + 1,
                                    next_attempt_at=None, last_error=None))
        for o in outcomes:
            if o.result == "delivered":
                continue
            values: dict[str, Any] = {"attempts": WebhookMessage.attempts + 1,
                                      "trigger": "auto", "last_error": o.error}
            if o.result == "failed":
                values.update(state="failed", next_attempt_at=None)
            else:
                values["next_attempt_at"] = now + backoff(o.attempts + 1, o.retry_after)
            session.execute(update(WebhookMessage)
                            .where(WebhookMessage.id == o.message_id, pending).values(values))

    def _disable(self, session: Session, row: WebhookEndpoint, last: Outcome,
                 now: datetime) -> None:
        since = row.first_failure_at or now
        reason = (f"{row.failure_streak} failed deliveries in a row since "
                  f"{since:%Y-%m-%d %H:%M} UTC; last: {last.error or last.status_code}")[:500]
        row.enabled = False
        row.disabled_at = now
        row.disabled_reason = reason
        row.updated_at = now
        emit(session, service.DISABLED_EVENT, "webhook_endpoint", str(row.id), {
            "endpoint_id": row.id, "url": row.url, "reason": reason,
            "failure_streak": row.failure_streak, "first_failure_at": since.isoformat(),
            "at": now.isoformat()}, now)
        log.warning("webhook endpoint %s (%s) disabled: %s", row.id, row.url, reason)

    # -- driving -------------------------------------------------------------------------

    def _guarded(self, ep: Claimed) -> int:
        try:
            return self.deliver_endpoint(ep)
        except Exception:
            # The lease runs out and another round retries; the endpoint's messages wait.
            log.exception("webhook delivery to endpoint %s failed", ep.id)
            return 0

    def _collect(self) -> int:
        done = 0
        for eid, fut in list(self._inflight.items()):
            if fut.done():
                del self._inflight[eid]
                done += fut.result()
        return done

    @property
    def busy(self) -> bool:
        return bool(self._inflight)

    def step(self) -> int:
        """One pump call: start batches for free slots, wait briefly, return messages done
        (at least 1 while batches are running, so the worker calls again at once)."""
        done = self._collect()
        free = self.parallel - len(self._inflight)
        if free > 0 and not self._stopping.is_set():
            for ep in self.claim(free, exclude=set(self._inflight)):
                self._inflight[ep.id] = self._pool.submit(self._guarded, ep)
        if self._inflight:
            wait(list(self._inflight.values()), timeout=0.05, return_when=FIRST_COMPLETED)
            return max(done + self._collect(), 1)
        return done

    def run_until_idle(self, max_rounds: int = 10_000) -> int:
        """Deliver until no endpoint has due messages; returns tries made."""
        total = 0
        for _ in range(max_rounds):
            claimed = self.claim(self.parallel)
            if not claimed:
                break
            futures = [self._pool.submit(self._guarded, ep) for ep in claimed]
            total += sum(f.result() for f in futures)
        return total

    def shutdown_idle(self) -> None:
        """Let go of threads and connections while there is nothing to deliver."""
        self._pool.shutdown(wait=False)
        self.sender.close()

    def close(self) -> None:
        """Finish the batches in flight, close connections, give back leases."""
        self._stopping.set()
        for fut in list(self._inflight.values()):
            fut.result()
        self._inflight.clear()
        self._pool.shutdown(wait=True)
        self.sender.close()
        try:
            with write_session(self.factory) as session:
                service.release_leases(session, self.worker_id)
        except Exception:  # leases also expire by themselves
            log.exception("could not release webhook leases")


# The worker's pump ----------------------------------------------------------------------

_DELIVERERS: dict[tuple[int, str], Deliverer] = {}
_GUARD = threading.Lock()


def pump_step(ctx: PumpCtx) -> int:
    """The ``webhooks.deliver`` pump: one step of this worker's deliverer. An idle deliverer
    is let go (threads, connections) and made again when work comes."""
    key = (id(ctx.factory), ctx.worker_id)
    with _GUARD:
        deliverer = _DELIVERERS.get(key)
        if deliverer is None:
            if ctx.stopping.is_set():
                return 0
            deliverer = _DELIVERERS[key] = Deliverer(ctx.factory, ctx.clock, ctx.settings,
                                                     ctx.worker_id, stopping=ctx.stopping)
    handled = 0
    try:
        handled = deliverer.step()
    finally:
        if not handled and not deliverer.busy:
            with _GUARD:
                _DELIVERERS.pop(key, None)
            deliverer.shutdown_idle()
    return handled
