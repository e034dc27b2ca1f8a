"""Figure 1: orders created through the order service, per commit and in batches.

Modes: ``create_order(ctx, body)`` in its own transaction (an API call); ``create_order`` 500
times per transaction (an import that calls the one-order function); and, where the service
has it, ``create_orders(ctx, bodies)`` with 500 bodies per transaction (the batch API).

Baseline, measured in the same run on the same database with the same commit pattern: a bare
Core ``INSERT`` of one ``orders`` row per order with the values the service would write (for
the batch API: one Core executemany of those rows per transaction). The service does much more
per order (flow lookup, order number upsert, lines, stage visit, timeline row, outbox event,
ORM work); the ratio shows how far it is from the floor that the database itself sets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.benchmarks.common import Figure, log, median, user_with_key
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import WRITE, make_sessionmaker, write_session
from ordertrail.flow import service as flows
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import SystemClock
from ordertrail.models import Order
from ordertrail.order import service as order_service
from ordertrail.order.schemas import OrderCreate

TARGET = 5000.0
ONE_BY_ONE = "bare Core INSERT of one orders row per order, same commit pattern"
IMPORT_BODY = "make_to_order, 2 lines, external_ref (import: checked for duplicates)"


@dataclass
class CreateSizes:
    per_commit: int  # orders per round, one transaction each
    batched: int  # orders per round, ``batch`` per transaction
    batch: int
    rounds: int
    budget: float  # seconds: a round stops starting transactions after this long


def order_bodies(count: int, start: int, *, imported: bool) -> list[OrderCreate]:
    """Realistic creation requests; imports carry an external reference (checked for dups)."""
    promised = datetime(2027, 1, 15, 2, tzinfo=UTC)
    bodies = []
    for i in range(start, start + count):
        body: dict[str, Any] = {
            "flow": "make_to_order",
            "customer": {"name": f"客户 {i % 5000}", "phone": f"138{i % 100_000_000:08d}",
                         "email": f"buyer{i % 5000}@example.cn", "country": "CN",
                         "province": "广东", "city": "深圳", "address": "南山区科技园 1 号"},
            "lines": [
                {"sku": f"GEAR-{i % 40}", "name": "Gear 40T", "qty": 2, "unit_price": "99.50"},
                {"sku": "BOLT-M8", "name": "Bolt M8", "qty": 100, "unit_price": "0.35"},
            ],
            "shipping_fee": "20", "channel": "sales", "priority": "normal",
            "promised_at": (promised + timedelta(hours=i % 500)).isoformat(),
            "tags": ["bench"],
        }
        if imported:
            body.update(external_source="import", external_ref=f"BENCH-{i:09d}")
        bodies.append(OrderCreate.model_validate(body))
    return bodies


def _core_rows(bodies: list[OrderCreate], flow_version_id: int, prefix: str,
               start: int) -> list[dict[str, Any]]:
    """The ``orders`` row the service would write for each body, for the Core baseline."""
    now = datetime.now(UTC)
    rows = []
    for n, b in enumerate(bodies, start=start):
        subtotal = sum((ln.qty * ln.unit_price for ln in b.lines), Decimal(0))
        c = b.customer
        rows.append({
            "order_no": f"{prefix}{n:08d}", "flow_version_id": flow_version_id,
            "flow_id": b.flow, "stage": "review", "status": "active", "stage_entered_at": now,
            "held_at": None, "customer_name": c.name, "customer_phone": c.phone,
            "customer_email": c.email, "customer_country": c.country,
            "customer_province": c.province, "customer_city": c.city,
            "customer_address": c.address, "currency": b.currency, "subtotal": subtotal,
            "shipping_fee": b.shipping_fee, "discount": b.discount,
            "total": subtotal + b.shipping_fee - b.discount, "line_count": len(b.lines),
            "total_qty": sum((ln.qty for ln in b.lines), Decimal(0)), "channel": b.channel,
            "priority": b.priority.value, "promised_at": b.promised_at,
            "external_source": b.external_source,
            "external_ref": f"CORE-{b.external_ref}" if b.external_ref else None,
            "tags": list(b.tags), "custom": b.custom, "created_at": now, "updated_at": now,
            "created_by": None, "row_version": 1,
        })
    return rows


def _service_run(factory: sessionmaker[Session], actor: Actor, settings: Settings,
                 bodies: list[OrderCreate], batch: int, bulk: bool, budget: float) -> float:
    clock = SystemClock()
    many = getattr(order_service, "create_orders", None)
    t0 = time.perf_counter()
    done = 0
    for i in range(0, len(bodies), batch):
        if time.perf_counter() - t0 > budget:
            break
        done += len(bodies[i:i + batch])
        with write_session(factory) as session:
            ctx = Ctx(session=session, actor=actor, clock=clock, settings=settings)
            if bulk and many is not None:
                many(ctx, bodies[i:i + batch])
            else:
                for body in bodies[i:i + batch]:
                    order_service.create_order(ctx, body)
    return done / (time.perf_counter() - t0)


def _core_run(engine: Engine, rows: list[dict[str, Any]], batch: int, bulk: bool,
              budget: float) -> float:
    stmt = insert(Order.__table__)
    t0 = time.perf_counter()
    done = 0
    for i in range(0, len(rows), batch):
        if time.perf_counter() - t0 > budget:
            break
        done += len(rows[i:i + batch])
        with engine.connect() as conn:
            conn.execution_options(**WRITE)
            with conn.begin():
                if bulk:
                    conn.execute(stmt, rows[i:i + batch])
                else:
                    for row in rows[i:i + batch]:
                        conn.execute(stmt, row)
    return done / (time.perf_counter() - t0)


def _figure(name: str, database: str, service: list[float], core: list[float],
            baseline_of: str, detail: dict[str, Any]) -> Figure:
    value, base = median(service), median(core)
    return Figure(
        name=name, database=database, value=value, unit="orders/s", baseline=base,
        baseline_of=baseline_of,
        target=f">= {TARGET:,.0f} orders/s", ok=value >= TARGET,
        detail={**detail, "rounds_service": [round(v, 1) for v in service],
                "rounds_baseline": [round(v, 1) for v in core]})


def measure(engine: Engine, database: str, settings: Settings, sizes: CreateSizes,
            progress: Callable[[str], None] = log) -> list[Figure]:
    """Both creation figures on one freshly migrated database."""
    factory = make_sessionmaker(engine)
    actor, _key = user_with_key(engine, "bench_sales", ["sales"])
    with factory() as session:
        flow_version_id = flows.get_version(session, "make_to_order").id
    modes = [("per_commit", sizes.per_commit, 1, False), ("batched", sizes.batched, sizes.batch,
                                                          False)]
    if hasattr(order_service, "create_orders"):
        modes.append(("bulk", sizes.batched, sizes.batch, True))
    results: dict[str, tuple[list[float], list[float]]] = {m[0]: ([], []) for m in modes}
    serial = 0
    for r in range(sizes.rounds):
        for mode, count, batch, bulk in modes:
            bodies = order_bodies(count, serial, imported=mode != "per_commit")
            rows = _core_rows(bodies, flow_version_id, f"CORE-{mode[0]}-", serial)
            serial += count
            # Alternate the order of the two so that a noisy neighbour hurts both alike.
            if r % 2 == 0:
                core = _core_run(engine, rows, batch, bulk, sizes.budget)
                service = _service_run(factory, actor, settings, bodies, batch, bulk,
                                       sizes.budget)
            else:
                service = _service_run(factory, actor, settings, bodies, batch, bulk,
                                       sizes.budget)
                core = _core_run(engine, rows, batch, bulk, sizes.budget)
            results[mode][0].append(service)
            results[mode][1].append(core)
            progress(f"{database}: create {mode} round {r + 1}: service {service:,.0f}/s, "
                     f"core {core:,.0f}/s")
    figures = [
        _figure("create_order_per_commit", database, *results["per_commit"],
                ONE_BY_ONE, {"max_orders_per_round": sizes.per_commit, "rounds": sizes.rounds,
                             "seconds_per_round": sizes.budget,
                             "per_transaction": 1,
                             "call": "create_order(ctx, body) once per transaction",
                             "body": "make_to_order, 2 lines, no external_ref"}),
        _figure(f"create_order_batch_{sizes.batch}", database, *results["batched"],
                ONE_BY_ONE, {"max_orders_per_round": sizes.batched, "rounds": sizes.rounds,
                             "seconds_per_round": sizes.budget, "per_transaction": sizes.batch,
                             "call": f"create_order(ctx, body) x{sizes.batch} per transaction",
                             "body": IMPORT_BODY}),
    ]
    if "bulk" in results:
        figures.append(_figure(
            f"create_orders_bulk_{sizes.batch}", database, *results["bulk"],
            "bare Core executemany INSERT of the orders rows, same batches",
            {"max_orders_per_round": sizes.batched, "rounds": sizes.rounds,
             "seconds_per_round": sizes.budget, "per_transaction": sizes.batch,
             "call": f"create_orders(ctx, bodies) with {sizes.batch} bodies per transaction",
             "body": IMPORT_BODY}))
    return figures
