"""Figure: tracking events ingested through the service, in batches of 1,000 updates.

Workload: a fleet of parcels on realistic journeys (``carrier.sim.journey``: Chinese domestic
couriers and a few international ones, normal, delayed, failed-attempt, locker, returned and
lost parcels, about 10 events each). Every batch is one update per active parcel carrying its
next 1–4 events, as a provider's push or poll batch would; finished parcels are replaced by
new ones. To be honest about the work, about 10 % of the updates also re-send an event that
is already stored (a duplicate) and about 5 % hold one event back and send it with the next
update, so it arrives older than the newest stored event (the out-of-order path, a refold).
Shipments are not linked to orders (the order side of a delivery is an order transition,
measured by ``transition_http_rate``). The updates are built before the clock starts.

Timed: ``ingest(ctx, "generic", updates, "push")`` with one write transaction and commit per
batch. Baseline, same run, same database and table: a raw DB-API ``executemany`` of exactly
the rows the service stores (``sqlite3`` directly on SQLite, psycopg on PostgreSQL) into
``tracking_events`` for a mirror set of shipments, one transaction per batch. Both count
*stored* events per second; duplicates are work the service does on top.
"""

from __future__ import annotations

import gc
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import make_url

from ordertrail.benchmarks.common import Figure, log, median
from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
from ordertrail.carrier.sim import journey
from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import make_sessionmaker, write_session
from ordertrail.kit.clock import SystemClock
from ordertrail.models import Shipment, TrackingEvent
from ordertrail.shipment.ingest import IngestReport, ingest
from ordertrail.shipment.progress import fingerprint

TARGET = 50_000.0
TARGET_RATIO = 0.20
PROVIDER = "generic"
SOURCE = "push"
DUPLICATE_RATE = 0.10
LATE_RATE = 0.05
EVENTS_PER_UPDATE = (1, 2, 2, 3, 3, 4)
# Courier mix of a Chinese merchant's parcels; numbers in each courier's usual shape.
COURIERS: tuple[tuple[str, float, Callable[[int], str]], ...] = (
    ("sf", 0.25, lambda n: f"SF{n:013d}"), ("zto", 0.18, lambda n: f"75{n:013d}"),
    ("yto", 0.15, lambda n: f"YT{n:013d}"), ("jd", 0.10, lambda n: f"JDVA{n:011d}"),
    ("yunda", 0.10, lambda n: f"43{n:013d}"), ("sto", 0.06, lambda n: f"77{n:013d}"),
    ("jtexpress", 0.06, lambda n: f"JT{n:013d}"), ("ems", 0.03, lambda n: f"98{n:011d}"),
    ("dhl", 0.04, lambda n: f"{n:010d}"), ("ups", 0.03, lambda n: f"1Z{n:016d}"),
)
_CUMULATIVE = [sum(w for _, w, _ in COURIERS[:i + 1]) for i in range(len(COURIERS))]
EVENT_COLUMNS = ("shipment_id", "fingerprint", "occurred_at", "status", "substatus",
                 "description", "code", "location", "source", "received_at")


@dataclass
class IngestSizes:
    updates: int  # updates (distinct shipments) per batch
    batches: int  # batches per round
    rounds: int

    @classmethod
    def quick(cls) -> IngestSizes:
        """A smoke run: about a second."""
        return cls(updates=200, batches=3, rounds=2)

    @classmethod
    def full(cls) -> IngestSizes:
        """Three rounds of 20 batches of 1,000 updates (about 46,000 new events a round)."""
        return cls(updates=1000, batches=20, rounds=3)


@dataclass
class Parcel:
    """One shipment on its journey: what was sent so far, and what is still to come."""

    seq: int
    number: str
    courier: str
    registered_at: datetime
    events: tuple[CarrierEvent, ...]
    etas: tuple[datetime | None, ...]
    pos: int = 0
    held: CarrierEvent | None = None
    sent: CarrierEvent | None = None

    @property
    def done(self) -> bool:
        return self.pos >= len(self.events) and self.held is None


@dataclass
class Push:
    """One update and which of its events are stored for the first time."""

    parcel: Parcel
    update: TrackingUpdate
    fresh: list[CarrierEvent]
    duplicates: int
    late: int


def new_parcel(seq: int, rng: random.Random, start: datetime) -> Parcel:
    """A parcel with its whole journey planned (deterministic for a seed and sequence)."""
    pick = rng.random()
    index = next((i for i, c in enumerate(_CUMULATIVE) if pick < c), len(COURIERS) - 1)
    courier, _, shape = COURIERS[index]
    number = shape(seq)
    registered = start + timedelta(seconds=seq * 7)
    plan = journey.plan(number, courier, registered, seed=seq)
    events = tuple(journey.carrier_event(e, registered, 1.0) for e in plan.events)
    etas = tuple(registered + e.eta if e.eta is not None else None for e in plan.events)
    return Parcel(seq, number, courier, registered, events, etas)


def next_push(parcel: Parcel, rng: random.Random, take: int) -> Push:
    """The parcel's next update: ``take`` new events, maybe a late one and a duplicate."""
    start = parcel.pos
    chunk = list(parcel.events[start:start + take])
    parcel.pos += len(chunk)
    late = 0
    fresh = list(chunk)
    if parcel.held is not None:
        fresh.append(parcel.held)
        late, parcel.held = 1, None
    if len(chunk) >= 2 and rng.random() < LATE_RATE:
        parcel.held = chunk[-2]  # sent next time, older than this update's newest event
        fresh.remove(parcel.held)
    events = list(fresh)
    duplicates = 0
    if parcel.sent is not None and rng.random() < DUPLICATE_RATE:
        events.insert(0, parcel.sent)
        duplicates = 1
    if chunk:
        parcel.sent = chunk[-1]
    eta = parcel.etas[parcel.pos - 1] if chunk else None
    update = TrackingUpdate(parcel.number, tuple(events), courier=parcel.courier,
                            estimated_delivery=eta)
    return Push(parcel, update, fresh, duplicates, late)


@dataclass
class Fleet:
    """Active parcels, one update each per batch; finished ones are replaced by new ones."""

    size: int
    seed: int = 20261122
    start: datetime = datetime(2026, 11, 10, tzinfo=UTC)
    first_seq: int = 1
    rng: random.Random = field(init=False)
    slots: list[Parcel | None] = field(init=False)
    created: list[Parcel] = field(default_factory=list)  # not yet stored as shipments
    serial: int = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.slots = [None] * self.size
        self.serial = self.first_seq

    def parcel(self) -> Parcel:
        """A brand-new parcel (its shipment row is inserted with the next ``store``)."""
        p = new_parcel(self.serial, self.rng, self.start)
        self.serial += 1
        self.created.append(p)
        return p

    def batch(self) -> list[Push]:
        """One update per slot."""
        pushes = []
        for i, p in enumerate(self.slots):
            if p is None or p.done:
                p = self.slots[i] = self.parcel()
            pushes.append(next_push(p, self.rng, self.rng.choice(EVENTS_PER_UPDATE)))
        return pushes


def shipment_row(number: str, courier: str, registered: datetime,
                 now: datetime) -> dict[str, Any]:
    """A registered shipment without an order, as the service would have created it."""
    return {
        "order_id": None, "carrier": courier, "provider": PROVIDER, "service": None,
        "tracking_number": number, "origin_city": None, "origin_province": None,
        "origin_country": None, "destination_city": None, "destination_province": None,
        "destination_country": None, "weight_kg": None, "shipped_at": registered,
        "carrier_eta": None, "eta": None, "status": "pending",
        "substatus": "pending.registered", "progress_rank": 0, "last_event_at": None,
        "last_event": None, "last_location": None, "delivered_at": None, "event_count": 0,
        "registered_at": registered, "last_checked_at": None, "next_check_at": None,
        "check_failures": 0, "stopped_reason": None, "meta": {}, "created_at": now,
        "updated_at": now, "created_by": None,
    }


def store_shipments(engine: Engine, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Bulk-insert shipment rows (set-up, not timed); returns tracking number -> id."""
    S = Shipment.__table__.c
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        first = conn.execute(select(func.coalesce(func.max(S.id), 0))).scalar_one()
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Shipment.__table__), list(rows[i:i + 5000]))
        for sid, number in conn.execute(select(S.id, S.tracking_number).where(S.id > first)):
            ids[number] = sid
    return ids


def _sqlite_time(value: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@dataclass
class _Round:
    updates: list[list[TrackingUpdate]]
    raw: list[list[tuple[Any, ...]]]
    fresh: int
    received: int
    duplicates: int
    late: int


class _Raw:
    """The baseline: a bare DB-API connection inserting rows into ``tracking_events``."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        cols = ", ".join(EVENT_COLUMNS)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self.conn: Any
        if self.sqlite:
            self.sql = f"INSERT INTO tracking_events ({cols}) VALUES ({', '.join('?' * 10)})"
            self.conn = sqlite3.connect(parsed.database or "", isolation_level=None,
                                        check_same_thread=False)
            # The same connection settings as ordertrail's engine (db.make_engine).
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000",
                           "synchronous=NORMAL", "mmap_size=268435456"):
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg

            self.sql = f"INSERT INTO tracking_events ({cols}) VALUES ({', '.join(['%s'] * 10)})"
            conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            self.conn = psycopg.connect(conninfo)

    def row(self, sid: int, e: CarrierEvent, now: datetime) -> tuple[Any, ...]:
        """One parameter tuple, in the form the driver takes without conversion."""
        at = e.occurred_at.astimezone(UTC)
        fp = fingerprint(at, e.code, e.description, e.location, e.substatus)
        if self.sqlite:
            return (sid, fp, _sqlite_time(at), e.status, e.substatus, e.description, e.code,
                    e.location, SOURCE, _sqlite_time(now))
        return (sid, fp, at, e.status, e.substatus, e.description, e.code, e.location,
                SOURCE, now)

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """One transaction with one executemany."""
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(self.sql, rows)
            self.conn.execute("COMMIT")
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self.sql, rows)
            self.conn.commit()

    def settle(self) -> None:
        """SQLite: checkpoint the WAL, so that each side pays only for its own pages."""
        if self.sqlite:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()


def _prepare_round(engine: Engine, fleet: Fleet, raw: _Raw, batches: int,
                   mirrors: dict[str, int]) -> _Round:
    """Generate the round's batches and store the shipments they need (service + mirror)."""
    pushes = [fleet.batch() for _ in range(batches)]
    now = datetime.now(UTC)
    # Mirrors after the real ones: interleaved, they would halve how many of the shipments a
    # batch updates share a page, which no real database does to recent shipments.
    rows = [shipment_row(p.number, p.courier, p.registered_at, now) for p in fleet.created]
    rows += [shipment_row(f"RAW{p.number}", p.courier, p.registered_at, now)
             for p in fleet.created]
    fleet.created = []
    ids = store_shipments(engine, rows)
    for number, sid in ids.items():
        if number.startswith("RAW"):
            mirrors[number[3:]] = sid
    raw_batches = [[raw.row(mirrors[x.parcel.number], e, now) for x in batch for e in x.fresh]
                   for batch in pushes]
    return _Round(
        updates=[[x.update for x in batch] for batch in pushes], raw=raw_batches,
        fresh=sum(len(x.fresh) for b in pushes for x in b),
        received=sum(len(x.update.events) for b in pushes for x in b),
        duplicates=sum(x.duplicates for b in pushes for x in b),
        late=sum(x.late for b in pushes for x in b))


def run_service(engine: Engine, settings: Settings,
                batches: list[list[TrackingUpdate]]) -> tuple[float, IngestReport]:
    """Ingest each batch in its own write transaction; seconds and the summed report."""
    factory, clock = make_sessionmaker(engine), SystemClock()
    with factory() as session:  # a pooled connection, as a running server has one
        session.connection()
    total = IngestReport()
    t0 = time.perf_counter()
    for updates in batches:
        with write_session(factory) as session:
            report = ingest(Ctx(session, SYSTEM_ACTOR, clock, settings), PROVIDER, updates,
                            SOURCE)
        total.received += report.received
        total.stored += report.stored
        total.duplicates += report.duplicates
        total.unmatched += report.unmatched
        total.changed.extend(report.changed)
    return time.perf_counter() - t0, total


def run_raw(raw: _Raw, batches: list[list[tuple[Any, ...]]]) -> float:
    """The baseline: seconds to insert every batch, one transaction each."""
    t0 = time.perf_counter()
    for rows in batches:
        raw.insert(rows)
    return time.perf_counter() - t0


def measure(engine: Engine, url: str, database: str, settings: Settings, sizes: IngestSizes,
            progress: Callable[[str], None] = log) -> Figure:
    """Service vs raw executemany, alternating, ``sizes.rounds`` rounds on one database."""
    fleet = Fleet(sizes.updates)
    raw = _Raw(url)
    mirrors: dict[str, int] = {}
    service_rates: list[float] = []
    raw_rates: list[float] = []
    rounds: list[dict[str, Any]] = []
    consistent = True
    try:
        for r in range(sizes.rounds):
            rnd = _prepare_round(engine, fleet, raw, sizes.batches, mirrors)
            raw_s, svc_s, report = 0.0, 0.0, IngestReport()
            # The pre-built batches are the harness's, not the service's: frozen, the garbage
            # collector does not walk them again and again while the service allocates.
            gc.collect()
            gc.freeze()
            try:
                # Alternate the order so that a noisy neighbour hurts both alike.
                for side in ("raw", "service") if r % 2 == 0 else ("service", "raw"):
                    raw.settle()
                    if side == "raw":
                        raw_s = run_raw(raw, rnd.raw)
                    else:
                        svc_s, report = run_service(engine, settings, rnd.updates)
            finally:
                gc.unfreeze()
            ok = (report.stored, report.received, report.duplicates, report.unmatched) == (
                rnd.fresh, rnd.received, rnd.duplicates, 0)
            consistent = consistent and ok
            service_rates.append(report.stored / svc_s)
            raw_rates.append(rnd.fresh / raw_s)
            rounds.append({
                "service_events_per_s": round(report.stored / svc_s, 1),
                "service_received_per_s": round(report.received / svc_s, 1),
                "raw_rows_per_s": round(rnd.fresh / raw_s, 1),
                "stored": report.stored, "received": report.received,
                "duplicates": report.duplicates, "late_events": rnd.late,
                "status_changes": len(report.changed), "expected_stored": rnd.fresh,
                "consistent": ok, "service_s": round(svc_s, 3), "raw_s": round(raw_s, 3)})
            progress(f"{database}: ingest round {r + 1}: service {service_rates[-1]:,.0f} "
                     f"events/s, raw executemany {raw_rates[-1]:,.0f} rows/s "
                     f"({report.stored:,} stored, {report.duplicates:,} duplicates, "
                     f"{len(report.changed):,} status changes)")
    finally:
        raw.close()
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(TrackingEvent.__table__)
                              ).scalar_one()
    value, base = median(service_rates), median(raw_rates)
    ratio = value / base if base else 0.0
    detail: dict[str, Any] = {
        "updates_per_batch": sizes.updates, "batches_per_round": sizes.batches,
        "rounds": rounds, "parcels": fleet.serial - fleet.first_seq,
        "events_in_table_after": events, "consistent": consistent,
        "call": f'ingest(ctx, "{PROVIDER}", updates, "{SOURCE}"), one write transaction per '
                "batch",
        "workload": f"sim journeys, {min(EVENTS_PER_UPDATE)}-{max(EVENTS_PER_UPDATE)} new "
                    f"events per update, {DUPLICATE_RATE:.0%} of updates re-send a stored "
                    f"event, {LATE_RATE:.0%} hold one back (late, refold), no orders linked",
    }
    return Figure(
        name="ingest_events_batch", database=database, value=value, unit="events/s",
        baseline=base, baseline_of="raw DB-API executemany of the same tracking_events rows "
        "(mirror shipments), one transaction per batch",
        target=f">= {TARGET:,.0f} events/s and >= {TARGET_RATIO:.0%} of raw executemany",
        ok=value >= TARGET and ratio >= TARGET_RATIO and consistent, detail=detail)
