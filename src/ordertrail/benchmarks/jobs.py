"""Durable jobs: how fast workers drain a backlog, and that none is completed twice.

Each job's handler inserts one row keyed by the job into a table with a unique key, in the
job's transaction: a job completed twice would fail on the key and show up as a second
attempt. The figure drains ``jobs`` queued jobs with ``workers`` worker processes
(PostgreSQL: FOR UPDATE SKIP LOCKED claims; SQLite: one worker, as ordertrail runs it). The
baseline in the same run is one worker process on PostgreSQL, and on SQLite the same
per-job writes as plain transactions without a queue (the price of the queue itself).

``python -m ordertrail.benchmarks.jobs [--quick] [--jobs N] [--workers N] URL`` prints the
figures as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.benchmarks.common import Figure, host_info, log, prepare
from ordertrail.config import Settings
from ordertrail.db import make_engine, make_sessionmaker, write_session
from ordertrail.jobs import queue, registry
from ordertrail.kit.clock import SystemClock
from ordertrail.models.jobs import Job

QUICK_JOBS = 1000
KIND = "bench.touch"
_META = MetaData()
EFFECTS = Table("bench_job_effects", _META, Column("job_key", String(32), primary_key=True))
COUNTER = Table("bench_job_counter", _META, Column("id", Integer, primary_key=True),
                Column("n", Integer, nullable=False))


def _touch(ctx: Any, payload: dict[str, Any]) -> None:
    ctx.session.execute(insert(EFFECTS).values(job_key=payload["k"]))


def _worker_process(url: str, name: str, ready: Any, go: Any, quota: int) -> None:
    """One worker process: register the bench kind, wait for the start, run jobs until
    none is left (or ``quota`` ran), exit."""
    from ordertrail.jobs.worker import Worker

    registry.job(KIND, max_attempts=3)(_touch)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    worker = Worker(factory, SystemClock(), Settings(database_url=url), worker_id=name)
    ready.release()
    go.wait()
    ran = 0
    while quota <= 0 or ran < quota:
        n = worker.run_jobs(0)  # one claimed batch
        if not n:
            break
        ran += n
    engine.dispose()


def _enqueue(factory: sessionmaker[Session], prefix: str, count: int) -> None:
    now = SystemClock().now()
    for start in range(0, count, 5000):
        with write_session(factory) as session:
            queue.enqueue_many(session, [(KIND, {"k": f"{prefix}{i}"}, None, 3)
                                         for i in range(start, min(start + 5000, count))], now)


def _drain(url: str, workers: int, quota: int = 0) -> float:
    """Seconds for ``workers`` processes to drain what is queued, or for one to run
    ``quota`` jobs (start-up not counted)."""
    ctx = mp.get_context("spawn")
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_worker_process, args=(url, f"bench-{i}", ready, go, quota))
             for i in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=120):
            raise RuntimeError("a bench worker process did not start")
    started = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    if any(p.exitcode for p in procs):
        raise RuntimeError(f"a bench worker failed: {[p.exitcode for p in procs]}")
    return elapsed


def _verify(factory: sessionmaker[Session], count: int) -> dict[str, Any]:
    """Every job done, each with one attempt and exactly one effect row."""
    with factory() as session:
        states = dict(session.execute(select(Job.state, func.count())
                                      .where(Job.kind == KIND).group_by(Job.state)).all())
        attempts = session.scalar(select(func.max(Job.attempts)).where(Job.kind == KIND))
        rows = session.scalar(select(func.count()).select_from(EFFECTS)
                              .where(EFFECTS.c.job_key.like("j%")))
    ok = rows == count and attempts == 1 and states == {"done": count}
    return {"states": states, "max_attempts_used": attempts, "effect_rows": rows,
            "exactly_once": ok}


def _raw_rate(factory: sessionmaker[Session], count: int) -> float:
    """The same writes as plain transactions: insert the row, update a counter, commit."""
    with write_session(factory) as session:
        session.execute(insert(COUNTER).values(id=1, n=0))
    started = time.perf_counter()
    for i in range(count):
        with write_session(factory) as session:
            session.execute(insert(EFFECTS).values(job_key=f"raw{i}"))
            session.execute(text("UPDATE bench_job_counter SET n = n + 1 WHERE id = 1"))
    return count / (time.perf_counter() - started)


def run_jobs(url: str, *, jobs: int = 100_000, workers: int = 4) -> list[Figure]:
    """Drain ``jobs`` queued jobs with ``workers`` processes (one on SQLite); see above."""
    engine = prepare(url)
    kind = engine.dialect.name
    factory = make_sessionmaker(engine)
    _META.drop_all(engine)
    _META.create_all(engine)
    try:
        baseline_n = max(jobs // 10, 200)
        if kind == "sqlite":
            workers = 1
        log(f"jobs/{kind}: queueing {jobs} jobs")
        _enqueue(factory, "j", jobs)
        load: dict[str, float] = {}
        if kind == "sqlite":
            log(f"jobs/sqlite: raw transactions x{baseline_n}")
            baseline = raw = _raw_rate(factory, baseline_n)
            baseline_of = "the same writes as plain transactions, one commit each"
        else:
            # The baseline runs the first jobs of the same backlog: same table, same moment.
            log(f"jobs/{kind}: 1 worker process, {baseline_n} of the jobs")
            load["baseline_loadavg"] = os.getloadavg()[0]
            baseline = baseline_n / _drain(url, 1, quota=baseline_n)
            baseline_of = "one worker process on the same backlog, just before"
        with factory() as session:
            left = session.scalar(select(func.count()).select_from(Job).where(
                Job.kind == KIND, Job.state == "queued")) or 0
        log(f"jobs/{kind}: draining {left} with {workers} worker process(es)")
        load["loadavg"] = os.getloadavg()[0]
        seconds = _drain(url, workers)
        check = _verify(factory, jobs)
        rate = left / seconds
        if kind != "sqlite":
            raw = _raw_rate(factory, baseline_n)
        return [Figure(
            name=f"jobs_drain_{workers}_workers", database=kind, value=rate, unit="jobs/s",
            baseline=baseline, baseline_of=baseline_of,
            target=("every job completed exactly once" + (
                "; several workers drain faster than one" if workers > 1 else "")),
            ok=bool(check["exactly_once"] and (workers == 1 or rate > baseline)),
            detail={"jobs": jobs, "drained": left, "workers": workers,
                    "seconds": round(seconds, 3), "raw_transactions_per_s": round(raw, 1),
                    **{k: round(v, 2) for k, v in load.items()}, **check})]
    finally:
        _META.drop_all(engine)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a scratch database URL (tables are created in it)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_JOBS} jobs")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    for fig in run_jobs(args.url, jobs=QUICK_JOBS if args.quick else args.jobs,
                        workers=args.workers):
        print(json.dumps({**fig.as_json(), "host": host_info()}), flush=True)


if __name__ == "__main__":
    main()
