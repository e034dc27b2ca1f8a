"""Group commit: one writer thread runs the API's changes, many per database transaction.

Each change (a job) runs in its own session; a group runs first without savepoints and, if
one of its changes fails, again with each change in its own savepoint, so a refused or failed
change is rolled back alone and never touches the others. The transaction commits once for
all of them, and every caller gets its answer only after that commit. A job that fails with
anything other than a domain error (a lost row-lock race, a database error) is run again
alone, in a transaction of its own, so it meets exactly what it would have met without
grouping.

Why: on SQLite only one transaction writes at a time anyway, and a dozen request threads
queuing for that lock spend their time handing the GIL and the lock around; on PostgreSQL
each commit waits for its WAL flush. One thread that drains the queue pays both once per
group. The queue is drained greedily, without waiting for more work: under no load a job is
a group of one, under load the groups grow by themselves.

Batched jobs (``submit_batched``): a job can instead be an *item* for a merge function, and
the items of one group with the same key share one call, ``merge(session, items)``, that
returns one result per item. Carrier pushes use it: the pushes of a group are ingested with
one ``ingest()`` call, which costs little more than one push alone. The merged call runs
where its first job stands in the group (jobs of one group were all submitted before any was
answered, so any order is one they could have run in). If it fails, its items run again one
by one, each in its own savepoint (and, failing with anything but a domain error, alone in a
transaction of its own), so one bad item never fails the others.

Callers on an event loop use ``run`` / ``run_batched``: their answers reach each loop in one
thread-safe call per group instead of a thread-safe future per job.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.db import WRITE, write_lock
from ordertrail.errors import OrdertrailError

MAX_GROUP = 64  # jobs per transaction
IDLE_SECONDS = 5.0  # the writer thread ends after this long without work (restarted on demand)


Merge = Callable[[Session, list[Any]], Sequence[Any]]


@dataclass(eq=False)
class Job:
    """A change: ``fn(session)`` returns what the caller gets (once the group has committed).

    A batched job has no ``fn`` but a ``key``, an ``item`` and a ``merge`` function: the
    jobs of a group with the same key run as one ``merge(session, items)`` call, which returns
    one result per item, in order (jobs with the same key must have interchangeable merge
    functions: the first one's is called).
    """

    fn: Callable[[Session], Any] | None = None
    future: concurrent.futures.Future[Any] | None = field(
        default_factory=concurrent.futures.Future)
    started: bool = False
    key: Hashable | None = None
    item: Any = None
    merge: Merge | None = None
    waiter: asyncio.Future[Any] | None = None  # instead of ``future``: a caller on a loop
    answered: bool = False


class _Retry(Exception):
    """The job must run again alone."""


class _Careful(Exception):
    """A change of an optimistic group failed: the group runs again with savepoints."""


class GroupCommitter:
    """Runs jobs on writer threads, grouped into transactions (see the module docstring).

    ``writers`` threads take groups from one queue: one for SQLite (one writer at a time
    anyway), a few for PostgreSQL, where a group spends most of its time waiting for the
    server and groups on other connections can run meanwhile.
    """

    def __init__(self, factory: sessionmaker[Session], writers: int = 1,
                 max_group: int = MAX_GROUP, linger: float = 0.0) -> None:
        self.factory, self.writers, self.max_group = factory, writers, max_group
        # Seconds a writer waits after a group's first job for more to join it (0: none).
        self.linger = linger
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._live = 0

    def submit(self, fn: Callable[[Session], Any]) -> concurrent.futures.Future[Any]:
        """Queue a change; the future holds its result or exception after the commit."""
        job = Job(fn)
        self._put(job)
        return job.future  # type: ignore[return-value]

    def submit_batched(self, key: Hashable, item: Any,
                       merge: Merge) -> concurrent.futures.Future[Any]:
        """Queue an item that shares one ``merge(session, items)`` call with the other items
        of its key in the same group; the future holds its result after the commit."""
        job = Job(None, key=key, item=item, merge=merge)
        self._put(job)
        return job.future  # type: ignore[return-value]

    async def run(self, fn: Callable[[Session], Any]) -> Any:
        """``submit`` for a caller on an event loop: the result once committed."""
        waiter = asyncio.get_running_loop().create_future()
        self._put(Job(fn, None, waiter=waiter))
        return await waiter

    async def run_batched(self, key: Hashable, item: Any, merge: Merge) -> Any:
        """``submit_batched`` for a caller on an event loop: the result once committed."""
        waiter = asyncio.get_running_loop().create_future()
        self._put(Job(None, None, key=key, item=item, merge=merge, waiter=waiter))
        return await waiter

    def _put(self, job: Job) -> None:
        self._queue.put(job)
        if self._live < self.writers:
            with self._guard:
                if self._live < self.writers:
                    self._live += 1
                    threading.Thread(target=self._loop, name="ordertrail-writer",
                                     daemon=True).start()

    # The writer threads -------------------------------------------------------------------

    def _loop(self) -> None:
        retries: list[Job] = []
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._guard:
                    if self._queue.empty():
                        self._live -= 1
                        return
                continue
            group = [first]
            until = time.monotonic() + self.linger
            while len(group) < self.max_group:
                try:
                    wait = until - time.monotonic()
                    group.append(self._queue.get(timeout=wait) if wait > 0
                                 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._run_group(group, retries)
            while retries:
                again, retries = retries, []
                for job in again:
                    self._run_group([job], retries)

    def _run_group(self, group: list[Job], retries: list[Job]) -> None:
        """Run a group in one transaction (jobs whose caller has gone are left out)."""
        live = [job for job in group if _start(job)]
        if live:
            self._run(live, retries, careful=False)

    def _run(self, group: list[Job], retries: list[Job], careful: bool) -> None:
        """First optimistically, without savepoints: changes rarely fail, and two statements
        per change are saved. If one fails, the transaction is rolled back and the group runs
        again carefully, each change (or merged call) in its own savepoint (nothing was
        committed, so every change meets the same database again); a merged call that fails
        there is split into its items, each in its own savepoint."""
        grouped = len(group) > 1
        optimistic = grouped and not careful
        results: list[tuple[Job, bool, Any]] = []  # (job, ok, result or exception)
        try:
            with _Transaction(self.factory) as conn:
                for unit in _units(group):
                    outcomes = self._run_unit(unit, conn, grouped, optimistic)
                    if not outcomes[0][1]:
                        if optimistic:
                            raise _Careful
                        if len(unit) > 1:  # a merged call failed: its items one by one
                            outcomes = [outcome for job in unit for outcome in
                                        self._run_unit([job], conn, grouped, False)]
                    results.extend(outcomes)
        except _Careful:
            self._run(group, retries, careful=True)
            return
        except BaseException as exc:  # noqa: BLE001 - every waiting caller must get an answer
            pending = [job for job in group if not job.answered]
            if grouped:  # nothing was committed: each job runs again alone
                retries.extend(pending)
            else:
                _answer([(job, False, exc) for job in pending])
            return
        answers: list[tuple[Job, bool, Any]] = []
        for job, ok, result in results:
            if not ok and isinstance(result, _Retry):
                retries.append(job)
            else:
                answers.append((job, ok, result))
        _answer(answers)

    def _run_unit(self, unit: list[Job], conn: Connection, grouped: bool, optimistic: bool,
                  ) -> list[tuple[Job, bool, Any]]:
        """One job, or the jobs of one merged call: all succeed or all fail alike."""
        # Careful: a session of its own in a savepoint. Alone or optimistic: the session may
        # roll back the whole transaction (alone, that is this change only; optimistic, the
        # group then runs again carefully). A connection-bound factory (tests) always gets
        # savepoints: the connection's outer transaction is not ours.
        savepoint = (grouped and not optimistic) or conn is self.factory.kw.get("bind")
        mode = "create_savepoint" if savepoint else "rollback_only"
        with self.factory(bind=conn, join_transaction_mode=mode) as session:
            try:
                first = unit[0]
                if first.merge is None:
                    assert first.fn is not None
                    results: Sequence[Any] = [first.fn(session)]
                else:
                    results = first.merge(session, [job.item for job in unit])
                    if len(results) != len(unit):
                        raise RuntimeError(f"a merge returned {len(results)} results for "
                                           f"{len(unit)} items")
                session.commit()  # flushes; releases the savepoint if there is one
                return [(job, True, result) for job, result in zip(unit, results, strict=True)]
            except OrdertrailError as exc:
                session.rollback()
                return [(job, False, exc) for job in unit]
            except Exception as exc:  # noqa: BLE001 - retried alone, or handed to the caller
                session.rollback()
                failed = _Retry() if grouped else exc
                return [(job, False, failed) for job in unit]


def _start(job: Job) -> bool:
    """Mark the job as running; False when its caller has gone (the future was cancelled)."""
    if job.started:  # a retry: running since its first group
        return not job.answered
    job.started = True
    if job.waiter is not None:
        return not job.waiter.cancelled()
    assert job.future is not None
    return job.future.set_running_or_notify_cancel()


def _answer(answers: list[tuple[Job, bool, Any]]) -> None:
    """Hand each job its result (ok) or exception; the waiters of one event loop in one
    thread-safe call."""
    loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for job, ok, value in answers:
        job.answered = True
        if job.waiter is not None:
            loops.setdefault(job.waiter.get_loop(), []).append((job.waiter, ok, value))
        elif ok:
            job.future.set_result(value)  # type: ignore[union-attr]
        else:
            job.future.set_exception(value)  # type: ignore[union-attr]
    for loop, batch in loops.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_settle, batch)


def _settle(batch: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """On the loop: set the waiters whose callers are still there."""
    for waiter, ok, value in batch:
        if waiter.done():  # cancelled: the caller has gone
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)


def _units(group: list[Job]) -> list[list[Job]]:
    """The group's calls: each plain job alone, batched jobs merged by key (in the place of
    the key's first job)."""
    units: list[list[Job]] = []
    merged: dict[Hashable, list[Job]] = {}
    for job in group:
        if job.merge is None:
            units.append([job])
            continue
        unit = merged.get(job.key)
        if unit is None:
            unit = merged[job.key] = []
            units.append(unit)
        unit.append(job)
    return units


class _Transaction:
    """The group's connection and transaction: BEGIN IMMEDIATE on SQLite, under the process's
    SQLite writer lock; on a connection-bound factory (tests), a savepoint of that connection."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.bind = factory.kw.get("bind")

    def __enter__(self) -> Connection:
        bind = self.bind
        if isinstance(bind, Connection):
            self.lock: Any = nullcontext()
            self.conn, self.own = bind, False
            self.trans: Any = bind.begin_nested()
            return bind
        assert isinstance(bind, Engine)
        self.lock = write_lock(bind)
        self.lock.__enter__()
        try:
            self.conn, self.own = bind.connect(), True
            self.conn.execution_options(**WRITE)
            self.trans = self.conn.begin()
        except BaseException:
            self.lock.__exit__(None, None, None)
            raise
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None and self.trans.is_active:
                self.trans.commit()
            elif self.trans.is_active:
                self.trans.rollback()
        finally:
            try:
                if self.own:
                    self.conn.close()
            finally:
                self.lock.__exit__(None, None, None)
