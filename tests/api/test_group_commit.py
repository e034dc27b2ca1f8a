"""Group commit: changes that share a transaction still get their own results and refusals,
and a failed change never leaves anything behind or takes the others down with it."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.api.commits import GroupCommitter, Job
from ordertrail.errors import Conflict
from ordertrail.models import OrderNumberCounter

TABLE = OrderNumberCounter.__table__


def _add(scope: str, fail: BaseException | None = None):
    def job(session: Session) -> str:
        session.execute(insert(TABLE), {"scope": scope, "value": 1})
        if fail is not None:
            raise fail
        return f"added {scope}"

    return job


def _run(committer: GroupCommitter, fns) -> list[Job]:
    """One group, as the writer thread runs it (retries included)."""
    jobs = [Job(fn) for fn in fns]
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


def test_one_group_many_answers(committing: sessionmaker[Session]):
    committer = GroupCommitter(committing)
    jobs = _run(committer, [
        _add("a"),
        _add("refused", Conflict("no", code="nope")),  # a domain refusal after a write
        _add("a"),  # a database error: retried alone, then handed to its caller
        _add("d"),
    ])
    assert jobs[0].future.result() == "added a"
    with pytest.raises(Conflict):
        jobs[1].future.result()
    with pytest.raises(IntegrityError):
        jobs[2].future.result()
    assert jobs[3].future.result() == "added d"
    assert _scopes(committing) == ["a", "d"]


def test_a_group_without_failures_commits_everything(committing: sessionmaker[Session]):
    jobs = _run(GroupCommitter(committing), [_add(s) for s in "xyz"])
    assert [j.future.result() for j in jobs] == ["added x", "added y", "added z"]
    assert _scopes(committing) == ["x", "y", "z"]


def test_a_caller_that_has_gone_is_skipped(committing: sessionmaker[Session]):
    first, gone = Job(_add("p")), Job(_add("q"))
    gone.future.cancel()
    GroupCommitter(committing)._run_group([first, gone], [])
    assert first.future.result() == "added p"
    assert _scopes(committing) == ["p"]


def test_jobs_submitted_from_many_threads_all_commit(committing: sessionmaker[Session]):
    committer = GroupCommitter(committing)
    futures = [committer.submit(_add(f"s{i:03d}")) for i in range(100)]
    assert [f.result(timeout=30) for f in futures] == [f"added s{i:03d}" for i in range(100)]
    assert len(_scopes(committing)) == 100
