"""Several workers at once, with real commits: every job and every event handled exactly once.

On PostgreSQL the four workers claim with FOR UPDATE SKIP LOCKED on their own connections;
on SQLite they take turns on the write lock (the same code, fewer jobs).
"""

from __future__ import annotations

import time

from sqlalchemy import func, insert, select

from ordertrail.db import write_session
from ordertrail.jobs import queue, registry
from ordertrail.jobs.outbox import emit_many
from ordertrail.jobs.worker import Worker
from ordertrail.kit.clock import SystemClock
from ordertrail.models import OutboxEvent
from ordertrail.models.jobs import Job
from tests.conftest import BACKEND
from tests.jobs import handlers


def _wait_until_finished(factory, workers, deadline_s: float = 300) -> None:
    deadline = time.monotonic() + deadline_s
    try:
        while time.monotonic() < deadline:
            with factory() as s:
                left = s.scalar(select(func.count()).select_from(Job)
                                .where(Job.state.in_(("queued", "running"))))
                pending = s.scalar(select(func.count()).select_from(OutboxEvent)
                                   .where(OutboxEvent.processed_at.is_(None)))
            if not left and not pending:
                return
            time.sleep(0.2)
    finally:
        for w in workers:
            w.stop()


def test_four_workers_run_every_job_and_event_exactly_once(committing, settings,
                                                           live_effects):
    jobs = 2000 if BACKEND == "postgres" else 300
    events = 500 if BACKEND == "postgres" else 100

    def consume(ctx, event):
        handlers._count(f"ev{event.id}")
        ctx.session.execute(insert(handlers.UNIQUE_EFFECTS).values(job_key=f"ev{event.id}"))

    registry.consumer("test.load", "load.*")(consume)
    clock = SystemClock()
    with write_session(committing) as s:
        queue.enqueue_many(s, [("test.unique", {"key": f"j{i}"}, None, 5)
                               for i in range(jobs)], clock.now())
    workers = [Worker(committing, clock, settings, worker_id=f"w{i}", batch=5, idle=0.05)
               for i in range(4)]
    for w in workers:
        w.start()
    # Events arrive while the workers run.
    for start in range(0, events, 50):
        with write_session(committing) as s:
            emit_many(s, [("load.thing", "thing", str(i), {"i": i})
                          for i in range(start, start + 50)], clock.now())
    _wait_until_finished(committing, workers)

    with committing() as s:
        states = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        attempts = set(s.scalars(select(Job.attempts).distinct()))
        rows = s.scalar(select(func.count()).select_from(handlers.UNIQUE_EFFECTS))
    assert states == {"done": jobs + events}
    assert attempts == {1}  # no job failed or ran again
    assert rows == jobs + events
    assert len(handlers.EXECUTIONS) == jobs + events
    assert set(handlers.EXECUTIONS.values()) == {1}


def test_stop_finishes_the_job_at_hand_and_gives_back_the_rest(committing, settings,
                                                                live_effects):
    clock = SystemClock()
    with write_session(committing) as s:
        queue.enqueue_many(s, [("test.record", {"key": f"s{i}", "sleep": 0.05}, None, 5)
                               for i in range(40)], clock.now())
    worker = Worker(committing, clock, settings, batch=10)
    worker.start()
    deadline = time.monotonic() + 60
    while not handlers.EXECUTIONS and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    with committing() as s:
        states = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        rows = s.scalar(select(func.count()).select_from(handlers.EFFECTS))
    assert "running" not in states
    assert states.get("done", 0) == rows == sum(handlers.EXECUTIONS.values())
    assert states.get("queued", 0) == 40 - rows > 0


def test_the_app_runs_the_worker_in_process_when_asked(committing, engine, settings,
                                                       live_effects):
    from fastapi.testclient import TestClient

    from ordertrail.api.deps import AppState
    from ordertrail.app import create_app

    clock = SystemClock()
    with write_session(committing) as s:
        job_id = queue.enqueue(s, "test.record", {"key": "embedded"}, now=clock.now())
    app = create_app(settings, state=AppState(engine=engine, factory=committing, clock=clock,
                                              settings=settings), background=True)
    with TestClient(app):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with committing() as s:
                if s.get(Job, job_id).state == "done":
                    break
            time.sleep(0.05)
    with committing() as s:
        assert s.get(Job, job_id).state == "done"
        assert s.scalar(select(func.count()).select_from(handlers.EFFECTS)) == 1

    off = settings.model_copy(update={"embedded_worker": False})
    with write_session(committing) as s:
        later = queue.enqueue(s, "test.record", {"key": "not-embedded"}, now=clock.now())
    app = create_app(off, state=AppState(engine=engine, factory=committing, clock=clock,
                                         settings=off), background=True)
    with TestClient(app):
        time.sleep(1.0)
    with committing() as s:
        assert s.get(Job, later).state == "queued"
