"""The simulated carrier as a real HTTP service: registrations, polls and signed pushes.

State lives in memory (it is a simulator). A background task moves events that have come
due into one queue per callback URL and pushes them in the generic format, signed with the
Standard Webhooks scheme. A push that fails is retried with capped exponential backoff, and
nothing behind it overtakes it, so nothing is lost and order per receiver is kept — except
where the simulator is told to misbehave: ``duplicate_rate`` sends a push twice (the second
time under a new ``webhook-id``) and ``reorder_rate`` holds an event back and pushes it after
the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import httpx
from fastapi import Body, Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ordertrail.carrier.base import TrackingUpdate
from ordertrail.carrier.generic import parse, signing
from ordertrail.carrier.sim import journey as jr

log = logging.getLogger("ordertrail.sim")

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
MAX_ITEMS = 1000


class SimConfig(BaseModel):
    """Knobs of a running simulator; ``POST /v1/config`` changes any of them."""

    model_config = ConfigDict(extra="forbid")

    speed: Annotated[float, Field(gt=0)] = 3600.0  # simulated seconds per real second
    seed: int = 0
    delay_rate: Rate = 0.10
    failed_attempt_rate: Rate = 0.08
    return_rate: Rate = 0.03
    lost_rate: Rate = 0.01
    locker_rate: Rate = 0.15
    customs_rate: Rate = 0.25
    duplicate_rate: Rate = 0.05
    reorder_rate: Rate = 0.05
    fail_polls: Literal["429", "503"] | None = None
    tick_seconds: Annotated[float, Field(gt=0, le=10)] = 0.2
    retry_base_seconds: Annotated[float, Field(gt=0)] = 1.0
    retry_max_seconds: Annotated[float, Field(gt=0)] = 60.0
    push_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0

    @model_validator(mode="after")
    def _rates_add_up(self) -> SimConfig:
        self.rates()
        return self

    def rates(self) -> jr.Rates:
        """The journey scenario rates (ValueError when they add up to more than 1)."""
        return jr.Rates(self.delay_rate, self.failed_attempt_rate, self.return_rate,
                        self.lost_rate, self.locker_rate, self.customs_rate)


class RegisterItem(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    tracking_number: Annotated[str, Field(min_length=1, max_length=100)]
    courier: str | None = None
    scenario: str | None = None
    destination_city: str | None = None


class RegisterBody(BaseModel):
    callback_url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)]
    items: Annotated[list[RegisterItem], Field(max_length=MAX_ITEMS)]


class TrackBody(BaseModel):
    numbers: Annotated[list[str], Field(max_length=MAX_ITEMS)]


@dataclass
class Parcel:
    """A registered number: its journey and how much of it has been handed to the pusher."""

    journey: jr.Journey
    callback_url: str
    registered_at: datetime
    speed: float          # fixed at registration: later speed changes never reorder stamps
    queued: int = 0       # events up to here are in a push queue (or held back)
    held: int | None = None
    pushed: set[int] = field(default_factory=set)

    def due_at(self, index: int) -> datetime:
        """The real time event ``index`` is (or was) due."""
        return jr.due_at(self.registered_at, self.journey.events[index].offset, self.speed)

    def due_count(self, now: datetime) -> int:
        """How many events are due at ``now`` (they come due in order)."""
        count = 0
        while count < len(self.journey.events) and self.due_at(count) <= now:
            count += 1
        return count

    def update(self, indices: list[int], stopped: bool) -> TrackingUpdate:
        """These events, stamped, with the promise as of the latest of them."""
        events = self.journey.events
        eta = events[max(indices)].eta if indices else None
        return TrackingUpdate(
            tracking_number=self.journey.tracking_number,
            events=tuple(jr.carrier_event(events[i], self.registered_at, self.speed)
                         for i in indices),
            courier=self.journey.courier,
            estimated_delivery=(jr.due_at(self.registered_at, eta, self.speed)
                                if eta is not None else None),
            stopped=stopped)


@dataclass(frozen=True, slots=True)
class Entry:
    number: str
    index: int
    new_message: bool = False   # a held-back event travels in a push of its own


@dataclass
class Message:
    id: str
    entries: list[Entry]
    body: bytes
    duplicate: bool = False


@dataclass
class Outbox:
    """Pushes waiting for one callback URL; one message in flight, retried until accepted."""

    url: str
    pending: deque[Entry] = field(default_factory=deque)
    inflight: Message | None = None
    attempts: int = 0
    next_attempt: float = 0.0
    delivered: int = 0
    failures: int = 0
    last_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Simulator:
    """The in-memory carrier: registration, polling, and what the pusher sends."""

    def __init__(self, secret: str, config: SimConfig,
                 clock: Callable[[], datetime] | None = None) -> None:
        signing.secret_key(secret)  # refuse an unusable secret now, not at the first push
        self.secret = secret
        self.config = config
        self.clock = clock or (lambda: datetime.now(UTC))
        self.parcels: dict[str, Parcel] = {}
        self.active: set[str] = set()
        self.outboxes: dict[str, Outbox] = {}
        self.rng = random.Random(f"ordertrail-sim-pusher:{config.seed}")

    def register(self, body: RegisterBody) -> dict[str, Any]:
        """Plan a journey for each new number; a known number keeps its journey."""
        accepted: list[str] = []
        rejected: dict[str, str] = {}
        now = self.clock()
        for item in body.items:
            number = item.tracking_number
            parcel = self.parcels.get(number)
            if parcel is not None:
                if parcel.callback_url != body.callback_url:
                    self._move(number, parcel.callback_url, body.callback_url)
                    parcel.callback_url = body.callback_url
                accepted.append(number)
                continue
            try:
                plan = jr.plan(number, item.courier, now, item.scenario, self.config.rates(),
                               self.config.seed, item.destination_city)
            except ValueError as exc:
                rejected[number] = str(exc)
                continue
            self.parcels[number] = Parcel(plan, body.callback_url, now, self.config.speed)
            self.active.add(number)
            accepted.append(number)
        return {"accepted": accepted, "rejected": rejected}

    def _move(self, number: str, old: str, new: str) -> None:
        """Send what is still undelivered for ``number`` to its new callback URL."""
        source = self.outboxes.get(old)
        if source is None:
            return
        moving: list[Entry] = []
        if source.inflight and any(e.number == number for e in source.inflight.entries):
            # Unfreeze the message being retried; the other numbers in it wait at the front.
            moving = [e for e in source.inflight.entries if e.number == number]
            source.pending.extendleft(reversed(
                [e for e in source.inflight.entries if e.number != number]))
            source.inflight, source.attempts, source.next_attempt = None, 0, 0.0
        moving += [e for e in source.pending if e.number == number]
        source.pending = deque(e for e in source.pending if e.number != number)
        self.outboxes.setdefault(new, Outbox(new)).pending.extend(moving)

    def track(self, numbers: list[str]) -> dict[str, Any]:
        """The events due so far for each known number, in journey order."""
        now = self.clock()
        updates = []
        for number in dict.fromkeys(n.strip() for n in numbers):
            parcel = self.parcels.get(number)
            if parcel is None:
                continue
            count = parcel.due_count(now)
            updates.append(parcel.update(list(range(count)),
                                         stopped=count == len(parcel.journey.events)))
        return parse.body_json(updates)

    def collect(self) -> None:
        """Queue the events that have come due; some are held back when reordering."""
        now = self.clock()
        for number in list(self.active):
            parcel = self.parcels[number]
            due = parcel.due_count(now)
            last = len(parcel.journey.events) - 1
            outbox = self.outboxes.setdefault(parcel.callback_url, Outbox(parcel.callback_url))
            for index in range(parcel.queued, due):
                if (parcel.held is None and index < last
                        and self.rng.random() < self.config.reorder_rate):
                    parcel.held = index
                    continue
                outbox.pending.append(Entry(number, index))
                if parcel.held is not None:
                    outbox.pending.append(Entry(number, parcel.held, new_message=True))
                    parcel.held = None
            parcel.queued = due
            if due > last and parcel.held is None:
                self.active.discard(number)

    def next_message(self, outbox: Outbox) -> Message | None:
        """Freeze the next push for a receiver from its queue."""
        if not outbox.pending:
            return None
        entries = [outbox.pending.popleft()]
        numbers = {entries[0].number: None}   # a dict keeps first-seen order
        while outbox.pending and not outbox.pending[0].new_message:
            if outbox.pending[0].number not in numbers and len(numbers) >= parse.MAX_UPDATES:
                break
            entries.append(outbox.pending.popleft())
            numbers[entries[-1].number] = None
        waiting = {e.number for e in outbox.pending}
        updates = []
        for number in numbers:
            parcel = self.parcels[number]
            indices = [e.index for e in entries if e.number == number]
            done = (number not in self.active and number not in waiting
                    and parcel.queued == len(parcel.journey.events))
            updates.append(parcel.update(indices, stopped=done))
        body = json.dumps(parse.body_json(updates), ensure_ascii=False).encode()
        return Message(f"msg_{uuid.uuid4().hex}", entries, body)

    def sent(self, outbox: Outbox, message: Message) -> None:
        """A message was accepted; maybe send it again (a duplicate)."""
        for entry in message.entries:
            self.parcels[entry.number].pushed.add(entry.index)
        outbox.delivered += 1
        if outbox.inflight is not message:  # unfrozen by a re-registration meanwhile
            return
        outbox.attempts = 0
        outbox.inflight = None
        if not message.duplicate and self.rng.random() < self.config.duplicate_rate:
            outbox.inflight = Message(f"msg_{uuid.uuid4().hex}", message.entries, message.body,
                                      duplicate=True)

    def failed(self, outbox: Outbox, message: Message | None, error: str) -> None:
        """The receiver did not accept the push: try again after a growing pause."""
        outbox.failures += 1
        outbox.last_error = error
        if message is not None and outbox.inflight is not message:
            return
        outbox.attempts += 1
        pause = min(self.config.retry_max_seconds,
                    self.config.retry_base_seconds * 2 ** (outbox.attempts - 1))
        outbox.next_attempt = time.monotonic() + pause * self.rng.uniform(0.8, 1.0)
        log.info("push to %s failed (%s); attempt %d, retrying in %.1f s", outbox.url, error,
                 outbox.attempts, pause)

    def journey_view(self, number: str) -> dict[str, Any] | None:
        """The whole plan of a number with what has happened so far (debugging)."""
        parcel = self.parcels.get(number)
        if parcel is None:
            return None
        now = self.clock()
        j = parcel.journey
        return {
            "tracking_number": j.tracking_number, "courier": j.courier,
            "courier_name": j.courier_name, "scenario": j.scenario,
            "cross_border": j.cross_border, "language": j.language, "origin": j.origin,
            "destination": j.destination, "callback_url": parcel.callback_url,
            "registered_at": parcel.registered_at.isoformat(), "speed": parcel.speed,
            "events": [{
                "index": i, "offset_seconds": e.offset.total_seconds(),
                "due_at": parcel.due_at(i).isoformat(), "due": parcel.due_at(i) <= now,
                "pushed": i in parcel.pushed, "status": e.status, "substatus": e.substatus,
                "description": e.description, "code": e.code, "location": e.location,
                "eta_offset_seconds": e.eta.total_seconds() if e.eta is not None else None,
            } for i, e in enumerate(j.events)],
        }


async def _push(sim: Simulator, outbox: Outbox, http: httpx.AsyncClient) -> None:
    """One attempt at the receiver's next message."""
    if outbox.inflight is None:
        outbox.inflight = sim.next_message(outbox)
    message = outbox.inflight
    if message is None:
        return
    headers = signing.sign(message.body, sim.secret, message.id, int(time.time()))
    headers["content-type"] = "application/json"
    try:
        response = await http.post(outbox.url, content=message.body, headers=headers,
                                   timeout=sim.config.push_timeout_seconds)
    except httpx.HTTPError as exc:
        sim.failed(outbox, message, f"{type(exc).__name__}: {exc}".strip().rstrip(":"))
        return
    if response.is_success:
        sim.sent(outbox, message)
    else:
        sim.failed(outbox, message, f"HTTP {response.status_code}")


async def _guarded(sim: Simulator, outbox: Outbox, http: httpx.AsyncClient) -> None:
    try:
        await _push(sim, outbox, http)
    except Exception as exc:  # a bug in one push must not stop the others: count it, retry
        log.exception("push to %s crashed", outbox.url)
        sim.failed(outbox, None, f"{type(exc).__name__}: {exc}")


async def run_pusher(sim: Simulator, http: httpx.AsyncClient) -> None:
    """Forever: queue due events, start a push for every receiver that is ready, sleep."""
    try:
        while True:
            sim.collect()
            now = time.monotonic()
            for outbox in sim.outboxes.values():
                busy = outbox.task is not None and not outbox.task.done()
                if (outbox.inflight or outbox.pending) and outbox.next_attempt <= now \
                        and not busy:
                    # One task per receiver: a slow one never holds up the others.
                    outbox.task = asyncio.create_task(_guarded(sim, outbox, http))
            await asyncio.sleep(sim.config.tick_seconds)
    finally:
        tasks = [o.task for o in sim.outboxes.values() if o.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def create_sim_app(secret: str, config: SimConfig | None = None, *,
                   clock: Callable[[], datetime] | None = None,
                   transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The simulator's FastAPI app; it pushes while the app's lifespan runs."""
    sim = Simulator(secret, config or SimConfig(), clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=transport) as http:
            task = asyncio.create_task(run_pusher(sim, http))
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPIOffline(title="ordertrail simulated carrier", lifespan=lifespan,
                         openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.sim = sim
    expected = f"Bearer {secret}".encode()

    def authorized(authorization: Annotated[str, Header()] = "") -> None:
        if not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(401, "send Authorization: Bearer <sim secret>",
                                headers={"WWW-Authenticate": "Bearer"})

    def refused() -> JSONResponse | None:
        if sim.config.fail_polls == "429":
            return JSONResponse({"detail": "too many requests (simulated)"}, 429,
                                headers={"Retry-After": "1"})
        if sim.config.fail_polls == "503":
            return JSONResponse({"detail": "service unavailable (simulated)"}, 503,
                                headers={"Retry-After": "1"})
        return None

    guard = [Depends(authorized)]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    @app.post("/v1/register", dependencies=guard, response_model=None)
    async def register(body: RegisterBody) -> dict[str, Any] | JSONResponse:
        """Subscribe numbers; their events will be pushed to ``callback_url``."""
        return refused() or sim.register(body)

    @app.post("/v1/track", dependencies=guard, response_model=None)
    async def track(body: TrackBody) -> dict[str, Any] | JSONResponse:
        """The events due so far for each registered number (generic format)."""
        return refused() or sim.track(body.numbers)

    @app.get("/v1/journeys/{number}", dependencies=guard)
    async def journey(number: str) -> dict[str, Any]:
        """The full plan of a number and what is due and pushed (debugging)."""
        view = sim.journey_view(number)
        if view is None:
            raise HTTPException(404, f"{number} is not registered")
        return view

    @app.get("/v1/callbacks", dependencies=guard)
    async def callbacks() -> list[dict[str, Any]]:
        """Each receiver's queue: waiting events, pushes delivered, failures, last error."""
        return [{"url": o.url, "pending": len(o.pending) + len(o.inflight.entries
                                                                if o.inflight else ()),
                 "delivered": o.delivered, "failures": o.failures,
                 "attempts": o.attempts, "last_error": o.last_error}
                for o in sim.outboxes.values()]

    @app.get("/v1/config", dependencies=guard)
    async def get_config() -> SimConfig:
        """The current knobs."""
        return sim.config

    @app.post("/v1/config", dependencies=guard)
    async def set_config(update: Annotated[dict[str, Any], Body(
            examples=[{"lost_rate": 0.3, "fail_polls": "429"}])]) -> SimConfig:
        """Change the knobs sent; rates and speed apply to registrations from now on."""
        merged = {**sim.config.model_dump(), **update}
        try:
            sim.config = SimConfig.model_validate(merged)
        except ValidationError as exc:
            raise HTTPException(422, [{"loc": e["loc"], "msg": e["msg"]}
                                      for e in exc.errors()]) from None
        return sim.config

    return app
