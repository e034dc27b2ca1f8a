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
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.db import WRITE, write_lock
from ordertrail.errors import OrdertrailError

MAX_GROUP = 64  # jobs per transaction
IDLE_SECONDS = 5.0  # the writer thread ends after this long without work (restarted on demand)


@dataclass(eq=False)
class Job:
    """A change: ``fn(session)`` returns what the caller gets (once the group has committed)."""

    fn: Callable[[Session], Any]
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    started: bool = False


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
                 max_group: int = MAX_GROUP) -> None:
        self.factory, self.writers, self.max_group = factory, writers, max_group
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._live = 0

    def submit(self, fn: Callable[[Session], Any]) -> concurrent.futures.Future[Any]:
        """Queue a change; the future holds its result or exception after the commit."""
        job = Job(fn)
        self._queue.put(job)
        if self._live < self.writers:
            with self._guard:
                if self._live < self.writers:
                    self._live += 1
                    threading.Thread(target=self._loop, name="ordertrail-writer",
                                     daemon=True).start()
        return job.future

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
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._run_group(group, retries)
            while retries:
                again, retries = retries, []
                for job in again:
                    self._run_group([job], retries)

    def _run_group(self, group: list[Job], retries: list[Job], careful: bool = False) -> None:
        """Run a group in one transaction. First optimistically, without savepoints: changes
        rarely fail, and two statements per change are saved. If one fails, the transaction
        is rolled back and the group runs again carefully, each change in its own savepoint
        (nothing was committed, so every change meets the same database again)."""
        grouped = len(group) > 1
        optimistic = grouped and not careful
        results: list[tuple[Job, bool, Any]] = []  # (job, ok, result or exception)
        try:
            with _Transaction(self.factory) as conn:
                for job in group:
                    if not job.started:
                        job.started = True
                        if not job.future.set_running_or_notify_cancel():
                            continue  # the caller has gone
                    outcome = self._run_job(job, conn, grouped, optimistic)
                    if optimistic and not outcome[1]:
                        raise _Careful
                    results.append(outcome)
        except _Careful:
            self._run_group(group, retries, careful=True)
            return
        except BaseException as exc:  # noqa: BLE001 - every waiting caller must get an answer
            pending = [job for job in group if job.started and not job.future.done()]
            if grouped:  # nothing was committed: each job runs again alone
                retries.extend(pending)
            else:
                for job in pending:
                    job.future.set_exception(exc)
            return
        for job, ok, result in results:
            if ok:
                job.future.set_result(result)
            elif isinstance(result, _Retry):
                retries.append(job)
            else:
                job.future.set_exception(result)

    def _run_job(self, job: Job, conn: Connection, grouped: bool, optimistic: bool,
                 ) -> tuple[Job, bool, Any]:
        # Careful: a session of its own in a savepoint. Alone or optimistic: the session may
        # roll back the whole transaction (alone, that is this change only; optimistic, the
        # group then runs again carefully). A connection-bound factory (tests) always gets
        # savepoints: the connection's outer transaction is not ours.
        savepoint = (grouped and not optimistic) or conn is self.factory.kw.get("bind")
        mode = "create_savepoint" if savepoint else "rollback_only"
        with self.factory(bind=conn, join_transaction_mode=mode) as session:
            try:
                result = job.fn(session)
                session.commit()  # flushes; releases the savepoint if there is one
                return job, True, result
            except OrdertrailError as exc:
                session.rollback()
                return job, False, exc
            except Exception as exc:  # noqa: BLE001 - retried alone, or handed to the caller
                session.rollback()
                return job, False, _Retry() if grouped else exc


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
