"""What the worker runs: outbox consumers, jobs, periodic jobs and pumps, registered by domains.

Domains register at import time with the decorators below; ``load_all`` imports every
module that registers something, so a worker process knows them all. The worker
(``ordertrail.jobs.worker``) is the only caller of what is registered here.

- **Consumers** receive outbox events (``order.stage_changed``, ``shipment.exception``, …).
  Each (consumer, event) pair becomes one job, so consumers retry and fail independently.
  A consumer runs in its own transaction, together with marking its job done: its database
  effects happen exactly once. Raise to retry with backoff; after ``max_attempts`` the job is
  dead (inspect and retry it with ``ordertrail jobs`` or the API).
- **Jobs** are the same for work that is not an outbox event: ``enqueue`` one in the caller's
  transaction (``ordertrail.jobs.queue.enqueue``), optionally with a key that makes a second
  enqueue of the same key a no-op while the first is not finished.
- **Periodic** jobs are enqueued by the worker every ``every``, claimed with a conditional
  update of their schedule row, so several workers enqueue each period once and a period
  missed while no worker ran is caught up by one run.
- **Pumps** are loops for work that leaves the database (HTTP deliveries): the worker calls
  them again and again; each claims its own rows with a lease (a conditional update), does
  its I/O outside any transaction, records the outcome, and returns how many items it
  handled (0 lets the worker sleep ``idle`` seconds before the next call).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.kit.clock import Clock

# Modules that register consumers, jobs, periodic jobs or pumps.
MODULES = (
    "ordertrail.sla.consumers",
    "ordertrail.notify.consumers",
    "ordertrail.webhooks.consumers",
    "ordertrail.ops.consumers",
    "ordertrail.inventory.consumers",
    "ordertrail.production.consumers",
    "ordertrail.procurement.consumers",
    "ordertrail.billing.consumers",
)


@dataclass(frozen=True)
class Event:
    """One outbox event as a consumer sees it."""

    id: int
    name: str
    aggregate: str
    aggregate_id: str
    payload: dict[str, Any]
    created_at: datetime


ConsumerFn = Callable[[Ctx, Event], None]
JobFn = Callable[[Ctx, dict[str, Any]], None]


@dataclass(frozen=True)
class PumpCtx:
    factory: sessionmaker[Session]
    clock: Clock
    settings: Settings
    worker_id: str
    stopping: threading.Event


PumpFn = Callable[[PumpCtx], int]


@dataclass(frozen=True)
class Consumer:
    name: str
    events: tuple[str, ...]  # exact names, or "prefix.*"
    fn: ConsumerFn
    max_attempts: int

    def wants(self, event_name: str) -> bool:
        return any(event_name == e or (e.endswith(".*") and event_name.startswith(e[:-1]))
                   for e in self.events)


@dataclass(frozen=True)
class Job:
    kind: str
    fn: JobFn
    max_attempts: int


@dataclass(frozen=True)
class Periodic:
    kind: str
    every: timedelta


@dataclass(frozen=True)
class Pump:
    name: str
    fn: PumpFn
    idle: float


@dataclass
class Registry:
    consumers: dict[str, Consumer] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    periodic: dict[str, Periodic] = field(default_factory=dict)
    pumps: dict[str, Pump] = field(default_factory=dict)

    def consumers_of(self, event_name: str) -> list[Consumer]:
        return [c for c in self.consumers.values() if c.wants(event_name)]


REGISTRY = Registry()
CONSUMER_KIND = "consume"  # job kind of a consumer's job; its payload names consumer and event


def consumer(name: str, *events: str, max_attempts: int = 12,
             ) -> Callable[[ConsumerFn], ConsumerFn]:
    """Register ``fn(ctx, event)`` for these event names (exact, or ``"prefix.*"``)."""
    if not events:
        raise ValueError(f"consumer {name} needs at least one event name")

    def register(fn: ConsumerFn) -> ConsumerFn:
        REGISTRY.consumers[name] = Consumer(name, tuple(events), fn, max_attempts)
        return fn

    return register


def job(kind: str, *, max_attempts: int = 12) -> Callable[[JobFn], JobFn]:
    """Register ``fn(ctx, payload)`` as the handler of jobs of this kind."""
    if kind == CONSUMER_KIND:
        raise ValueError(f"job kind {kind!r} is reserved")

    def register(fn: JobFn) -> JobFn:
        REGISTRY.jobs[kind] = Job(kind, fn, max_attempts)
        return fn

    return register


def periodic(kind: str, every: timedelta, *, max_attempts: int = 3,
             ) -> Callable[[JobFn], JobFn]:
    """Register ``fn(ctx, payload)`` as a job run every ``every`` (payload: ``{"due": iso}``)."""
    def register(fn: JobFn) -> JobFn:
        REGISTRY.jobs[kind] = Job(kind, fn, max_attempts)
        REGISTRY.periodic[kind] = Periodic(kind, every)
        return fn

    return register


def pump(name: str, *, idle: float = 0.5) -> Callable[[PumpFn], PumpFn]:
    """Register ``fn(pump_ctx) -> handled`` as a loop the worker keeps calling."""
    def register(fn: PumpFn) -> PumpFn:
        REGISTRY.pumps[name] = Pump(name, fn, idle)
        return fn

    return register


_loaded = False
_lock = threading.Lock()


def load_all() -> Registry:
    """Import every registering module (once) and return the registry."""
    global _loaded
    with _lock:
        if not _loaded:
            for module in MODULES:
                importlib.import_module(module)
            _loaded = True
    return REGISTRY
