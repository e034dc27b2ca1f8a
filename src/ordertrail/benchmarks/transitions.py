"""Figure 2: transitions over HTTP against one ``ordertrail serve`` process.

Workload: make_to_order orders sitting at ``production`` are sent to ``qc`` and back
(the "rework" loop, which the flow allows forever) by a user with role production. Each
load worker owns its own orders and sends one request at a time, so no request races another
for an order; any non-2xx answer is counted and reported. Baseline: ``GET /healthz`` of the
same server, driven by the same client with the same concurrency, in the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ordertrail.benchmarks.common import (
    Figure,
    log,
    median,
    percentile,
    serve,
    user_with_key,
)
from ordertrail.benchmarks.create import order_bodies
from ordertrail.benchmarks.loadgen import Fixed, LoadResult, http_request, run_load
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import make_sessionmaker, write_session
from ordertrail.flow.planner import Advance
from ordertrail.kit.clock import SystemClock
from ordertrail.order import service

TARGET_RATIO = 0.40


@dataclass
class HttpSizes:
    concurrency: int
    orders_per_worker: int
    warmup: float
    duration: float
    rounds: int


@dataclass
class ReworkWorker:
    """Moves its own orders production -> qc -> production, round robin."""

    orders: list[str]
    headers: dict[str, str]
    stages: dict[str, str] = field(default_factory=dict)
    turn: int = 0
    _pending: tuple[str, str] | None = None

    def request(self) -> bytes:
        order_no = self.orders[self.turn % len(self.orders)]
        stage = self.stages.get(order_no, "production")
        to = "qc" if stage == "production" else "production"
        self._pending = (order_no, to)
        return http_request("POST", f"/api/v1/orders/{order_no}/transitions", self.headers,
                            {"to": to, "expected_stage": stage})

    def response(self, status: int, body: bytes) -> None:
        assert self._pending is not None
        order_no, to = self._pending
        if 200 <= status < 300:
            self.stages[order_no] = to
        elif status == 409:  # resynchronise with the server's view; never expected here
            try:
                current = json.loads(body).get("current_stage")
            except ValueError:
                current = None
            self.stages[order_no] = current or self.stages.get(order_no, "production")
        self.turn += 1


def _orders_at_production(engine: Engine, settings: Settings, count: int) -> list[str]:
    """Create ``count`` orders through the service and move them to production."""
    sales, _ = user_with_key(engine, "bench_sales", ["sales"])
    prod, _ = user_with_key(engine, "bench_production", ["production", "warehouse"])
    factory, clock = make_sessionmaker(engine), SystemClock()
    numbers = []
    with write_session(factory) as session:
        ctx = Ctx(session=session, actor=sales, clock=clock, settings=settings)
        for body in order_bodies(count, 900_000_000, imported=False):
            order = service.create_order(ctx, body)
            service.act(ctx, order.order_no, Advance("material_check"))
            numbers.append(order.order_no)
        ctx = Ctx(session=session, actor=prod, clock=clock, settings=settings)
        for order_no in numbers:
            service.act(ctx, order_no, Advance("production"))
    return numbers


def measure(engine: Engine, url: str, database: str, settings: Settings, sizes: HttpSizes,
            workdir: Path, progress: Callable[[str], None] = log) -> Figure:
    numbers = _orders_at_production(engine, settings, sizes.concurrency * sizes.orders_per_worker)
    _actor, key = user_with_key(engine, "bench_rework", ["production"])
    headers = {"Authorization": f"Bearer {key}"}
    health: list[LoadResult] = []
    moves: list[LoadResult] = []
    workers = [ReworkWorker(numbers[w::sizes.concurrency], headers)
               for w in range(sizes.concurrency)]
    with serve(url, workdir, f"{database}-transitions") as server:
        for r in range(sizes.rounds):
            h = run_load(server.port,
                         [Fixed(http_request("GET", "/healthz")) for _ in range(sizes.concurrency)],
                         duration=sizes.duration, warmup=sizes.warmup, server_pid=server.pid)
            m = run_load(server.port, list(workers), duration=sizes.duration,
                         warmup=sizes.warmup, server_pid=server.pid)
            health.append(h)
            moves.append(m)
            progress(f"{database}: round {r + 1}: healthz {h.rate:,.0f}/s, transitions "
                     f"{m.rate:,.0f}/s ({m.non_2xx} non-2xx), server CPU "
                     f"{h.server_cpu or 0:.2f}/{m.server_cpu or 0:.2f}, client CPU "
                     f"{h.client_cpu:.2f}/{m.client_cpu:.2f}")
    value, base = median([m.rate for m in moves]), median([h.rate for h in health])
    non_2xx = sum(m.non_2xx for m in moves)
    detail: dict[str, Any] = {
        "concurrency": sizes.concurrency, "orders": len(numbers), "rounds": sizes.rounds,
        "seconds_per_round": sizes.duration, "non_2xx": non_2xx,
        "transitions": [m.summary() for m in moves], "healthz": [h.summary() for h in health],
        "transition_server_ms_p99": round(_p99(moves), 3),
        "workload": "make_to_order rework loop production<->qc, role production, "
                    "one order set per worker",
    }
    ratio = value / base if base else 0.0
    return Figure(
        name="transition_http_rate", database=database, value=value, unit="transitions/s",
        baseline=base, baseline_of="GET /healthz rate of the same server, same client and "
        "concurrency", target=f">= {TARGET_RATIO:.0%} of /healthz rate",
        ok=ratio >= TARGET_RATIO and non_2xx == 0, detail=detail)


def _p99(results: list[LoadResult]) -> float:
    return percentile([ms for r in results for ms in r.server_ms], 99)
