"""The job queue: enqueue in the caller's transaction, claim with a lease, complete or fail.

Every state change is one conditional statement, so several workers (threads or processes)
can share the table:

- ``claim`` moves due jobs to ``running`` under a lease (``lease_owner``, ``lease_until``)
  and counts the attempt. On PostgreSQL the candidates are picked ``FOR UPDATE SKIP
  LOCKED``, so concurrent claimers take different rows without waiting; on SQLite the
  claimer holds the database's write lock. Running jobs whose lease expired (their worker
  died) are claimed again; while a job runs, ``run_at`` mirrors ``lease_until`` so one index
  serves both.
- ``complete`` runs in the handler's own transaction and only succeeds while this claim
  still holds the lease (same owner, same attempt). If the lease was lost, it raises
  ``LeaseLost`` and the caller rolls back the handler's work: a job's database effects
  are committed once.
- ``fail`` puts the job back with exponential backoff and jitter, or makes it ``dead``
  after ``max_attempts``; ``retry`` puts dead jobs back in the queue.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ordertrail.errors import Conflict, Invalid, NotFound
from ordertrail.jobs import registry
from ordertrail.models.jobs import Job, JobState

DEFAULT_MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(hours=1)
ERROR_MAX = 2000  # characters of an error kept in last_error
ASAP = datetime(1970, 1, 1, tzinfo=UTC)  # run_at of a job due at once, whatever the clock


class LeaseLost(Exception):
    """The job was claimed again by someone else (our lease expired); nothing may commit."""


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds: what the handler needs, and the claim's identity."""

    id: int
    kind: str
    key: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    owner: str


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(Job)


def _row(kind: str, payload: dict[str, Any], key: str | None, run_at: datetime,
         now: datetime, max_attempts: int | None) -> dict[str, Any]:
    if max_attempts is None:
        known = registry.REGISTRY.jobs.get(kind)
        max_attempts = known.max_attempts if known else DEFAULT_MAX_ATTEMPTS
    return {"kind": kind, "key": key, "payload": payload, "state": JobState.QUEUED.value,
            "run_at": run_at, "attempts": 0, "max_attempts": max_attempts,
            "lease_owner": None, "lease_until": None, "last_error": None,
            "created_at": now, "updated_at": now, "finished_at": None}


def enqueue(session: Session, kind: str, payload: dict[str, Any] | None = None, *,
            key: str | None = None, run_at: datetime | None = None,
            now: datetime | None = None, max_attempts: int | None = None) -> int | None:
    """Queue one job in the caller's transaction; its id, or None when ``key`` names an
    unfinished job already (then nothing changes).

    Due at ``run_at``; without it at ``now`` (pass ``ctx.clock.now()``), or at once: the
    job then sorts before jobs scheduled for a time.
    """
    if not kind or len(kind) > 64:
        raise Invalid("a job kind is 1 to 64 characters", code="bad_job_kind")
    if key is not None and not 1 <= len(key) <= 200:
        raise Invalid("a job key is 1 to 200 characters", code="bad_job_key")
    created = now or datetime.now(UTC)
    stmt = (_insert(session).values(_row(kind, payload or {}, key, run_at or now or ASAP,
                                         created, max_attempts))
            .on_conflict_do_nothing().returning(Job.id))
    return session.execute(stmt).scalar_one_or_none()


def enqueue_many(session: Session, rows: Sequence[tuple[str, dict[str, Any], str | None, int]],
                 now: datetime) -> None:
    """Queue (kind, payload, key, max_attempts) rows, due now; keys already open are skipped."""
    if not rows:
        return
    values = [_row(kind, payload, key, now, now, attempts)
              for kind, payload, key, attempts in rows]
    session.execute(_insert(session).on_conflict_do_nothing(), values)


# Claiming --------------------------------------------------------------------------------


def _candidates(session: Session, state: JobState, now: datetime, limit: int,
                ) -> Select[tuple[int]]:
    stmt = (select(Job.id).where(Job.state == state.value, Job.run_at <= now)
            .order_by(Job.run_at, Job.id).limit(limit))
    if state is JobState.RUNNING:
        stmt = stmt.where(Job.attempts < Job.max_attempts)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


def any_due(session: Session, now: datetime) -> bool:
    """Whether a claim would find something (a read: idle workers take no write lock)."""
    return session.scalar(
        select(Job.id).where(Job.state.in_((JobState.QUEUED.value, JobState.RUNNING.value)),
                             Job.run_at <= now).limit(1)) is not None


def claim(session: Session, owner: str, now: datetime, lease: timedelta,
          limit: int = 1) -> list[Claimed]:
    """Take up to ``limit`` due jobs (and expired leases) for ``owner``, oldest first."""
    until = now + lease
    _bury_exhausted_leases(session, now)
    taken: list[Claimed] = []
    for state in (JobState.RUNNING, JobState.QUEUED):
        want = limit - len(taken)
        if want <= 0:
            break
        ids = _candidates(session, state, now, want).scalar_subquery()
        stmt = (update(Job).where(Job.id.in_(ids))
                .values(state=JobState.RUNNING.value, lease_owner=owner, lease_until=until,
                        run_at=until, attempts=Job.attempts + 1, updated_at=now)
                .returning(Job.id, Job.kind, Job.key, Job.payload, Job.attempts,
                           Job.max_attempts))
        taken.extend(Claimed(r.id, r.kind, r.key, r.payload, r.attempts, r.max_attempts, owner)
                     for r in session.execute(stmt))
    taken.sort(key=lambda c: c.id)
    return taken


def _bury_exhausted_leases(session: Session, now: datetime) -> None:
    """Running jobs whose worker died on their last attempt are dead, not run again."""
    session.execute(
        update(Job).where(Job.state == JobState.RUNNING.value, Job.run_at <= now,
                          Job.attempts >= Job.max_attempts)
        .values(state=JobState.DEAD.value, lease_owner=None, lease_until=None,
                updated_at=now, finished_at=now,
                last_error=func.coalesce(Job.last_error + "\n", "")
                + "the worker stopped during the last attempt (lease expired)")
        .execution_options(synchronize_session=False))


def heartbeat(session: Session, owner: str, now: datetime, lease: timedelta) -> int:
    """Extend the leases of the running jobs ``owner`` holds; how many."""
    until = now + lease
    # Rows the owner's open transaction already completed are locked by it: skip them
    # rather than wait for that commit (which may follow a long job).
    held = select(Job.id).where(Job.state == JobState.RUNNING.value, Job.lease_owner == owner)
    if session.get_bind().dialect.name == "postgresql":
        held = held.with_for_update(skip_locked=True)
    result = session.execute(
        update(Job).where(Job.id.in_(held.scalar_subquery()))
        .values(lease_until=until, run_at=until)
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _held(job: Claimed) -> Any:
    return and_(Job.id == job.id, Job.state == JobState.RUNNING.value,
                Job.lease_owner == job.owner, Job.attempts == job.attempts)


def complete(session: Session, job: Claimed, now: datetime) -> None:
    """Mark the job done in the handler's transaction; ``LeaseLost`` if no longer ours."""
    result = session.execute(
        update(Job).where(_held(job))
        .values(state=JobState.DONE.value, lease_owner=None, lease_until=None,
                updated_at=now, finished_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"job {job.id} was claimed by another worker")


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait before attempt ``attempts + 1``: 5 s·2^(n-1), capped at 1 h, with jitter
    (between half and all of it) so failures of many jobs do not come back together."""
    step = BACKOFF_BASE * (2 ** max(attempts - 1, 0)) if attempts < 32 else BACKOFF_CAP
    delay = min(step, BACKOFF_CAP)
    return delay * (0.5 + 0.5 * (rng or random).random())


def fail(session: Session, job: Claimed, error: str, now: datetime) -> str | None:
    """Record a failed attempt: queued again after a backoff, or dead after the last
    attempt. Returns the new state, or None when the lease was lost (nothing changed)."""
    dead = job.attempts >= job.max_attempts
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now,
                              "last_error": error[:ERROR_MAX]}
    if dead:
        values.update(state=JobState.DEAD.value, finished_at=now)
    else:
        values.update(state=JobState.QUEUED.value, run_at=now + backoff(job.attempts))
    result = session.execute(update(Job).where(_held(job)).values(**values)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return values["state"]  # type: ignore[no-any-return]


def release(session: Session, jobs: Sequence[Claimed], now: datetime) -> int:
    """Give back claimed jobs that were not started (a stopping worker): queued again, due
    now, the attempt not counted."""
    count = 0
    for job in jobs:
        result = session.execute(
            update(Job).where(_held(job))
            .values(state=JobState.QUEUED.value, run_at=now, attempts=Job.attempts - 1,
                    lease_owner=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False))
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return count


# Dead letters and inspection --------------------------------------------------------------


def _open_with_key(session: Session, key: str) -> int | None:
    return session.scalar(select(Job.id).where(
        Job.key == key, Job.state.in_((JobState.QUEUED.value, JobState.RUNNING.value))))


def retry(session: Session, job_id: int, now: datetime) -> Job:
    """Put a dead job back in the queue with fresh attempts."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}", code="job_not_found")
    if job.state != JobState.DEAD.value:
        raise Conflict(f"job {job_id} is {job.state}; only dead jobs can be retried",
                       code="job_not_dead")
    if job.key is not None:
        other = _open_with_key(session, job.key)
        if other is not None:
            raise Conflict(f"job {other} with the same key {job.key!r} is already queued",
                           code="job_key_open")
    job.state, job.attempts, job.run_at = JobState.QUEUED.value, 0, now
    job.updated_at, job.finished_at = now, None
    session.flush()
    return job


def retry_all_dead(session: Session, now: datetime, kind: str | None = None) -> int:
    """Retry every dead job (of ``kind``); dead jobs whose key is open again are left."""
    stmt = select(Job.id).where(Job.state == JobState.DEAD.value).order_by(Job.id)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    count = 0
    for job_id in session.scalars(stmt).all():
        try:
            with session.begin_nested():
                retry(session, job_id, now)
            count += 1
        except Conflict:
            continue
    return count


def prune_done(session: Session, before: datetime, limit: int = 20_000) -> int:
    """Delete up to ``limit`` jobs done before ``before`` (dead ones stay for inspection).

    A done job's ``run_at`` is its last lease expiry, at or after its start: the claim
    index finds them without a scan.
    """
    old = (select(Job.id).where(Job.state == JobState.DONE.value, Job.run_at < before)
           .order_by(Job.run_at).limit(limit).scalar_subquery())
    result = session.execute(delete(Job).where(Job.id.in_(old))
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_jobs(session: Session, *, state: str | None = None, kind: str | None = None,
              limit: int = 50) -> list[Job]:
    """Jobs, newest first, optionally of one state and kind."""
    if state is not None and state not in {s.value for s in JobState}:
        raise Invalid(f"unknown job state {state!r}; use one of "
                      f"{', '.join(s.value for s in JobState)}", code="bad_job_state")
    if not 1 <= limit <= 1000:
        raise Invalid("limit is 1 to 1000", code="bad_limit")
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Job.state == state)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return list(session.scalars(stmt))


def stats(session: Session, now: datetime) -> dict[str, Any]:
    """Counts by state and kind, due jobs, the oldest due job's wait, unprocessed events."""
    from ordertrail.models import OutboxEvent

    by: dict[str, dict[str, int]] = {}
    for kind, state, count in session.execute(
            select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)):
        by.setdefault(kind, {})[state] = count
    totals = {s.value: sum(k.get(s.value, 0) for k in by.values()) for s in JobState}
    due = session.scalar(select(func.count()).select_from(Job).where(
        Job.state == JobState.QUEUED.value, Job.run_at <= now)) or 0
    oldest = session.scalar(select(func.min(Job.run_at)).where(
        Job.state == JobState.QUEUED.value, Job.run_at <= now))
    pending = session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.processed_at.is_(None))) or 0
    oldest_event = session.scalar(select(func.min(OutboxEvent.created_at)).where(
        OutboxEvent.processed_at.is_(None)))
    return {
        "states": totals, "kinds": by, "due": due,
        "oldest_due_seconds": round((now - oldest).total_seconds(), 3) if oldest else 0.0,
        "outbox_pending": pending,
        "outbox_lag_seconds": (round((now - oldest_event).total_seconds(), 3)
                               if oldest_event else 0.0),
    }


__all__ = ["Claimed", "LeaseLost", "any_due", "backoff", "claim", "complete", "enqueue",
           "enqueue_many", "fail", "heartbeat", "list_jobs", "prune_done", "release", "retry",
           "retry_all_dead", "stats"]
