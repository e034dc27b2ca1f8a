"""Figure: signed carrier pushes over HTTP against one ``ordertrail serve`` process.

Workload: ``POST /api/v1/hooks/generic`` in the generic JSON format, signed the Standard
Webhooks way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; the secret reaches
the server as ``ORDERTRAIL_GENERIC_WEBHOOK_SECRET``). Each push carries one update with the
next 1–3 events of one parcel's realistic journey (``carrier.sim.journey``), so every push
stores new events and about a third of them change the shipment's status (an outbox event).
Each load worker owns its own parcels (shipments without an order, created before the clock
starts) and sends one push at a time; when a journey ends the worker moves to a fresh parcel.
The body is built and signed by the client for every request, as a carrier would.

Baseline: ``GET /healthz`` of the same server, driven by the same client with the same
concurrency, in alternating rounds. After the run the stored events are counted: every
accepted push must have stored exactly the events it carried.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from ordertrail.benchmarks.common import Figure, log, median, percentile, serve
from ordertrail.benchmarks.ingest import Parcel, new_parcel, shipment_row, store_shipments
from ordertrail.benchmarks.loadgen import Fixed, LoadResult, http_request, run_load
from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.generic.parse import update_json
from ordertrail.carrier.generic.signing import sign
from ordertrail.models import TrackingEvent

TARGET_RATIO = 0.50
SECRET = "whsec_" + "b3JkZXJ0cmFpbC1iZW5jaC13ZWJob29rLXNlY3JldA=="  # a bench-only key
SECRET_ENV = "ORDERTRAIL_GENERIC_WEBHOOK_SECRET"
PATH = "/api/v1/hooks/generic"
EVENTS_PER_PUSH = (1, 1, 2, 2, 3)
YEAR = timedelta(days=365)


@dataclass
class HookSizes:
    concurrency: int
    parcels_per_worker: int  # created up front; a worker moves on when a journey ends
    warmup: float
    duration: float
    rounds: int

    @classmethod
    def quick(cls) -> HookSizes:
        """A smoke run: one round of 1 s."""
        return cls(concurrency=8, parcels_per_worker=150, warmup=0.3, duration=1.0, rounds=1)

    @classmethod
    def full(cls) -> HookSizes:
        """As transition_http_rate: 16 workers, two rounds of 10 s after 2 s of warm-up."""
        return cls(concurrency=16, parcels_per_worker=1000, warmup=2.0, duration=10.0,
                   rounds=2)


@dataclass
class PushWorker:
    """Pushes the next events of its parcels, one parcel after another, round robin."""

    name: str
    parcels: list[Parcel]
    rng: random.Random
    active: int = 8  # parcels in flight at once (a carrier interleaves its parcels)
    turn: int = 0
    sent: int = 0
    accepted_events: int = 0
    exhausted: bool = False
    _queue: list[Parcel] = field(default_factory=list)
    _next: int = 0
    _pending: int = 0

    def _parcel(self) -> Parcel:
        while len(self._queue) < self.active and self._next < len(self.parcels):
            self._queue.append(self.parcels[self._next])
            self._next += 1
        if not self._queue:  # every journey ended (pool too small): replay them a year later
            self.exhausted = True
            self._next = 0
            for p in self.parcels:
                p.pos = 0
                p.events = tuple(replace(e, occurred_at=e.occurred_at + YEAR) for e in p.events)
            return self._parcel()
        p = self._queue[self.turn % len(self._queue)]
        self.turn += 1
        return p

    def request(self) -> bytes:
        p = self._parcel()
        take = self.rng.choice(EVENTS_PER_PUSH)
        events = p.events[p.pos:p.pos + take]
        p.pos += len(events)
        if p.pos >= len(p.events):
            self._queue.remove(p)
        self._pending = len(events)
        update = update_json_for(p, events)
        body = json.dumps({"updates": [update]}, ensure_ascii=False,
                          separators=(",", ":")).encode()
        self.sent += 1
        headers = sign(body, SECRET, f"msg_{self.name}_{self.sent}", int(time.time()))
        return push_request(body, headers)

    def response(self, status: int, body: bytes) -> None:
        if 200 <= status < 300:
            self.accepted_events += self._pending


def update_json_for(p: Parcel, events: tuple[CarrierEvent, ...]) -> dict[str, Any]:
    """One update of the generic format: these events of the parcel, with its ETA."""
    index = min(p.pos, len(p.etas)) - 1
    eta = p.etas[index] if index >= 0 else None
    return update_json(TrackingUpdate(p.number, tuple(events), courier=p.courier,
                                      estimated_delivery=eta))


def push_request(body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one signed keep-alive POST."""
    lines = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@contextmanager
def _secret_in_env() -> Iterator[None]:
    """``serve`` passes this process's environment to the server: put the secret there."""
    before = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = SECRET
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = before


def _parcels(engine: Engine, workers: int, per_worker: int) -> list[list[Parcel]]:
    """Plan the journeys and store their shipments (set-up, not timed)."""
    rng = random.Random(20261123)
    start = datetime(2026, 11, 10, tzinfo=UTC)
    now = datetime.now(UTC)
    out = [[new_parcel(10_000_000 + w * per_worker + i, rng, start) for i in range(per_worker)]
           for w in range(workers)]
    store_shipments(engine, [shipment_row(p.number, p.courier, p.registered_at, now)
                             for ps in out for p in ps])
    return out


def _count_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TrackingEvent.__table__))
                   .scalar_one())


def measure(engine: Engine, url: str, database: str, sizes: HookSizes, workdir: Path,
            progress: Callable[[str], None] = log) -> Figure:
    """Push rate vs /healthz rate of the same server, alternating rounds."""
    parcels = _parcels(engine, sizes.concurrency, sizes.parcels_per_worker)
    workers = [PushWorker(str(w), parcels[w], random.Random(w))
               for w in range(sizes.concurrency)]
    health: list[LoadResult] = []
    pushes: list[LoadResult] = []
    before = _count_events(engine)
    with _secret_in_env(), serve(url, workdir, f"{database}-hooks") as server:
        for r in range(sizes.rounds):
            h = run_load(server.port,
                         [Fixed(http_request("GET", "/healthz")) for _ in range(sizes.concurrency)],
                         duration=sizes.duration, warmup=sizes.warmup, server_pid=server.pid)
            p = run_load(server.port, list(workers), duration=sizes.duration,
                         warmup=sizes.warmup, server_pid=server.pid)
            health.append(h)
            pushes.append(p)
            progress(f"{database}: round {r + 1}: healthz {h.rate:,.0f}/s, signed pushes "
                     f"{p.rate:,.0f}/s ({p.non_2xx} non-2xx), server CPU "
                     f"{h.server_cpu or 0:.2f}/{p.server_cpu or 0:.2f}, client CPU "
                     f"{h.client_cpu:.2f}/{p.client_cpu:.2f}")
    stored = _count_events(engine) - before
    accepted = sum(w.accepted_events for w in workers)
    value, base = median([p.rate for p in pushes]), median([h.rate for h in health])
    non_2xx = sum(p.non_2xx for p in pushes)
    ratio = value / base if base else 0.0
    detail: dict[str, Any] = {
        "concurrency": sizes.concurrency, "rounds": sizes.rounds,
        "seconds_per_round": sizes.duration, "non_2xx": non_2xx,
        "pushes": [p.summary() for p in pushes], "healthz": [h.summary() for h in health],
        "push_server_ms_p99": round(percentile([ms for p in pushes for ms in p.server_ms], 99),
                                    3),
        "events_sent_accepted": accepted, "events_stored": stored,
        "parcels_exhausted": any(w.exhausted for w in workers),
        "workload": f"generic JSON, Standard Webhooks signature per request, one update of "
                    f"{min(EVENTS_PER_PUSH)}-{max(EVENTS_PER_PUSH)} new events per push, "
                    "shipments without orders, each worker its own parcels",
    }
    return Figure(
        name="webhook_push_http_rate", database=database, value=value, unit="pushes/s",
        baseline=base, baseline_of="GET /healthz rate of the same server, same client and "
        "concurrency", target=f">= {TARGET_RATIO:.0%} of /healthz rate",
        ok=ratio >= TARGET_RATIO and non_2xx == 0 and stored == accepted, detail=detail)
