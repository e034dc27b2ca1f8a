"""Durable polling and subscription: the poller acts on shipments whose ``next_check_at``
is due.

One round: claim due shipments with a conditional update (a lease: their next check moves a
few minutes ahead, so another poller process skips them; on PostgreSQL the claim also uses
FOR UPDATE SKIP LOCKED), then per provider subscribe the ones not yet registered and fetch
the others, in batches of the provider's size and within its request rate, and ingest what
came back. Errors and 429s back off per shipment (stored), and never stop other providers.
Because every decision is a stored time, a restart resumes without a burst and without gaps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ordertrail import metrics
from ordertrail.carrier import registry
from ordertrail.carrier.base import (
    CarrierError,
    NotConfigured,
    Provider,
    ProviderUnavailable,
    RateLimited,
    Registration,
)
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import write_session
from ordertrail.kit.clock import Clock
from ordertrail.models import Shipment
from ordertrail.shipment import schedule
from ordertrail.shipment.accounts import creds_for
from ordertrail.shipment.ingest import ingest

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
NOT_CONFIGURED_RETRY = timedelta(hours=1)


@dataclass
class PollReport:
    claimed: int = 0
    registered: int = 0
    fetched: int = 0
    stored: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class _Item:
    id: int
    provider: str
    carrier: str
    number: str
    registered: bool
    failures: int
    status: str
    substatus: str
    last_event_at: object
    registration: Registration


def callback_url(settings: Settings, slug: str) -> str:
    """Where a provider pushes updates for ``slug``."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base.rstrip('/')}/api/v1/hooks/{slug}"


def _claim(factory: sessionmaker[Session], clock: Clock, limit: int) -> list[_Item]:
    now = clock.now()
    with write_session(factory) as session:
        stmt = (select(Shipment).where(Shipment.next_check_at.is_not(None),
                                       Shipment.next_check_at <= now)
                .order_by(Shipment.next_check_at, Shipment.id).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list(session.scalars(stmt))
        if not rows:
            return []
        session.execute(update(Shipment).where(Shipment.id.in_([r.id for r in rows]))
                        .values(next_check_at=now + LEASE))
        return [_Item(r.id, r.provider, r.carrier, r.tracking_number,
                      r.registered_at is not None, r.check_failures, r.status, r.substatus,
                      r.last_event_at,
                      Registration(tracking_number=r.tracking_number, courier=r.carrier,
                                   phone=(r.meta or {}).get("phone_last4"),
                                   origin_country=r.origin_country,
                                   destination_country=r.destination_country,
                                   destination_city=r.destination_city,
                                   scenario=(r.meta or {}).get("scenario")))
                for r in rows]


class _Pace:
    """At most ``rate`` calls per second to one provider (the poller's own limit)."""

    def __init__(self, rate: float, sleep: object = time.sleep) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.next_at = 0.0
        self.sleep = sleep

    def wait(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            self.sleep(self.next_at - now)  # type: ignore[operator]
        self.next_at = max(now, self.next_at) + self.gap


class Poller:
    """Subscribes and polls due shipments; ``run_once`` is one round, ``start`` a thread."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, settings: Settings,
                 http: httpx.Client | None = None, batch_limit: int = 500) -> None:
        self.factory, self.clock, self.settings = factory, clock, settings
        self.http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self.batch_limit = batch_limit
        self._paces: dict[str, _Pace] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round -----------------------------------------------------------------------

    def run_once(self) -> PollReport:
        """Claim what is due and act on it, provider by provider."""
        report = PollReport()
        items = _claim(self.factory, self.clock, self.batch_limit)
        report.claimed = len(items)
        groups: dict[str, list[_Item]] = defaultdict(list)
        for item in items:
            groups[item.provider].append(item)
        for slug, group in groups.items():
            try:
                self._provider_round(slug, group, report)
            except Exception as exc:
                log.exception("polling %s failed", slug)
                report.errors[slug] = f"{type(exc).__name__}: {exc}"
                self._fail(group, None, report)
        return report

    def _provider_round(self, slug: str, group: list[_Item], report: PollReport) -> None:
        plugin = registry.get(slug)
        if plugin is None or not (plugin.can_poll or plugin.can_push):
            self._settle(group, stop_reason=f"no tracking provider {slug}")
            return
        with self.factory() as session:
            creds = creds_for(session, self.settings, plugin)
        client = plugin.client(creds, self.http) if all(creds.values()) else None
        if client is None:
            metrics.POLLS.labels(slug, "any", "not_configured").inc(len(group))
            report.errors[slug] = "not configured"
            self._later(group, NOT_CONFIGURED_RETRY)
            return
        pace = self._paces.setdefault(slug, _Pace(plugin.requests_per_second))
        todo_register = [i for i in group if not i.registered]
        todo_fetch = [i for i in group if i.registered and plugin.can_poll]
        idle = [i for i in group if i.registered and not plugin.can_poll]
        self._settle(idle)
        reg_batches = _batches(todo_register, plugin.batch_size)
        for n, batch in enumerate(reg_batches):
            pace.wait()
            try:
                result = client.register([i.registration for i in batch],
                                         callback_url(self.settings, slug))
            except RateLimited as exc:
                metrics.POLLS.labels(slug, "register", "rate_limited").inc()
                self._fail(batch, exc.retry_after, report)
                rest = [i for b in reg_batches[n + 1:] for i in b] + todo_fetch
                self._fail(rest, exc.retry_after, report, count=False)
                return
            except (ProviderUnavailable, NotConfigured, CarrierError) as exc:
                metrics.POLLS.labels(slug, "register", "error").inc()
                report.errors[slug] = exc.reason
                self._fail(batch, getattr(exc, "retry_after", None), report)
                continue
            metrics.POLLS.labels(slug, "register", "ok").inc()
            self._registered(plugin, batch, result.accepted, dict(result.rejected))
            report.registered += len(result.accepted)
        fetch_batches = _batches(todo_fetch, plugin.batch_size)
        for n, batch in enumerate(fetch_batches):
            pace.wait()
            try:
                updates = client.fetch([i.registration for i in batch])
            except RateLimited as exc:
                metrics.POLLS.labels(slug, "fetch", "rate_limited").inc()
                self._fail(batch, exc.retry_after, report)
                rest = [i for b in fetch_batches[n + 1:] for i in b]
                self._fail(rest, exc.retry_after, report, count=False)
                return
            except (ProviderUnavailable, NotConfigured, CarrierError) as exc:
                metrics.POLLS.labels(slug, "fetch", "error").inc()
                report.errors[slug] = exc.reason
                self._fail(batch, getattr(exc, "retry_after", None), report)
                continue
            metrics.POLLS.labels(slug, "fetch", "ok").inc()
            report.fetched += len(batch)
            report.stored += self._ingest(plugin, batch, updates)

    # -- writing outcomes ------------------------------------------------------------------

    def _ctx(self, session: Session) -> Ctx:
        return Ctx(session, SYSTEM_ACTOR, self.clock, self.settings)

    def _ingest(self, plugin: Provider, batch: list[_Item], updates: Sequence) -> int:
        now = self.clock.now()
        with write_session(self.factory) as session:
            result = ingest(self._ctx(session), plugin.slug, updates, "poll")
            touched = set(result.changed)
            session.execute(update(Shipment).where(Shipment.id.in_([i.id for i in batch]))
                            .values(last_checked_at=now, check_failures=0))
            # Shipments the answer said nothing new about still need their next check.
            quiet = [i for i in batch if i.id not in touched]
            self._reschedule(session, plugin, quiet, now)
            return result.stored

    def _reschedule(self, session: Session, plugin: Provider, items: list[_Item],
                    now: object) -> None:
        for item in items:
            row = session.get(Shipment, item.id)
            if row is None:
                continue
            row.next_check_at = schedule.next_check(
                key=row.tracking_number, status=row.status, substatus=row.substatus,
                last_event_at=row.last_event_at, now=now,  # type: ignore[arg-type]
                can_poll=plugin.can_poll, pushes=plugin.can_push,
                registered=row.registered_at is not None,
                stopped=row.stopped_reason is not None)

    def _registered(self, plugin: Provider, batch: list[_Item], accepted: Sequence[str],
                    rejected: dict[str, str]) -> None:
        now = self.clock.now()
        ok = set(accepted)
        with write_session(self.factory) as session:
            for item in batch:
                row = session.get(Shipment, item.id)
                if row is None:
                    continue
                if item.number in ok:
                    row.registered_at = now
                    row.check_failures = 0
                elif item.number in rejected:
                    row.stopped_reason = f"{plugin.slug} refused it: {rejected[item.number]}"[:200]
                row.last_checked_at = now
                row.next_check_at = schedule.next_check(
                    key=row.tracking_number, status=row.status, substatus=row.substatus,
                    last_event_at=row.last_event_at, now=now, can_poll=plugin.can_poll,
                    pushes=plugin.can_push, registered=row.registered_at is not None,
                    stopped=row.stopped_reason is not None)
                if row.registered_at is None and row.stopped_reason is None:
                    row.next_check_at = schedule.backoff(row.check_failures + 1, now)
                    row.check_failures += 1

    def _fail(self, items: list[_Item], retry_after: float | None, report: PollReport,
              count: bool = True) -> None:
        if not items:
            return
        now = self.clock.now()
        if count:
            report.failed += len(items)
        with write_session(self.factory) as session:
            for item in items:
                failures = item.failures + (1 if count else 0)
                session.execute(update(Shipment).where(Shipment.id == item.id).values(
                    check_failures=failures,
                    next_check_at=schedule.backoff(max(failures, 1), now, retry_after)))

    def _later(self, items: list[_Item], wait: timedelta) -> None:
        now = self.clock.now()
        with write_session(self.factory) as session:
            session.execute(update(Shipment).where(Shipment.id.in_([i.id for i in items]))
                            .values(next_check_at=now + wait))

    def _settle(self, items: list[_Item], stop_reason: str | None = None) -> None:
        if not items:
            return
        now = self.clock.now()
        with write_session(self.factory) as session:
            for item in items:
                row = session.get(Shipment, item.id)
                if row is None:
                    continue
                if stop_reason:
                    row.stopped_reason = stop_reason
                plugin = registry.get(row.provider)
                row.next_check_at = schedule.next_check(
                    key=row.tracking_number, status=row.status, substatus=row.substatus,
                    last_event_at=row.last_event_at, now=now,
                    can_poll=bool(plugin and plugin.can_poll),
                    pushes=bool(plugin and plugin.can_push),
                    registered=row.registered_at is not None,
                    stopped=row.stopped_reason is not None)

    # -- background thread -----------------------------------------------------------------

    def start(self, every: float = 2.0) -> None:
        """Run rounds in a daemon thread until ``stop``."""
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    report = self.run_once()
                except Exception:
                    log.exception("poller round failed")
                    report = PollReport()
                if report.claimed < self.batch_limit:
                    self._stop.wait(every)

        self._thread = threading.Thread(target=loop, name="ordertrail-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def _batches(items: list[_Item], size: int) -> list[list[_Item]]:
    size = max(size, 1)
    return [items[i:i + size] for i in range(0, len(items), size)]
