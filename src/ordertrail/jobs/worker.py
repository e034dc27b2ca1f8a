"""The worker: dispatches outbox events to consumer jobs, runs jobs, periodic jobs and pumps.

- **Dispatch**: unprocessed outbox events are taken in id order (``FOR UPDATE SKIP LOCKED``
  on PostgreSQL); in one transaction each (consumer that wants it, event) pair becomes one
  job keyed ``consume:<consumer>:<event id>`` and the events are marked processed.
- **Jobs**: claimed in small batches under a lease; each runs in its own write transaction
  with its completion (``queue.complete``), so its database effects commit once. A failure
  rolls the handler back and records the attempt (backoff, then dead).
- **Periodic**: a schedule row per periodic kind, claimed with a conditional update
  (``next_run_at <= now``), enqueues one job keyed ``periodic:<kind>``.
- **Pumps**: called again and again; a pump that handled nothing is left alone for its
  ``idle`` seconds.
- **Heartbeat**: leases of claimed jobs are extended while they run, so only a worker that
  stopped (killed, lost) has its jobs claimed again.

``drain`` does all of that synchronously until nothing is left (tests, ``worker --once``);
``Worker.start`` runs it in daemon threads (``serve``, ``demo``, ``ordertrail worker``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import write_session
from ordertrail.jobs import queue, registry
from ordertrail.jobs.registry import CONSUMER_KIND, Event, PumpCtx, Registry
from ordertrail.kit.clock import Clock
from ordertrail.models import OutboxEvent
from ordertrail.models.jobs import JobSchedule

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a killed worker's jobs run again after at most this
DISPATCH_BATCH = 500
CLAIM_BATCH = 10
COMMIT_EVERY = 0.05  # seconds of job work per commit (PostgreSQL: 0 on SQLite)
IDLE = 0.5  # seconds between looks at the queue when there was nothing to do

JOBS = Counter("ordertrail_jobs", "Job attempts by kind and outcome (done, failed, dead, "
               "lease_lost).", ["kind", "outcome"])
DISPATCHED = Counter("ordertrail_outbox_dispatched", "Outbox events dispatched to consumers.")
OUTBOX_LAG = Gauge("ordertrail_outbox_lag_seconds", "Age of the oldest event in the last "
                   "dispatched batch (0 when the outbox was empty).")


KEEP_DONE = timedelta(days=7)  # done jobs are deleted after this; dead ones are kept


@registry.periodic("jobs.prune", every=timedelta(minutes=10))
def prune(ctx: Ctx, payload: dict[str, Any]) -> None:
    """Delete jobs done more than a week ago (in bounded chunks; dead jobs stay)."""
    queue.prune_done(ctx.session, ctx.clock.now() - KEEP_DONE)


class UnknownHandler(Exception):
    """No handler is registered for the job (retried: a newer worker may know it)."""


def _dialect(factory: sessionmaker[Session]) -> str:
    with factory() as session:
        return session.get_bind().dialect.name


# One step each --------------------------------------------------------------------------


def dispatch(factory: sessionmaker[Session], clock: Clock, reg: Registry,
             limit: int = DISPATCH_BATCH) -> int:
    """Turn up to ``limit`` unprocessed outbox events into consumer jobs; how many events."""
    now = clock.now()
    pending = (OutboxEvent.processed_at.is_(None), OutboxEvent.available_at <= now)
    with factory() as session:  # a read first: an idle worker takes no write lock
        if session.scalar(select(OutboxEvent.id).where(*pending).limit(1)) is None:
            OUTBOX_LAG.set(0)
            return 0
    with write_session(factory) as session:
        stmt = (select(OutboxEvent.id, OutboxEvent.name, OutboxEvent.created_at)
                .where(*pending).order_by(OutboxEvent.id).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        events = session.execute(stmt).all()
        if not events:
            OUTBOX_LAG.set(0)
            return 0
        rows = [(CONSUMER_KIND, {"consumer": c.name, "event_id": ev.id},
                 f"consume:{c.name}:{ev.id}", c.max_attempts)
                for ev in events for c in reg.consumers_of(ev.name)]
        queue.enqueue_many(session, rows, now)
        session.execute(update(OutboxEvent)
                        .where(OutboxEvent.id.in_([ev.id for ev in events]))
                        .values(processed_at=now)
                        .execution_options(synchronize_session=False))
    DISPATCHED.inc(len(events))
    OUTBOX_LAG.set(max((now - min(ev.created_at for ev in events)).total_seconds(), 0.0))
    return len(events)


def schedule_periodic(factory: sessionmaker[Session], clock: Clock, reg: Registry) -> int:
    """Enqueue each periodic job whose period came; a long gap gives one run, not many."""
    if not reg.periodic:
        return 0
    now = clock.now()
    with factory() as session:
        known = dict(session.execute(select(JobSchedule.kind, JobSchedule.next_run_at)).all())
    todo = [p for p in reg.periodic.values() if p.kind not in known or known[p.kind] <= now]
    if not todo:
        return 0
    count = 0
    with write_session(factory) as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for p in todo:
            session.execute(insert(JobSchedule).values(kind=p.kind, next_run_at=now,
                                                       last_run_at=None)
                            .on_conflict_do_nothing())
            claimed = session.execute(
                update(JobSchedule)
                .where(JobSchedule.kind == p.kind, JobSchedule.next_run_at <= now)
                .values(next_run_at=now + p.every, last_run_at=now)
                .execution_options(synchronize_session=False))
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                queue.enqueue(session, p.kind, {"due": now.isoformat()},
                              key=f"periodic:{p.kind}", now=now)
                count += 1
    return count


def _handle(ctx: Ctx, job: queue.Claimed, reg: Registry) -> None:
    if job.kind != CONSUMER_KIND:
        handler = reg.jobs.get(job.kind)
        if handler is None:
            raise UnknownHandler(f"no handler is registered for job kind {job.kind!r}")
        handler.fn(ctx, job.payload)
        return
    consumer = reg.consumers.get(str(job.payload.get("consumer")))
    if consumer is None:
        raise UnknownHandler(f"no consumer {job.payload.get('consumer')!r} is registered")
    row = ctx.session.get(OutboxEvent, job.payload.get("event_id"))
    if row is None:  # the event was deleted (retention): nothing left to tell
        log.warning("job %s: outbox event %s no longer exists", job.id,
                    job.payload.get("event_id"))
        return
    consumer.fn(ctx, Event(id=row.id, name=row.name, aggregate=row.aggregate,
                           aggregate_id=row.aggregate_id, payload=row.payload,
                           created_at=row.created_at))


def _attempt(session: Session, clock: Clock, settings: Settings, reg: Registry,
             job: queue.Claimed) -> str:
    """Run one job and its completion in a savepoint of ``session``; the outcome. A failed
    attempt is rolled back to the savepoint and recorded (backoff or dead) instead."""
    try:
        with session.begin_nested():
            _handle(Ctx(session, SYSTEM_ACTOR, clock, settings), job, reg)
            queue.complete(session, job, clock.now())
        return "done"
    except queue.LeaseLost:
        log.warning("job %s (%s): lease lost to another worker; its work was rolled back",
                    job.id, job.kind)
        return "lease_lost"
    except Exception as exc:  # any handler error is a failed attempt
        error = f"{type(exc).__name__}: {exc}"
        state = queue.fail(session, job, error, clock.now())
        outcome = "dead" if state == "dead" else "failed" if state else "lease_lost"
        log.warning("job %s (%s) attempt %d/%d failed (%s): %s", job.id, job.kind,
                    job.attempts, job.max_attempts, outcome, error,
                    exc_info=not isinstance(exc, UnknownHandler))
        return outcome


def run_batch(factory: sessionmaker[Session], clock: Clock, settings: Settings,
              reg: Registry, jobs: list[queue.Claimed], *, budget: float = COMMIT_EVERY,
              stopping: threading.Event | None = None) -> int:
    """Run claimed jobs, each in its own savepoint, committing every ``budget`` seconds
    (a commit costs a disk flush; jobs are short). A job's work and its completion commit
    together; a crash before the commit leaves the jobs to be claimed again. Jobs not
    started when ``stopping`` is set are given back. Returns how many ran."""
    ran = 0
    while ran < len(jobs):
        outcomes: list[tuple[str, str]] = []
        started = time.monotonic()
        with write_session(factory) as session:
            for job in jobs[ran:]:
                if stopping is not None and stopping.is_set():
                    queue.release(session, jobs[ran:], clock.now())
                    break
                outcomes.append((job.kind, _attempt(session, clock, settings, reg, job)))
                ran += 1
                if time.monotonic() - started >= budget:
                    break
        for kind, outcome in outcomes:  # counted once committed
            JOBS.labels(kind, outcome).inc()
        if not outcomes:  # stopping: the rest was given back
            break
    return ran


def run_job(factory: sessionmaker[Session], clock: Clock, settings: Settings, reg: Registry,
            job: queue.Claimed) -> str:
    """Run one claimed job with its completion in one transaction; the outcome."""
    with write_session(factory) as session:
        outcome = _attempt(session, clock, settings, reg, job)
    JOBS.labels(job.kind, outcome).inc()
    return outcome


# The worker ------------------------------------------------------------------------------


class Worker:
    """Runs everything registered: ``run_once`` one pass, ``start`` background threads.

    ``threads`` job threads claim and run jobs (one on SQLite, where writers take turns);
    one control thread dispatches the outbox, enqueues periodic jobs and keeps leases
    alive; one more thread calls the pumps, if any are registered.
    """

    def __init__(self, factory: sessionmaker[Session], clock: Clock, settings: Settings, *,
                 worker_id: str | None = None, threads: int = 1, lease: timedelta = LEASE,
                 batch: int = CLAIM_BATCH, idle: float = IDLE) -> None:
        self.factory, self.clock, self.settings = factory, clock, settings
        self.reg = registry.load_all()
        self.worker_id = worker_id or (f"{socket.gethostname()[:40]}:{os.getpid()}:"
                                       f"{secrets.token_hex(3)}")
        sqlite = _dialect(factory) == "sqlite"
        self.threads = 1 if sqlite else max(1, threads)
        self.lease, self.batch, self.idle = lease, max(1, batch), idle
        # SQLite commits cheaply and one writer holds the lock: commit after every job.
        self.commit_every = 0.0 if sqlite else COMMIT_EVERY
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._running: list[threading.Thread] = []
        self._holding: set[str] = set()  # owners currently holding claimed jobs
        self._holding_lock = threading.Lock()
        self._pump_due: dict[str, float] = {}
        self._pump_ctx = PumpCtx(factory, clock, settings, self.worker_id, self.stopping)

    def owner(self, n: int) -> str:
        return f"{self.worker_id}/{n}"

    # -- steps ---------------------------------------------------------------------------

    def dispatch_all(self) -> int:
        total = 0
        while True:
            n = dispatch(self.factory, self.clock, self.reg)
            total += n
            if n < DISPATCH_BATCH:
                return total

    def run_jobs(self, n: int = 0, *, until_empty: bool = False) -> int:
        """Claim a batch and run it (``until_empty``: batches until none is due)."""
        done = 0
        owner = self.owner(n)
        while not self.stopping.is_set():
            with self.factory() as session:
                if not queue.any_due(session, self.clock.now()):
                    return done
            with write_session(self.factory) as session:
                jobs = queue.claim(session, owner, self.clock.now(), self.lease, self.batch)
            if not jobs:
                return done
            with self._holding_lock:
                self._holding.add(owner)
            try:
                done += run_batch(self.factory, self.clock, self.settings, self.reg, jobs,
                                  budget=self.commit_every, stopping=self.stopping)
            finally:
                with self._holding_lock:
                    self._holding.discard(owner)
            if not until_empty:
                return done
        return done

    def run_pumps(self, *, all_due: bool = False) -> int:
        """Call each pump whose idle pause is over (``all_due``: every pump)."""
        handled = 0
        for p in self.reg.pumps.values():
            if not all_due and self._pump_due.get(p.name, 0.0) > time.monotonic():
                continue
            try:
                n = int(p.fn(self._pump_ctx) or 0)
            except Exception:  # a broken pump never stops the others
                log.exception("pump %s failed", p.name)
                n = 0
            handled += n
            self._pump_due[p.name] = time.monotonic() + (0 if n else p.idle)
        return handled

    def heartbeat(self) -> None:
        with self._holding_lock:
            owners = list(self._holding)
        if owners:
            with write_session(self.factory) as session:
                for owner in owners:
                    queue.heartbeat(session, owner, self.clock.now(), self.lease)

    def run_once(self, *, until_empty: bool = False) -> int:
        """One pass over everything: dispatch, periodic, jobs, every pump; items handled."""
        handled = self.dispatch_all() + schedule_periodic(self.factory, self.clock, self.reg)
        handled += self.run_jobs(0, until_empty=until_empty)
        return handled + self.run_pumps(all_due=True)

    # -- threads -------------------------------------------------------------------------

    def _loop(self, name: str, step: Any, pause: float) -> None:
        while not self.stopping.is_set():
            try:
                handled = step()
            except Exception:  # the database may be away: try later
                log.exception("worker %s: %s failed", self.worker_id, name)
                handled = 0
                self.stopping.wait(max(pause, 1.0))
            if handled:
                continue
            if name.startswith("jobs"):
                # Woken early when the control thread queued work or the worker stops.
                if self._wake.wait(pause):
                    self._wake.clear()
            else:
                self.stopping.wait(pause)

    def _control(self) -> int:
        handled = self.dispatch_all() + schedule_periodic(self.factory, self.clock, self.reg)
        if handled:
            self._wake.set()
        if time.monotonic() >= self._next_beat:
            self._next_beat = time.monotonic() + self.lease.total_seconds() / 4
            self.heartbeat()
        return handled

    def _pumps(self) -> int:
        handled = self.run_pumps()
        if not handled and self._pump_due:
            wait = min(self._pump_due.values()) - time.monotonic()
            if wait > 0:
                self.stopping.wait(min(wait, self.idle))
        return handled

    def start(self) -> None:
        """Run in daemon threads until ``stop``."""
        self.stopping.clear()
        self._next_beat = 0.0
        specs: list[tuple[str, Any, float]] = [("control", self._control,
                                                min(self.idle, 0.25))]
        specs += [(f"jobs-{n}", lambda n=n: self.run_jobs(n), self.idle)
                  for n in range(self.threads)]
        if self.reg.pumps:
            specs.append(("pumps", self._pumps, 0.0))
        for name, step, pause in specs:
            thread = threading.Thread(target=self._loop, args=(name, step, pause),
                                      name=f"ordertrail-worker-{name}", daemon=True)
            thread.start()
            self._running.append(thread)
        log.info("worker %s started (%d job thread(s))", self.worker_id, self.threads)

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the jobs being run, give back the claimed ones not started, and exit."""
        self.stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._running:
            thread.join(max(deadline - time.monotonic(), 0.1))
        self._running = [t for t in self._running if t.is_alive()]
        if self._running:
            log.warning("worker %s: %d thread(s) still busy at stop", self.worker_id,
                        len(self._running))

    def run_forever(self, stop_event: threading.Event) -> None:
        """Run until ``stop_event`` is set, then stop gracefully."""
        self.start()
        try:
            while not stop_event.wait(1.0):
                pass
        finally:
            self.stop()


def drain(factory: sessionmaker[Session], clock: Clock, settings: Settings, *,
          max_rounds: int = 100) -> int:
    """Run everything due (outbox, jobs, periodic, each pump once a round) until a round
    finds nothing; items handled. Jobs that failed wait for their backoff."""
    worker = Worker(factory, clock, settings, worker_id=f"drain:{os.getpid()}")
    total = 0
    for _ in range(max_rounds):
        handled = worker.run_once(until_empty=True)
        total += handled
        if not handled:
            break
    return total
