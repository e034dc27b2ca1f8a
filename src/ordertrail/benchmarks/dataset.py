"""A large, realistic order history loaded with bulk inserts, cached between runs.

The bulk load BYPASSES the order service on purpose (a million orders through the service
would take far longer than the figures it serves): rows of ``orders``, ``order_lines`` and one
current ``stage_visits`` row per order are generated and written with ``executemany`` on SQLite
and ``COPY`` on PostgreSQL, secondary indexes are dropped before and rebuilt after, and the
order number counters are set so that new orders continue the sequences. Timeline rows,
approvals and outbox events are not generated; the read figures do not touch them.

Distribution (seeded, so every load is the same): two years of orders, ids in creation order;
flows retail 60 %, make_to_order 25 %, b2b_credit 15 %; each order has a cycle time drawn
around its flow's typical one, so old orders are finished (completed/closed), about 4 % are
cancelled, and the recent ones sit in every stage of their flow, some of them on hold.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select, text

from ordertrail import migrate
from ordertrail.benchmarks.common import log, prepare, scratch_database, with_search_path
from ordertrail.config import Settings
from ordertrail.db import make_engine
from ordertrail.flow.definition import FlowDef, StageKind, build_flow
from ordertrail.models import FlowVersion, Order, OrderLine, OrderNumberCounter, StageVisit
from ordertrail.order.numbering import split_pattern

DATASET_VERSION = 1
SEED = 20261121
END = datetime(2026, 11, 20, 4, tzinfo=UTC)
SPAN = timedelta(days=730)
CHUNK = 20_000
FLOW_MIX = (("retail", 0.60), ("make_to_order", 0.85), ("b2b_credit", 1.0))
CYCLE_DAYS = {"retail": 4.0, "make_to_order": 35.0, "b2b_credit": 45.0}
PROMISE_DAYS = {"retail": 3, "make_to_order": 30, "b2b_credit": 25}
CHANNELS = {"retail": ("tmall", "jd", "douyin", "web"), "make_to_order": ("sales", "web"),
            "b2b_credit": ("sales",)}
PLACES = (("广东", "深圳"), ("广东", "广州"), ("浙江", "杭州"), ("江苏", "苏州"), ("上海", "上海"),
          ("北京", "北京"), ("四川", "成都"), ("湖北", "武汉"), ("山东", "青岛"), ("福建", "厦门"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明")
ORDER_COLS = [c.name for c in Order.__table__.columns]
LINE_COLS = [c.name for c in OrderLine.__table__.columns]
# The read figures need where each order is and since when; deadline columns stay empty.
VISIT_COLS = ["id", "order_id", "stage", "entered_at", "exited_at", "responsible_role",
              "responsible_user_id", "sla_target", "held_seconds", "exit_reason"]
BULK_TABLES = (Order.__table__, OrderLine.__table__, StageVisit.__table__)


class _Sqlite:
    """Values as ordertrail's column types store them on SQLite."""

    @staticmethod
    def dt(value: datetime | None) -> Any:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if value is not None else None

    @staticmethod
    def scaled(minor: int, scale: int) -> Any:
        return minor  # ExactDecimal keeps integer minor units on SQLite

    @staticmethod
    def js(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)


class _Postgres(_Sqlite):
    @staticmethod
    def dt(value: datetime | None) -> Any:
        return value

    @staticmethod
    def scaled(minor: int, scale: int) -> Any:
        sign, digits = ("-" if minor < 0 else ""), f"{abs(minor):0{scale + 1}d}"
        return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


@dataclass
class _FlowPlan:
    flow: FlowDef
    version_id: int
    path: list[str]  # non-terminal stages in order
    done: str
    cancel_to: str
    cancel_from: list[str]
    hold: set[str]


def _plans(engine: Engine) -> dict[str, _FlowPlan]:
    plans = {}
    with engine.connect() as conn:
        for flow_id, _share in FLOW_MIX:
            row = conn.execute(select(FlowVersion.id, FlowVersion.definition)
                               .where(FlowVersion.flow_id == flow_id)
                               .order_by(FlowVersion.version.desc()).limit(1)).one()
            flow = build_flow(row.definition)
            cancel_to = flow.cancel.to if flow.cancel else "cancelled"
            path = [s.id for s in flow.stages if s.kind != StageKind.TERMINAL]
            done = next(s.id for s in flow.stages
                        if s.kind == StageKind.TERMINAL and s.id != cancel_to)
            plans[flow_id] = _FlowPlan(
                flow=flow, version_id=row.id, path=path, done=done, cancel_to=cancel_to,
                cancel_from=list(flow.cancel.stages or path) if flow.cancel else [],
                hold=set(flow.hold.stages or path) if flow.hold else set())
    return plans


def _rows(count: int, plans: dict[str, _FlowPlan], fmt: type[_Sqlite], settings: Settings,
          counters: dict[str, int]) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
    """Chunks of (orders, lines, visits) rows in column order, ready for the database."""
    rng = random.Random(SEED)
    tz = ZoneInfo(settings.timezone)
    start, step = END - SPAN, SPAN / count
    customers = [(f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{rng.choice(GIVEN)}",
                  f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}", *rng.choice(PLACES))
                 for _ in range(20_000)]
    templates: dict[Any, tuple[str, str]] = {}
    money, js, dt = fmt.scaled, fmt.js, fmt.dt
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    visits: list[tuple[Any, ...]] = []
    line_id = 0
    for oid in range(1, count + 1):
        created = start + step * (oid - 1 + rng.random())
        pick = rng.random()
        flow_id = next(f for f, share in FLOW_MIX if pick <= share)
        plan = plans[flow_id]
        day = created.astimezone(tz).date()
        if day not in templates:
            scope, template, _spec = split_pattern(settings.order_number_pattern, created,
                                                   settings.timezone)
            templates[day] = (scope, template)
        scope, template = templates[day]
        seq = counters.get(scope, 0) + 1
        counters[scope] = seq
        age = (END - created).total_seconds()
        cycle = CYCLE_DAYS[flow_id] * 86400 * rng.lognormvariate(0, 0.35)
        held_at, status = None, "active"
        if plan.cancel_from and rng.random() < 0.04:
            stage, status = plan.cancel_to, "cancelled"
            entered = created + timedelta(seconds=rng.uniform(0, min(age, cycle * 0.3)))
        elif age >= cycle:
            stage, status = plan.done, "completed"
            entered = created + timedelta(seconds=cycle)
        else:
            index = int(age / cycle * len(plan.path))
            stage = plan.path[index]
            entered = created + timedelta(seconds=cycle * index / len(plan.path))
            if stage in plan.hold and rng.random() < 0.03:
                status = "on_hold"
                held_at = entered + (END - entered) * rng.random()
        name, phone, province, city = customers[rng.randrange(len(customers))]
        subtotal = qty_total = 0
        n_lines = rng.randint(1, 3 if flow_id == "retail" else 5)
        for line_no in range(1, n_lines + 1):
            line_id += 1
            sku = rng.randrange(2000)
            if flow_id == "retail":
                qty, price = rng.randint(1, 3) * 1000, rng.randrange(990, 89_900) * 100
            else:
                qty = rng.randint(10, 2000) * 1000
                price = rng.randrange(5_000, 5_000_000)
            amount = (qty * price + 50_000) // 100_000  # 1/1000 x 1/10000 units -> cents
            subtotal += amount
            qty_total += qty
            lines.append((line_id, oid, line_no, f"SKU-{sku:05d}", f"Item {sku}",
                          money(qty, 3), money(price, 4), money(amount, 2)))
        shipping = rng.choice((0, 0, 1000, 1200)) if flow_id == "retail" else 0
        ext_source = ext_ref = None
        channel = rng.choice(CHANNELS[flow_id])
        if flow_id == "retail" and channel != "web":
            ext_source, ext_ref = channel, f"{channel.upper()}{oid:012d}"
        elif flow_id != "retail" and rng.random() < 0.2:
            ext_source, ext_ref = "erp", f"ERP-{oid:09d}"
        roll = rng.random()
        priority = ("normal" if roll < 0.8 else "high" if roll < 0.92 else
                    "low" if roll < 0.97 else "urgent")
        tags = ["vip"] if rng.random() < 0.05 else []
        custom = {"po": f"PO-{oid:08d}"} if flow_id == "b2b_credit" else {}
        promised = created + timedelta(days=PROMISE_DAYS[flow_id])
        updated = held_at or entered
        orders.append((
            oid, template.format(seq=seq), plan.version_id, flow_id, stage, status, dt(entered),
            dt(held_at), name, phone, f"c{oid % 20_000}@example.cn", "CN", province, city,
            f"{city}市 科技路 {oid % 997} 号", "CNY", money(subtotal, 2), money(shipping, 2),
            money(0, 2), money(subtotal + shipping, 2), n_lines, money(qty_total, 3), channel,
            priority, dt(promised), ext_source, ext_ref, js(tags), js(custom), dt(created),
            dt(updated), None, 1))
        sla = plan.flow.stage(stage).sla
        visits.append((oid, oid, stage, dt(entered), None, plan.flow.stage(stage).responsible,
                       None, None if sla is None else str(sla), 0, None))
        if len(orders) >= CHUNK:
            yield orders, lines, visits
            orders, lines, visits = [], [], []
    if orders:
        yield orders, lines, visits


def _drop_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in BULK_TABLES:
            for index in table.indexes:
                conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))


def _create_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in BULK_TABLES:
            for index in table.indexes:
                index.create(conn)


def _load_sqlite(engine: Engine, path: str, count: int, settings: Settings,
                 plans: dict[str, _FlowPlan], counters: dict[str, int]) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")
        con.execute("BEGIN")
        for orders, lines, visits in _rows(count, plans, _Sqlite, settings, counters):
            for table, cols, rows in (("orders", ORDER_COLS, orders),
                                      ("order_lines", LINE_COLS, lines),
                                      ("stage_visits", VISIT_COLS, visits)):
                marks = ", ".join("?" * len(cols))
                con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                                rows)
        con.execute("COMMIT")
    finally:
        con.close()


def _load_postgres(engine: Engine, count: int, settings: Settings, plans: dict[str, _FlowPlan],
                   counters: dict[str, int]) -> None:
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cur:
            for orders, lines, visits in _rows(count, plans, _Postgres, settings, counters):
                for table, cols, rows in (("orders", ORDER_COLS, orders),
                                          ("order_lines", LINE_COLS, lines),
                                          ("stage_visits", VISIT_COLS, visits)):
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            for table in ("orders", "order_lines", "stage_visits"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")
        pg.commit()
    finally:
        raw.close()


def load(engine: Engine, count: int, settings: Settings) -> dict[str, Any]:
    """Bulk-load ``count`` orders into an empty, migrated database."""
    t0 = time.perf_counter()
    plans = _plans(engine)
    counters: dict[str, int] = {}
    _drop_indexes(engine)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        assert database is not None
        _load_sqlite(engine, database, count, settings, plans, counters)
    else:
        _load_postgres(engine, count, settings, plans, counters)
    loaded = time.perf_counter()
    _create_indexes(engine)
    with engine.begin() as conn:
        conn.execute(OrderNumberCounter.__table__.insert(),
                     [{"scope": k, "value": v} for k, v in counters.items()])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("orders", "order_lines", "stage_visits"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
    indexed = time.perf_counter()
    return {"orders": count, "rows_seconds": round(loaded - t0, 1),
            "index_seconds": round(indexed - loaded, 1)}


def _key(count: int) -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    return f"ordertrail-bench v{DATASET_VERSION} orders={count} seed={SEED} head={head}"


@contextmanager
def dataset(kind: str, count: int, settings: Settings, workdir: Path, *, pg_url: str | None,
            cache_dir: Path | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database URL holding ``count`` orders; cached in ``cache_dir`` (or a PG schema)."""
    if cache_dir is None:
        with scratch_database(kind, workdir, pg_url, "reads") as url:
            engine = prepare(url)
            try:
                info = load(engine, count, settings)
            finally:
                engine.dispose()
            yield url, {**info, "cached": False}
        return
    key = _key(count)
    if kind == "sqlite":
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = cache_dir / f"orders-{count}.db"
        marker = Path(f"{path}.ok")
        url = f"sqlite:///{path}"
        if marker.exists() and marker.read_text() == key and path.exists():
            yield url, {"orders": count, "cached": True, "path": str(path)}
            return
        for suffix in ("", "-wal", "-shm", ".ok"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        log(f"sqlite: bulk-loading {count:,} orders into {path} (cached for later runs)")
        engine = prepare(url)
        try:
            info = load(engine, count, settings)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        marker.write_text(key)
        log(f"sqlite: loaded in {info['rows_seconds']} s + indexes {info['index_seconds']} s "
            f"({path.stat().st_size / 2**20:,.0f} MiB)")
        yield url, {**info, "cached": False, "path": str(path)}
        return
    assert pg_url is not None
    schema = f"ot_bench_data_{count}"
    url = with_search_path(pg_url, schema)
    admin = make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        with admin.begin() as conn:
            have = conn.execute(text(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                "WHERE nspname = :s"), {"s": schema}).first()
            fresh = have is None or have[0] != key
            if fresh:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {schema}"))
        if fresh:
            log(f"postgresql: bulk-loading {count:,} orders into schema {schema} (cached)")
            engine = prepare(url)
            try:
                info = load(engine, count, settings)
            finally:
                engine.dispose()
            with admin.begin() as conn:
                conn.execute(text(f"COMMENT ON SCHEMA {schema} IS '{key}'"))
            log(f"postgresql: loaded in {info['rows_seconds']} s + indexes "
                f"{info['index_seconds']} s")
        else:
            info = {"orders": count}
        yield url, {**info, "cached": not fresh, "schema": schema}
    finally:
        admin.dispose()

