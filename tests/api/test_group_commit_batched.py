"""Batched jobs of the group commit: items with the same key share one merge call, get one
result each, and a failed merge is retried item by item without failing the others."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.api.commits import GroupCommitter, Job
from ordertrail.db import make_engine, make_sessionmaker
from ordertrail.errors import Conflict
from ordertrail.models import OrderNumberCounter

TABLE = OrderNumberCounter.__table__


class Merge:
    """Inserts every item as a scope in one statement; records the calls it gets."""

    def __init__(self, fail_on: str | None = None, refuse: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on, self.refuse = fail_on, refuse

    def __call__(self, session: Session, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        if self.refuse in items:
            raise Conflict("refused", code="refused")
        session.execute(insert(TABLE), [{"scope": s, "value": 1} for s in items])
        if self.fail_on in items:
            raise RuntimeError("broken item")
        return [f"stored {s}" for s in items]


def _batched(key: str, item: str, merge: Merge) -> Job:
    return Job(None, key=key, item=item, merge=merge)


def _plain(scope: str) -> Job:
    def fn(session: Session) -> str:
        session.execute(insert(TABLE), {"scope": scope, "value": 1})
        return f"added {scope}"

    return Job(fn)


def _run(committer: GroupCommitter, jobs: list[Job]) -> list[Job]:
    """One group, as the writer thread runs it (retries included)."""
    retries: list[Job] = []
    committer._run_group(jobs, retries)
    while retries:
        again, retries = retries, []
        for job in again:
            committer._run_group([job], retries)
    return jobs


def _scopes(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return sorted(session.scalars(select(TABLE.c.scope)))


def test_items_of_one_key_share_one_call_among_plain_jobs(committing):
    a, b = Merge(), Merge()
    jobs = _run(GroupCommitter(committing), [
        _batched("a", "a1", a), _plain("p1"), _batched("b", "b1", b), _batched("a", "a2", a),
        _plain("p2"), _batched("a", "a3", a)])
    assert a.calls == [["a1", "a2", "a3"]] and b.calls == [["b1"]]
    assert [j.future.result() for j in jobs] == [
        "stored a1", "added p1", "stored b1", "stored a2", "added p2", "stored a3"]
    assert _scopes(committing) == ["a1", "a2", "a3", "b1", "p1", "p2"]


def test_a_failed_merge_is_retried_item_by_item(committing):
    merge = Merge(fail_on="bad")
    jobs = _run(GroupCommitter(committing), [
        _batched("k", "x", merge), _batched("k", "bad", merge), _batched("k", "y", merge),
        _plain("p")])
    assert [j.future.result() for j in (jobs[0], jobs[2], jobs[3])] == [
        "stored x", "stored y", "added p"]
    with pytest.raises(RuntimeError, match="broken item"):
        jobs[1].future.result()
    # Optimistic, then careful (merged, in a savepoint), then one by one; the broken item
    # once more alone, in a transaction of its own.
    assert merge.calls[:2] == [["x", "bad", "y"], ["x", "bad", "y"]]
    assert sorted(map(tuple, merge.calls[2:])) == [("bad",), ("bad",), ("x",), ("y",)]
    assert _scopes(committing) == ["p", "x", "y"]


def test_a_refused_item_gets_its_refusal_and_the_others_are_stored(committing):
    merge = Merge(refuse="no")
    jobs = _run(GroupCommitter(committing), [
        _batched("k", "x", merge), _batched("k", "no", merge), _batched("k", "y", merge)])
    assert jobs[0].future.result() == "stored x" and jobs[2].future.result() == "stored y"
    with pytest.raises(Conflict):
        jobs[1].future.result()
    assert _scopes(committing) == ["x", "y"]


def test_a_batched_job_alone_gets_its_database_error(committing):
    _run(GroupCommitter(committing), [_plain("dup")])
    job, = _run(GroupCommitter(committing), [_batched("k", "dup", Merge())])
    with pytest.raises(IntegrityError):
        job.future.result()


def test_a_merge_must_answer_every_item(committing):
    def short(session: Session, items: list[str]) -> list[str]:
        return items[:1]

    jobs = _run(GroupCommitter(committing), [Job(None, key="k", item=i, merge=short)
                                             for i in ("a", "b")])
    # Retried one by one, where one answer is the right count.
    assert [j.future.result() for j in jobs] == ["a", "b"]


def test_a_group_that_cannot_begin_answers_every_caller(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")  # cannot connect
    jobs = [_plain("x"), _batched("k", "y", Merge())]
    _run(GroupCommitter(make_sessionmaker(engine)), jobs)
    for job in jobs:
        with pytest.raises(OperationalError):
            job.future.result(timeout=0)
    engine.dispose()


def test_submitted_items_from_many_threads_all_commit(committing):
    committer = GroupCommitter(committing)
    merge = Merge()
    futures = [committer.submit_batched("k", f"s{i:03d}", merge) for i in range(100)]
    assert [f.result(timeout=30) for f in futures] == [f"stored s{i:03d}" for i in range(100)]
    assert len(_scopes(committing)) == 100
    assert sum(len(c) for c in merge.calls) == 100


def test_callers_on_an_event_loop_get_their_answers(committing):
    committer = GroupCommitter(committing)
    merge = Merge(refuse="no")

    async def main():
        batched = [committer.run_batched("k", f"e{i:02d}", merge) for i in range(30)]
        refused = committer.run_batched("k", "no", merge)
        plain = committer.run(_plain("plain").fn)
        results = await asyncio.gather(*batched, plain, refused, return_exceptions=True)
        return results[:-1], results[-1]

    results, refused = asyncio.run(main())
    assert results == [f"stored e{i:02d}" for i in range(30)] + ["added plain"]
    assert isinstance(refused, Conflict)
    assert len(_scopes(committing)) == 31


def test_a_caller_on_a_loop_that_has_gone_is_skipped(committing):
    merge = Merge()

    async def main():
        loop = asyncio.get_running_loop()
        kept, gone = loop.create_future(), loop.create_future()
        gone.cancel()
        jobs = [Job(None, None, key="k", item=i, merge=merge, waiter=w)
                for i, w in (("kept", kept), ("gone", gone))]
        GroupCommitter(committing)._run_group(jobs, [])
        return await kept

    assert asyncio.run(main()) == "stored kept"
    assert merge.calls == [["kept"]]
    assert _scopes(committing) == ["kept"]


def test_a_lingering_writer_waits_for_a_group_to_gather(committing):
    """With ``linger``, the writer holds a group open after its first job until the group is
    full or the time is up: two items submitted one after the other share one merge call
    (the linger is long, so this does not depend on how fast the second submit is)."""
    for linger, calls in ((30.0, [["x", "y"]]), (0.0, [["x"], ["y"]])):
        merge = Merge()
        committer = GroupCommitter(committing, max_group=2, linger=linger)
        first = committer.submit_batched("k", "x", merge)
        deadline = time.monotonic() + 20
        while not committer._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.001)   # until the writer has taken the first item
        if not linger:
            first.result(timeout=20)   # without a linger the first runs alone
        second = committer.submit_batched("k", "y", merge)
        assert (first.result(timeout=20), second.result(timeout=20)) == ("stored x",
                                                                         "stored y")
        assert merge.calls == calls, linger
        _wipe_scopes(committing)


def _wipe_scopes(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        session.execute(TABLE.delete())
        session.commit()
