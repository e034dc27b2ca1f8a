"""Figure: outbound webhook deliveries per second, from the queue to a local receiver.

Workload: ``messages`` pre-queued webhook messages (``order.stage_changed`` bodies of a
realistic size) spread over ``endpoints`` subscriptions, all pointing at one local receiver
process (``ordertrail.webhooks.receiver.run_fast``: a bare asyncio server that answers 204, so
the receiver is not what is measured). The delivery pump (``webhooks.deliver``, called as the
worker calls) drains them: claims endpoints with leases, signs every message (Standard
Webhooks, HMAC-SHA256), POSTs it over kept-alive connections, records an attempt row per try
and marks the messages delivered. After the run every message must be delivered exactly once
(one attempt row each, none pending).

Baseline, in the same run: raw HTTP POSTs per second of the same body from the same HTTP
client (``webhooks/sender.py``, one thread per endpoint, kept-alive connections) to the same
receiver, without the database or signing. The ratio is the cost of durability (queue,
signing, attempt log).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, select

from ordertrail.benchmarks.common import Figure, log, prepare
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import insert_rows, make_sessionmaker, write_session
from ordertrail.jobs.registry import PumpCtx
from ordertrail.kit.clock import SystemClock
from ordertrail.models.webhook import WebhookAttempt, WebhookMessage
from ordertrail.webhooks import deliver, service, signing
from ordertrail.webhooks.schemas import WebhookCreate
from ordertrail.webhooks.sender import Sender

TARGET = 1000.0  # deliveries per second (issue 4)
INSERT_CHUNK = 5000


def _receiver() -> tuple[subprocess.Popen[str], int]:
    """The fast receiver as a subprocess on a free port."""
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from ordertrail.webhooks.receiver import run_fast; "
         "run_fast('127.0.0.1', 0, ready=lambda p: print(p, flush=True))"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        raise RuntimeError(f"the webhook receiver did not start: {line!r}")
    return proc, int(line)


def _payload(i: int, now: datetime) -> dict[str, object]:
    return service.envelope("order.stage_changed", now, {
        "order_no": f"SO20261120-{i:05d}", "flow": "make_to_order", "from_stage": "review",
        "to_stage": "production", "actor": "grace", "role": "manager", "source": "api",
        "at": now.isoformat(), "aggregate": "order", "aggregate_id": f"SO20261120-{i:05d}",
        "event_id": i})


def _baseline(base_url: str, endpoints: int, total: int, body: bytes) -> float:
    """Raw POSTs/s: one thread per endpoint, through the deliverer's own HTTP sender."""
    sender = Sender()
    headers = {"content-type": "application/json"}
    per = max(total // endpoints, 1)

    def post(e: int) -> int:
        for _ in range(per):
            assert sender.post(f"{base_url}/e{e}", body, headers).status == 204
        return per

    try:
        post(0)  # warm up
        started = time.perf_counter()
        with ThreadPoolExecutor(endpoints) as pool:
            sent = sum(pool.map(post, range(endpoints)))
        return sent / (time.perf_counter() - started)
    finally:
        sender.close()


def run_webhooks(url: str, *, messages: int = 20_000, endpoints: int = 8) -> list[Figure]:
    """Deliveries/s of the pump on the database at ``url`` (a scratch one), and the baseline."""
    engine = prepare(url)
    kind = engine.dialect.name
    factory = make_sessionmaker(engine)
    settings = Settings(database_url=url, webhooks_allow_private=True)
    clock = SystemClock()
    proc, port = _receiver()
    base_url = f"http://127.0.0.1:{port}"
    try:
        with write_session(factory) as session:
            ctx = Ctx(session, SYSTEM_ACTOR, clock, settings)
            ids = [service.create_endpoint(ctx, WebhookCreate(url=f"{base_url}/e{e}",
                                                              events=["order.*"]))[0].id
                   for e in range(endpoints)]
        now = clock.now()
        log(f"{kind}: queueing {messages:,} webhook messages for {endpoints} endpoints")
        for start in range(0, messages, INSERT_CHUNK):
            rows = [{"endpoint_id": ids[i % endpoints], "event_id": i,
                     "event_type": "order.stage_changed", "msg_id": f"msg_bench_{i}",
                     "payload": _payload(i, now), "state": "pending", "trigger": "auto",
                     "attempts": 0, "next_attempt_at": now, "created_at": now}
                    for i in range(start, min(start + INSERT_CHUNK, messages))]
            with write_session(factory) as session:
                insert_rows(session.connection(), WebhookMessage.__table__, rows)
        body = signing.body_of(_payload(0, now))

        baseline = _baseline(base_url, endpoints, min(messages, 10_000), body)
        log(f"{kind}: baseline {baseline:,.0f} raw POSTs/s")

        # The worker's own call: its pump thread calls the pump while it reports work.
        ctx = PumpCtx(factory, clock, settings, f"bench-{os.getpid()}", threading.Event())
        started = time.perf_counter()
        try:
            while deliver.pump_step(ctx) > 0:
                pass
        finally:
            elapsed = time.perf_counter() - started
            ctx.stopping.set()
        with factory() as session:
            delivered = session.scalar(select(func.count()).where(
                WebhookMessage.state == "delivered")) or 0
            pending = session.scalar(select(func.count()).where(
                WebhookMessage.state == "pending")) or 0
            attempts = session.scalar(select(func.count()).select_from(WebhookAttempt)) or 0
        rate = delivered / elapsed if elapsed else 0.0
        exact = delivered == messages == attempts and pending == 0
        return [Figure(
            name="webhook_deliveries_rate", database=kind, value=rate, unit="deliveries/s",
            baseline=baseline,
            baseline_of="raw HTTP POSTs/s of the same body, same client and receiver, no "
                        "database or signing",
            target=f">= {TARGET:,.0f} deliveries/s", ok=rate >= TARGET and exact,
            detail={"messages": messages, "endpoints": endpoints, "seconds": round(elapsed, 3),
                    "delivered": delivered, "pending_left": pending, "attempt_rows": attempts,
                    "each_delivered_once": exact, "batch": deliver.BATCH,
                    "parallel_endpoints": deliver.PARALLEL, "body_bytes": len(body),
                    "measured_at": datetime.now(UTC).isoformat()})]
    finally:
        proc.kill()
        proc.wait()
        engine.dispose()
