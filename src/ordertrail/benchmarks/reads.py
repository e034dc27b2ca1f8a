"""Figure 3: server time of ``GET /api/v1/orders/{order_no}`` and of a stage-filtered page.

Both are measured with many orders stored (see ``dataset``), one request at a time (so the
figure is the server's own time, not queueing), from the ``Server-Timing: app;dur=<ms>``
header. Baseline: the p99 server time of ``GET /healthz`` of the same server in the same run.
``GET /api/v1/me`` (authenticated, no query: the fixed cost of any API call) is reported too.
The SQL that each request runs is captured in-process from the same service and repository
functions and explained (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DBAPIError

from ordertrail.benchmarks.common import (
    Figure,
    latency_summary,
    log,
    percentile,
    serve,
    user_with_key,
)
from ordertrail.benchmarks.loadgen import Fixed, LoadResult, http_request, run_load
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import make_engine, make_sessionmaker
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import SystemClock
from ordertrail.models import Order
from ordertrail.order import read, service
from ordertrail.order import repository as repo
from ordertrail.order.schemas import OrderPage

TARGET_MS = 10.0
PAGES_PER_STAGE = 3  # a first page, then follow next_cursor twice
LIMIT = 50


@dataclass
class ReadSizes:
    warmup: float
    duration: float
    rounds: int
    in_process: int  # calls of each read timed without HTTP


@dataclass
class GetWorker:
    numbers: list[str]
    headers: dict[str, str]
    turn: int = 0

    def request(self) -> bytes:
        self.turn += 1
        return http_request("GET", f"/api/v1/orders/{self.numbers[self.turn % len(self.numbers)]}",
                            self.headers)

    def response(self, status: int, body: bytes) -> None:
        pass


@dataclass
class ListWorker:
    """Pages through one stage at a time: the first page, then ``next_cursor`` twice."""

    stages: list[str]
    headers: dict[str, str]
    turn: int = 0
    page: int = 0
    cursor: str | None = None
    items: list[int] = field(default_factory=list)

    def request(self) -> bytes:
        stage = self.stages[self.turn % len(self.stages)]
        path = f"/api/v1/orders?stage={stage}&limit={LIMIT}"
        if self.cursor:
            path += f"&cursor={self.cursor}"
        return http_request("GET", path, self.headers)

    def response(self, status: int, body: bytes) -> None:
        page = json.loads(body) if status == 200 else {}
        self.items.append(len(page.get("items", [])))
        self.cursor = page.get("next_cursor")
        self.page += 1
        if self.page >= PAGES_PER_STAGE or not self.cursor:
            self.turn, self.page, self.cursor = self.turn + 1, 0, None


@contextmanager
def _captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def hook(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
             _many: bool) -> None:
        if not re.match(r"\s*(BEGIN|PRAGMA|COMMIT|ROLLBACK)", statement, re.I):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def _explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    sqlite = engine.dialect.name == "sqlite"
    out = []
    with engine.connect() as conn:
        for sql, params in statements:
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            rows = conn.exec_driver_sql(prefix + sql, params).fetchall()
            plan = [str(r[3]) if sqlite else str(r[0]) for r in rows]
            full_scans = [p for p in plan if (re.search(r"\bSCAN \w+$", p.strip()) if sqlite
                                              else "Seq Scan" in p)]
            out.append({"sql": " ".join(sql.split()), "plan": plan,
                        "uses_index": not full_scans})
        conn.rollback()
    return out


@dataclass
class Sample:
    numbers: list[str]  # random orders across the whole table
    stages: list[str]  # every stage that has orders
    biggest: str  # the stage with most orders
    smallest: str  # the stage with fewest orders
    approval: str | None  # an order awaiting approval, if any


def _get(ctx: Ctx, order_no: str) -> str:
    return read.order_read(ctx, service.get_order(ctx, order_no)).model_dump_json()


def _page(ctx: Ctx, stage: str, cursor: str | None = None) -> str | None:
    rows, next_cursor = repo.list_orders(ctx.session, repo.OrderFilter(stage=[stage]),
                                         "-created_at", cursor, LIMIT)
    OrderPage(items=[read.order_summary(o) for o in rows],
              next_cursor=next_cursor).model_dump_json()
    return next_cursor


def plans(url: str, settings: Settings, actor: Actor,
          sample: Sample) -> dict[str, list[dict[str, Any]]]:
    """The SQL that GET order and a stage page run (captured from the same service and
    repository functions as the endpoints), each with its query plan."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        ctx = Ctx(session=session, actor=actor, clock=SystemClock(), settings=settings)
        cursor = _page(ctx, sample.biggest)
    cases: dict[str, Callable[[Ctx], Any]] = {
        "get_order": lambda ctx: _get(ctx, sample.numbers[0]),
        "list_by_stage": lambda ctx: _page(ctx, sample.biggest),
        "list_by_stage_next_page": lambda ctx: _page(ctx, sample.biggest, cursor),
        "list_by_stage_smallest": lambda ctx: _page(ctx, sample.smallest),
    }
    if sample.approval is not None:
        approval = sample.approval
        cases["get_order_in_approval"] = lambda ctx: _get(ctx, approval)
    try:
        result = {}
        for name, call in cases.items():
            with factory() as session:  # the first call fills the flow cache, as in a server
                call(Ctx(session=session, actor=actor, clock=SystemClock(), settings=settings))
            with factory() as session, _captured(engine) as seen:
                call(Ctx(session=session, actor=actor, clock=SystemClock(), settings=settings))
            result[name] = _explain(engine, seen)
        return result
    finally:
        engine.dispose()


def in_process(url: str, settings: Settings, actor: Actor, sample: Sample,
               count: int) -> dict[str, dict[str, float]]:
    """The same work without HTTP: one session per call, as a request has, timed in this
    process. The difference to the server time is the web framework's share."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    times: dict[str, list[float]] = {"get": [], "list": []}
    try:
        for i in range(count):
            for name in ("get", "list"):
                with factory() as session:
                    ctx = Ctx(session=session, actor=actor, clock=SystemClock(),
                              settings=settings)
                    t0 = time.perf_counter()
                    if name == "get":
                        _get(ctx, sample.numbers[i % len(sample.numbers)])
                    else:
                        _page(ctx, sample.stages[i % len(sample.stages)])
                    times[name].append((time.perf_counter() - t0) * 1000)
        return {name: latency_summary(ms) for name, ms in times.items()}
    finally:
        engine.dispose()


def warm_cache(engine: Engine) -> dict[str, Any]:
    """Read the dataset into the OS page cache, as a long-running server would have it.

    Right after a bulk load (or a reboot) the pages are on disk only, and random lookups then
    measure the disk (seen here: p99 over 30 ms for a single-row SQLite read), not ordertrail.
    SQLite: the database file is read sequentially. PostgreSQL: ``pg_prewarm(rel, 'read')`` for
    the order tables and their indexes (the extension is created in the dataset's schema when
    the database does not have it), or full scans if the extension is not available.
    """
    t0 = time.perf_counter()
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        size = 0
        for path in (Path(database), Path(f"{database}-wal")):
            if path.exists():
                with path.open("rb") as f:
                    while chunk := f.read(1 << 24):
                        size += len(chunk)
        return {"method": "sequential read of the database file", "mib": size >> 20,
                "seconds": round(time.perf_counter() - t0, 1)}
    tables = ("orders", "order_lines", "stage_visits")
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                                   "ON n.oid = e.extnamespace WHERE e.extname = 'pg_prewarm'")
                              ).scalar()
        available = conn.execute(text("SELECT 1 FROM pg_available_extensions "
                                      "WHERE name = 'pg_prewarm'")).scalar()
        if schema is None and available:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            try:
                conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA {schema}"))
                conn.commit()
            except DBAPIError:  # not allowed for this role: fall back to full scans
                conn.rollback()
                schema = None
        if schema is None:
            for table in tables:
                conn.execute(text(f"SELECT count(*) FROM {table}"))
            method = "full scans (pg_prewarm is not available)"
        else:
            rels = [r[0] for table in tables for r in conn.execute(text(
                "SELECT CAST(CAST(:t AS regclass) AS text) UNION ALL SELECT "
                "CAST(indexrelid::regclass AS text) FROM pg_index "
                "WHERE indrelid = CAST(:t AS regclass)"), {"t": table})]
            for rel in rels:
                conn.execute(text(f"SELECT {schema}.pg_prewarm(:r, 'read')"), {"r": rel})
            method = f"pg_prewarm(rel, 'read') of {len(rels)} tables and indexes"
        conn.rollback()
    return {"method": method, "seconds": round(time.perf_counter() - t0, 1)}


def _samples(engine: Engine, count: int) -> Sample:
    rng = random.Random(7)
    with engine.connect() as conn:
        top = conn.execute(select(Order.id).order_by(Order.id.desc()).limit(1)).scalar() or 0
        ids = sorted({rng.randint(1, top) for _ in range(min(count, top))})
        numbers = list(conn.execute(select(Order.order_no).where(Order.id.in_(ids))).scalars())
        counts = conn.execute(text("SELECT stage, count(*) FROM orders GROUP BY stage")).all()
        approval = conn.execute(select(Order.order_no).where(
            Order.stage == "credit_approval").limit(1)).scalar()
    rng.shuffle(numbers)
    return Sample(numbers=numbers, stages=sorted(s for s, _n in counts),
                  biggest=max(counts, key=lambda r: r[1])[0],
                  smallest=min(counts, key=lambda r: r[1])[0], approval=approval)


def measure(engine: Engine, url: str, database: str, settings: Settings, stored: int,
            sizes: ReadSizes, workdir: Path, load_info: dict[str, Any],
            progress: Callable[[str], None] = log) -> list[Figure]:
    sample = _samples(engine, 5000)
    actor, key = user_with_key(engine, "bench_reader", ["viewer"])
    headers = {"Authorization": f"Bearer {key}"}
    explained = plans(url, settings, actor, sample)
    warmed = warm_cache(engine)
    progress(f"{database}: page cache warmed in {warmed['seconds']} s ({warmed['method']})")
    service_ms = in_process(url, settings, actor, sample, sizes.in_process)
    runs: dict[str, list[LoadResult]] = {"healthz": [], "me": [], "get": [], "list": []}
    get_worker = GetWorker(sample.numbers, headers)
    list_worker = ListWorker(sample.stages, headers)
    with serve(url, workdir, f"{database}-reads") as server:
        for r in range(sizes.rounds):
            for name, worker in (("healthz", Fixed(http_request("GET", "/healthz"))),
                                 ("me", Fixed(http_request("GET", "/api/v1/me", headers))),
                                 ("get", get_worker), ("list", list_worker)):
                res = run_load(server.port, [worker], duration=sizes.duration,
                               warmup=sizes.warmup, server_pid=server.pid)
                runs[name].append(res)
                progress(f"{database}: reads round {r + 1} {name}: {res.rate:,.0f}/s, p99 "
                         f"{percentile(res.server_ms, 99):.2f} ms server time")
    ms = {name: [x for res in results for x in res.server_ms] for name, results in runs.items()}
    base = percentile(ms["healthz"], 99)
    common = {"orders_stored": stored, "concurrency": 1, "dataset": load_info,
              "cache_warmup": warmed,
              "healthz_ms": latency_summary(ms["healthz"]), "me_ms": latency_summary(ms["me"])}
    figures = []
    for name, key_, what, plan_key in (
            ("get_order_p99_server_ms", "get", "GET /api/v1/orders/{order_no}, random orders",
             "get_order"),
            ("list_orders_by_stage_p99_server_ms", "list",
             f"GET /api/v1/orders?stage=S&limit={LIMIT}, every stage, first page then "
             f"next_cursor x{PAGES_PER_STAGE - 1}", "list_by_stage")):
        non_2xx = sum(res.non_2xx for res in runs[key_])
        value = percentile(ms[key_], 99)
        explains = {k: v for k, v in explained.items() if k.startswith(plan_key)}
        indexed = all(p["uses_index"] for v in explains.values() for p in v)
        detail = {**common, "request": what, "latency_ms": latency_summary(ms[key_]),
                  "in_process_ms": service_ms[key_],
                  "non_2xx": non_2xx, "statements": {k: len(v) for k, v in explains.items()},
                  "indexes_used": indexed, "plans": explains}
        if key_ == "list":
            detail["stages"] = len(sample.stages)
            detail["mean_items"] = round(sum(list_worker.items) / max(1, len(list_worker.items)),
                                         1)
        figures.append(Figure(
            name=name, database=database, value=value, unit="ms", baseline=base,
            baseline_of="p99 server time of GET /healthz, same server and client",
            target=f"< {TARGET_MS:g} ms p99 server time with {stored:,} orders",
            ok=value < TARGET_MS and non_2xx == 0 and indexed, detail=detail))
    return figures
