"""The job queue and the worker's passes, in one rolled-back transaction, on a frozen clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from ordertrail.db import write_session
from ordertrail.errors import Conflict, NotFound
from ordertrail.jobs import queue, registry
from ordertrail.jobs.outbox import emit
from ordertrail.jobs.registry import Event
from ordertrail.jobs.worker import Worker, drain, run_job
from ordertrail.models import OutboxEvent
from ordertrail.models.jobs import Job, JobSchedule
from tests.jobs import handlers

LEASE = timedelta(seconds=60)


def _effects(factory, key=None):
    stmt = select(func.count()).select_from(handlers.EFFECTS)
    if key is not None:
        stmt = stmt.where(handlers.EFFECTS.c.job_key == key)
    with factory() as s:
        return s.scalar(stmt)


def _job(factory, job_id) -> Job:
    with factory() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _enqueue(factory, clock, kind, payload, **kw):
    with write_session(factory) as s:
        return queue.enqueue(s, kind, payload, now=clock.now(), **kw)


def _claim(factory, clock, owner, limit=1, lease=LEASE):
    with write_session(factory) as s:
        return queue.claim(s, owner, clock.now(), lease, limit)


def test_an_enqueued_job_runs_once_and_is_done(factory, clock, settings, effects):
    job_id = _enqueue(factory, clock, "test.record", {"key": "a"})
    assert _job(factory, job_id).state == "queued"
    assert drain(factory, clock, settings) == 1
    job = _job(factory, job_id)
    assert (job.state, job.attempts, job.finished_at, job.lease_owner) == (
        "done", 1, clock.now(), None)
    assert _effects(factory, "a") == 1
    assert drain(factory, clock, settings) == 0  # nothing runs twice


def test_a_job_without_a_time_is_due_whatever_the_clock(factory, clock, settings, effects):
    with write_session(factory) as s:
        queue.enqueue(s, "test.record", {"key": "asap"})
    assert drain(factory, clock, settings) == 1
    assert _effects(factory, "asap") == 1


def test_a_job_waits_for_its_run_at(factory, clock, settings, effects):
    _enqueue(factory, clock, "test.record", {"key": "later"},
             run_at=clock.now() + timedelta(hours=2))
    assert drain(factory, clock, settings) == 0
    clock.advance(timedelta(hours=2))
    assert drain(factory, clock, settings) == 1
    assert _effects(factory, "later") == 1


def test_a_key_names_one_unfinished_job(factory, clock, settings, effects):
    first = _enqueue(factory, clock, "test.record", {"key": "k"}, key="order:1")
    assert first is not None
    assert _enqueue(factory, clock, "test.record", {"key": "k"}, key="order:1") is None
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1
    drain(factory, clock, settings)
    # Once the first is done, the key may be used again.
    again = _enqueue(factory, clock, "test.record", {"key": "k"}, key="order:1")
    assert again is not None and again != first


def test_a_failing_job_backs_off_then_dies_and_can_be_retried(factory, clock, settings,
                                                               effects):
    job_id = _enqueue(factory, clock, "test.flaky", {"key": "f", "fail": 3})
    drain(factory, clock, settings)
    job = _job(factory, job_id)
    assert (job.state, job.attempts, job.last_error) == ("queued", 1, "RuntimeError: boom 1")
    wait = job.run_at - clock.now()
    assert timedelta(seconds=2.5) <= wait <= timedelta(seconds=5)
    assert _effects(factory, "f") == 0  # the failed attempt's writes were rolled back
    assert drain(factory, clock, settings) == 0  # not before its backoff

    clock.advance(timedelta(seconds=5))
    drain(factory, clock, settings)
    job = _job(factory, job_id)
    assert (job.state, job.attempts) == ("queued", 2)
    assert timedelta(seconds=5) <= job.run_at - clock.now() <= timedelta(seconds=10)

    clock.advance(timedelta(seconds=10))
    drain(factory, clock, settings)
    job = _job(factory, job_id)  # max_attempts 3: dead
    assert (job.state, job.attempts, job.last_error) == ("dead", 3, "RuntimeError: boom 3")
    assert job.finished_at == clock.now()
    clock.advance(timedelta(days=1))
    assert drain(factory, clock, settings) == 0

    with write_session(factory) as s:
        assert queue.list_jobs(s, state="dead")[0].id == job_id
        queue.retry(s, job_id, clock.now())
    job = _job(factory, job_id)
    assert (job.state, job.attempts, job.finished_at) == ("queued", 0, None)
    drain(factory, clock, settings)  # the fourth call succeeds
    assert _job(factory, job_id).state == "done"
    assert _effects(factory, "f") == 1


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempts in range(1, 40):
        full = min(timedelta(seconds=5) * 2 ** (attempts - 1), timedelta(hours=1))
        for _ in range(20):
            assert full / 2 <= queue.backoff(attempts) <= full
    assert queue.backoff(11) >= timedelta(minutes=30)


def test_retry_refuses_what_is_not_dead(factory, clock, effects):
    job_id = _enqueue(factory, clock, "test.record", {"key": "x"}, key="same")
    with write_session(factory) as s, pytest.raises(Conflict, match="only dead jobs"):
        queue.retry(s, job_id, clock.now())
    with write_session(factory) as s, pytest.raises(NotFound):
        queue.retry(s, 999_999, clock.now())
    # A dead job whose key is taken again by a newer queued job stays dead.
    with write_session(factory) as s:
        s.execute(update(Job).where(Job.id == job_id).values(state="dead"))
        newer = queue.enqueue(s, "test.record", {"key": "y"}, key="same", now=clock.now())
        assert newer is not None
    with write_session(factory) as s, pytest.raises(Conflict, match="same key"):
        queue.retry(s, job_id, clock.now())
    with write_session(factory) as s:
        assert queue.retry_all_dead(s, clock.now()) == 0


def test_retry_all_dead(factory, clock, settings, effects):
    ids = [_enqueue(factory, clock, "test.flaky", {"key": f"d{i}", "fail": 3}) for i in range(3)]
    for _ in range(3):
        drain(factory, clock, settings)
        clock.advance(timedelta(hours=1))
    with factory() as s:
        assert queue.stats(s, clock.now())["states"]["dead"] == 3
    with write_session(factory) as s:
        assert queue.retry_all_dead(s, clock.now(), kind="test.flaky") == 3
    drain(factory, clock, settings)
    assert all(_job(factory, i).state == "done" for i in ids)


def test_an_unknown_kind_fails_with_a_clear_error(factory, clock, settings):
    job_id = _enqueue(factory, clock, "nobody.handles.this", {})
    drain(factory, clock, settings)
    job = _job(factory, job_id)
    assert job.state == "queued"
    assert "no handler is registered for job kind 'nobody.handles.this'" in job.last_error


def test_an_expired_lease_is_claimed_again_and_the_old_holder_cannot_complete(
        factory, clock, settings, effects):
    job_id = _enqueue(factory, clock, "test.record", {"key": "lease"})
    [held] = _claim(factory, clock, "worker-a")
    assert (held.id, held.attempts) == (job_id, 1)
    assert _claim(factory, clock, "worker-b") == []  # leased
    clock.advance(LEASE + timedelta(seconds=1))
    [stolen] = _claim(factory, clock, "worker-b")
    assert (stolen.id, stolen.attempts, stolen.owner) == (job_id, 2, "worker-b")

    reg = registry.load_all()
    # Worker A wakes up and runs its job: its work is rolled back, nothing completes.
    assert run_job(factory, clock, settings, reg, held) == "lease_lost"
    assert _effects(factory, "lease") == 0
    job = _job(factory, job_id)
    assert (job.state, job.lease_owner) == ("running", "worker-b")
    # A's failure report is refused too.
    with write_session(factory) as s:
        assert queue.fail(s, held, "late", clock.now()) is None
    assert run_job(factory, clock, settings, reg, stolen) == "done"
    assert _effects(factory, "lease") == 1
    assert handlers.EXECUTIONS["lease"] == 2  # at least once; committed once


def test_a_heartbeat_keeps_the_lease(factory, clock, effects):
    _enqueue(factory, clock, "test.record", {"key": "hb"})
    [held] = _claim(factory, clock, "worker-a")
    clock.advance(LEASE - timedelta(seconds=5))
    with write_session(factory) as s:
        assert queue.heartbeat(s, "worker-a", clock.now(), LEASE) == 1
    clock.advance(timedelta(seconds=10))
    assert _claim(factory, clock, "worker-b") == []
    with write_session(factory) as s:
        queue.complete(s, held, clock.now())


def test_a_job_whose_worker_died_on_its_last_attempt_is_dead(factory, clock, effects):
    job_id = _enqueue(factory, clock, "test.record", {"key": "x"}, max_attempts=1)
    _claim(factory, clock, "worker-a")
    clock.advance(LEASE * 2)
    assert _claim(factory, clock, "worker-b") == []
    job = _job(factory, job_id)
    assert job.state == "dead"
    assert "lease expired" in job.last_error


def test_released_jobs_go_back_without_counting_an_attempt(factory, clock, effects):
    job_id = _enqueue(factory, clock, "test.record", {"key": "r"})
    held = _claim(factory, clock, "worker-a")
    with write_session(factory) as s:
        assert queue.release(s, held, clock.now()) == 1
    job = _job(factory, job_id)
    assert (job.state, job.attempts, job.lease_owner) == ("queued", 0, None)


def test_claim_takes_the_oldest_due_jobs_first(factory, clock, effects):
    ids = [_enqueue(factory, clock, "test.record", {"key": str(i)},
                    run_at=clock.now() - timedelta(minutes=i)) for i in range(5)]
    got = _claim(factory, clock, "w", limit=3)
    assert sorted(j.id for j in got) == sorted(ids[2:])


# Periodic jobs ------------------------------------------------------------------------------


@pytest.fixture
def tick(kinds):
    calls = []
    registry.periodic("test.tick", timedelta(hours=1))(lambda ctx, payload: calls.append(payload))
    yield calls
    registry.REGISTRY.jobs.pop("test.tick", None)
    registry.REGISTRY.periodic.pop("test.tick", None)


def test_a_periodic_job_runs_every_period_and_a_long_gap_gives_one_run(
        factory, clock, settings, tick):
    drain(factory, clock, settings)
    assert tick == [{"due": clock.now().isoformat()}]
    drain(factory, clock, settings)
    clock.advance(timedelta(minutes=59))
    drain(factory, clock, settings)
    assert len(tick) == 1
    clock.advance(timedelta(minutes=1))
    drain(factory, clock, settings)
    assert len(tick) == 2
    clock.advance(timedelta(days=3))  # no worker ran for 72 periods
    drain(factory, clock, settings)
    drain(factory, clock, settings)
    assert len(tick) == 3
    with factory() as s:
        schedule = s.get(JobSchedule, "test.tick")
        assert schedule.next_run_at == clock.now() + timedelta(hours=1)
        assert schedule.last_run_at == clock.now()


def test_a_periodic_job_still_queued_is_not_queued_twice(factory, clock, settings, tick):
    worker = Worker(factory, clock, settings)
    from ordertrail.jobs.worker import schedule_periodic

    assert schedule_periodic(factory, clock, worker.reg) == 1
    clock.advance(timedelta(hours=5))
    assert schedule_periodic(factory, clock, worker.reg) == 1  # schedule moves, no new job
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)
                        .where(Job.kind == "test.tick")) == 1


# Outbox consumers -----------------------------------------------------------------------------


@pytest.fixture
def consumers():
    seen: dict[str, list[Event]] = {"a": [], "b": [], "c": []}
    registry.consumer("test.a", "thing.made")(lambda ctx, ev: seen["a"].append(ev))
    registry.consumer("test.b", "thing.*")(lambda ctx, ev: seen["b"].append(ev))

    def fussy(ctx, ev):
        seen["c"].append(ev)
        raise RuntimeError("not today")

    registry.consumer("test.c", "thing.broken", max_attempts=2)(fussy)
    yield seen
    for name in ("test.a", "test.b", "test.c"):
        registry.REGISTRY.consumers.pop(name, None)


def test_each_event_goes_to_each_consumer_that_wants_it(factory, clock, settings, consumers):
    with write_session(factory) as s:
        emit(s, "thing.made", "thing", "T1", {"n": 1}, clock.now())
        emit(s, "thing.moved", "thing", "T1", {"n": 2}, clock.now())
        emit(s, "other.event", "other", "O1", {}, clock.now())
    drain(factory, clock, settings)
    assert [(e.name, e.payload) for e in consumers["a"]] == [("thing.made", {"n": 1})]
    assert [e.name for e in consumers["b"]] == ["thing.made", "thing.moved"]
    event = consumers["a"][0]
    assert (event.aggregate, event.aggregate_id, event.created_at) == ("thing", "T1",
                                                                        clock.now())
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent)
                        .where(OutboxEvent.processed_at.is_(None))) == 0
        jobs = s.scalars(select(Job).where(Job.kind == registry.CONSUMER_KIND)
                         .order_by(Job.id)).all()
    assert [(j.key, j.state) for j in jobs] == [
        (f"consume:test.a:{event.id}", "done"), (f"consume:test.b:{event.id}", "done"),
        (f"consume:test.b:{event.id + 1}", "done")]


def test_a_failing_consumer_retries_alone_and_then_is_dead(factory, clock, settings,
                                                           consumers):
    with write_session(factory) as s:
        emit(s, "thing.broken", "thing", "T2", {}, clock.now())
    drain(factory, clock, settings)
    clock.advance(timedelta(hours=1))
    drain(factory, clock, settings)
    assert len(consumers["b"]) == 1  # the other consumer ran once
    assert len(consumers["c"]) == 2
    with factory() as s:
        dead = queue.list_jobs(s, state="dead")
    assert [(j.payload["consumer"], j.last_error) for j in dead] == [
        ("test.c", "RuntimeError: not today")]


def test_dispatch_skips_a_pair_whose_job_is_already_queued(factory, clock, settings,
                                                           consumers):
    with write_session(factory) as s:
        emit(s, "thing.made", "thing", "T3", {}, clock.now())
        event_id = s.scalar(select(func.max(OutboxEvent.id)))
        queue.enqueue(s, registry.CONSUMER_KIND, {"consumer": "test.a", "event_id": event_id},
                      key=f"consume:test.a:{event_id}", now=clock.now())
    drain(factory, clock, settings)
    assert len(consumers["a"]) == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Job)
                        .where(Job.key == f"consume:test.a:{event_id}")) == 1


def test_stats_count_jobs_by_state_and_kind(factory, clock, settings, effects):
    _enqueue(factory, clock, "test.record", {"key": "s1"})
    _enqueue(factory, clock, "test.record", {"key": "s2"}, run_at=clock.now() + LEASE)
    with write_session(factory) as s:
        emit(s, "thing.made", "thing", "T4", {}, clock.now() - timedelta(seconds=30))
    with factory() as s:
        stats = queue.stats(s, clock.now())
    assert stats["states"] == {"queued": 2, "running": 0, "done": 0, "dead": 0}
    assert stats["kinds"] == {"test.record": {"queued": 2}}
    assert (stats["due"], stats["outbox_pending"], stats["outbox_lag_seconds"]) == (1, 1, 30.0)


def test_jobs_committed_together_keep_their_own_outcomes(factory, clock, settings, effects):
    from ordertrail.jobs.worker import run_batch

    ids = [_enqueue(factory, clock, "test.record", {"key": "b1"}),
           _enqueue(factory, clock, "test.flaky", {"key": "b2", "fail": 1}),
           _enqueue(factory, clock, "test.record", {"key": "b3"})]
    held = _claim(factory, clock, "w", limit=3)
    assert run_batch(factory, clock, settings, registry.load_all(), held, budget=60) == 3
    assert [_job(factory, i).state for i in ids] == ["done", "queued", "done"]
    assert [_effects(factory, k) for k in ("b1", "b2", "b3")] == [1, 0, 1]


def test_done_jobs_are_pruned_after_a_week_and_dead_ones_kept(factory, clock, settings,
                                                              effects):
    from ordertrail.jobs.worker import prune

    registry.periodic("jobs.prune", timedelta(minutes=10))(prune)
    done = _enqueue(factory, clock, "test.record", {"key": "old"})
    dead = _enqueue(factory, clock, "test.record", {"key": "dead"}, max_attempts=1)
    drain(factory, clock, settings)  # the prune job runs too: nothing is old yet
    with write_session(factory) as s:
        s.execute(update(Job).where(Job.id == dead).values(state="dead"))
    clock.advance(timedelta(days=6))
    drain(factory, clock, settings)
    assert _job(factory, done).state == "done"
    clock.advance(timedelta(days=1, minutes=2))
    drain(factory, clock, settings)
    with factory() as s:
        assert s.get(Job, done) is None
        assert s.get(Job, dead).state == "dead"
