"""Figure: one SLA sweep opens 10 000 due alerts among 1 000 000 open orders.

Setup (bulk SQL, not the order service: a million orders through the service would take far
longer than the figure): ``open_orders`` retail orders at ``review`` with one open stage
visit each, ``generate_series`` on PostgreSQL and a recursive CTE on SQLite. Every visit has
a pending deadline; ``due`` of them (spread evenly over the ids) are past due, the rest are
due in the future. Measured: one ``sweep()`` — the claim (conditional UPDATE … RETURNING over
the partial index ``ix_stage_visits_due``), the 10 000 alerts, their outbox events and
timeline rows, committed. Baseline, in the same run: a plain indexed SELECT of the same
10 000 rows. The detail carries the query plan of the claim, to show the index it uses.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, text

from ordertrail.benchmarks.common import Figure, log, prepare
from ordertrail.calendar.service import get_calendar
from ordertrail.config import Settings
from ordertrail.db import make_sessionmaker
from ordertrail.flow import service as flows
from ordertrail.kit.clock import FrozenClock
from ordertrail.kit.types import UTCDateTime
from ordertrail.sla import alerts, claims
from ordertrail.sla import sweep as sweeper

TARGET_SECONDS = 1.0
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
QUICK = {"open_orders": 20_000, "due": 1_000}

_ORDER_COLUMNS = (
    "order_no, flow_version_id, flow_id, stage, status, stage_entered_at, held_at, "
    "customer_name, currency, subtotal, shipping_fee, discount, total, line_count, "
    "total_qty, priority, tags, custom, created_at, updated_at, row_version")
_VISIT_COLUMNS = (
    "order_id, stage, entered_at, exited_at, responsible_role, sla_target, held_seconds, "
    "calendar_id, target_seconds, due_at, warn_at, due_state")


def _stamp(engine: Engine, at: datetime) -> str:
    """A time as the database stores it (SQLite: naive UTC text; PostgreSQL: timestamptz)."""
    if engine.dialect.name == "sqlite":
        return at.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return at.isoformat()


def fill(engine: Engine, open_orders: int, due: int) -> None:
    """Open orders at retail review, ``due`` of them past their deadline."""
    every = max(open_orders // max(due, 1), 1)
    entered = _stamp(engine, NOW - timedelta(days=1))
    past = _stamp(engine, NOW - timedelta(hours=1))
    future = _stamp(engine, NOW + timedelta(days=30))
    with engine.begin() as conn:
        version = conn.execute(text("SELECT id FROM flow_versions WHERE flow_id = 'retail' "
                                    "ORDER BY version DESC LIMIT 1")).scalar_one()
        if engine.dialect.name == "postgresql":
            source = "FROM generate_series(1, :n) AS s(n)"
            prefix = ""
            e, p, f = (f"CAST(:{n} AS timestamptz)" for n in ("e", "past", "future"))

            js = "'[]'::jsonb, '{}'::jsonb"
        else:
            source = "FROM s"
            prefix = ("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                      "WHERE n < :n) ")
            e, p, f = ":e", ":past", ":future"
            js = "'[]', '{}'"
        conn.execute(text(
            f"INSERT INTO orders ({_ORDER_COLUMNS}) {prefix}"
            f"SELECT 'BENCH-' || n, :v, 'retail', 'review', 'active', {e}, NULL, "
            f"'customer ' || n, 'CNY', 0, 0, 0, 0, 1, 0, 'normal', {js}, {e}, "
            f"{e}, 1 {source}"), {"n": open_orders, "v": version, "e": entered})
        conn.execute(text(
            f"INSERT INTO stage_visits ({_VISIT_COLUMNS}) "
            f"SELECT id, 'review', {e}, NULL, 'service', '2h', 0, 'cn', 7200, "
            f"CASE WHEN id % :every = 0 THEN {p} ELSE {f} END, "
            f"CASE WHEN id % :every = 0 THEN {p} ELSE {f} END, 'pending' "
            f"FROM orders WHERE order_no LIKE 'BENCH-%'"),
            {"e": entered, "every": every, "past": past, "future": future})
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    if engine.dialect.name == "sqlite":
        # Write the fill back into the database file now: otherwise the sweep's commit would
        # pay for checkpointing hundreds of megabytes of setup.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _explain(engine: Engine, limit: int) -> list[str]:
    now = _stamp(engine, NOW)
    if engine.dialect.name == "postgresql":
        # The claim as sla/sweep.py writes it.
        due = f"due_state = 'pending' AND due_at <= '{now}'::timestamptz"
        sql = (f"EXPLAIN WITH pick AS (SELECT ARRAY(SELECT id FROM stage_visits WHERE {due} "
               f"ORDER BY due_at LIMIT {limit} FOR UPDATE SKIP LOCKED) AS ids), rest AS ("
               f"SELECT EXISTS(SELECT 1 FROM stage_visits WHERE {due} ORDER BY due_at "
               f"OFFSET {limit}) AS more) UPDATE stage_visits SET due_state = 'raised' "
               "FROM pick, rest WHERE stage_visits.id = ANY(pick.ids) AND "
               "stage_visits.due_state = 'pending' RETURNING stage_visits.id, rest.more")
        with engine.connect() as conn:
            return [row[0] for row in conn.exec_driver_sql(sql)]
    sql = ("EXPLAIN QUERY PLAN UPDATE stage_visits SET due_state = 'raised' WHERE id IN "
           "(SELECT id FROM stage_visits WHERE due_state = 'pending' AND due_at <= "
           f"'{now}' ORDER BY due_at LIMIT {limit}) AND due_state = 'pending' RETURNING id")
    with engine.connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql(sql)]


def _baseline(engine: Engine, limit: int) -> tuple[float, int]:
    """A plain indexed read of the same due rows (what any sweep must at least do)."""
    sql = text("SELECT id, order_id, stage, responsible_role, due_at FROM stage_visits "
               "WHERE due_state = 'pending' AND due_at <= :now ORDER BY due_at "
               "LIMIT :n").bindparams(bindparam("now", NOW, type_=UTCDateTime()), n=limit)
    best = float("inf")
    rows = 0
    for _ in range(3):
        with engine.connect() as conn:
            started = time.perf_counter()
            rows = len(conn.execute(sql).all())
            best = min(best, time.perf_counter() - started)
    return best, rows


def _warm_up(engine: Engine, factory: Any, settings: Settings) -> None:
    """What a running worker has already: the flow parsed, the calendar's holidays loaded,
    the statements compiled (a sweep before anything is due claims nothing)."""
    with factory() as session:
        version = session.execute(text("SELECT id FROM flow_versions WHERE flow_id = 'retail' "
                                       "ORDER BY version DESC LIMIT 1")).scalar_one()
        flow = flows.definition_by_id(session, version)[1]
        alerts.escalation_of(session, flow)
        # A sweep that claims nothing computes no business time: load the calendar's year
        # (and python-holidays' country registry, imported once per process) here.
        get_calendar(session, flow.calendar or "cn").add(NOW, 3600)
    sweeper.sweep(factory, FrozenClock(NOW - timedelta(days=3)), settings)


def run_sweep(url: str, *, open_orders: int = 1_000_000, due: int = 10_000,
              settings: Settings | None = None) -> list[Figure]:
    """Fill ``url`` (an empty scratch database), time one sweep, return the figure."""
    engine = prepare(url)
    try:
        database = engine.dialect.name
        log(f"sweep: filling {open_orders} open orders ({due} due) on {database}")
        started = time.perf_counter()
        fill(engine, open_orders, due)
        fill_seconds = time.perf_counter() - started
        plan = _explain(engine, due)
        baseline, found = _baseline(engine, due)
        settings = settings or Settings(database_url=url)
        factory = make_sessionmaker(engine)
        _warm_up(engine, factory, settings)
        log("sweep: one sweep")
        started = time.perf_counter()
        result = sweeper.sweep(factory, FrozenClock(NOW), settings, limit=due)
        seconds = time.perf_counter() - started
        uses_index = any("ix_stage_visits_due" in line for line in plan)
        full = open_orders >= 1_000_000 and due >= 10_000
        detail: dict[str, Any] = {
            "open_orders": open_orders, "due": due, "opened": result.opened,
            "baseline_rows": found, "fill_seconds": round(fill_seconds, 1),
            "claim_plan": plan, "claim_uses_index": uses_index,
            "claim_sql": claims.claim_sql(database), "counts": result.as_dict(),
        }
        ok = (seconds < TARGET_SECONDS and result.opened == due and uses_index) if full \
            else None
        return [Figure(name="sla_sweep_open_alerts", database=database,
                       value=seconds * 1000, unit="ms", baseline=baseline * 1000,
                       baseline_of="indexed SELECT of the same due rows",
                       target=f"{due} alerts opened in < {TARGET_SECONDS * 1000:g} ms "
                       "(1M open orders)", ok=ok, detail=detail)]
    finally:
        engine.dispose()
