"""Carrier pushes: ``POST /api/v1/hooks/{provider}``, signed by the provider, no API key.

Order of work: find the provider, verify the signature on the raw bytes (401, nothing
stored, counted), parse (400 with the reason; the raw body goes to the dead-letter table),
then ingest in one transaction and answer with the provider's documented acknowledgement,
once committed. Pushes that arrive together share that transaction (``_Pushes``: group
commit, one worker-thread hop per group). Dead letters can be listed and replayed once the
cause is fixed.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from ordertrail import metrics
from ordertrail.api.deps import AppState, Reader, Writer, get_state, reader, writer
from ordertrail.carrier import registry
from ordertrail.carrier.base import (
    BadSignature,
    Credentials,
    InboundRequest,
    MalformedPayload,
    Provider,
    TrackingUpdate,
)
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import begin_write, write_lock
from ordertrail.errors import Conflict, NotFound, OrdertrailError, Unauthorized
from ordertrail.i18n import Msg
from ordertrail.models import UnmatchedUpdate, WebhookDeadLetter
from ordertrail.order import service as orders
from ordertrail.shipment.accounts import creds_for
from ordertrail.shipment.ingest import IngestReport, ingest

router = APIRouter(prefix="/api/v1/hooks", tags=["carrier hooks"])
ADMIN_ROLES: tuple[str, ...] = ("service", "manager")
_KEEP_HEADERS = ("content-type", "user-agent")


class BadPayload(OrdertrailError):
    status, code, title = 400, "malformed_payload", "Malformed payload"


class DeadLetterRead(BaseModel):
    id: int
    provider: str
    received_at: datetime
    content_type: str | None
    reason: str
    body: str
    replayed_at: datetime | None
    replay_result: str | None
    replay_count: int


class DeadLetterPage(BaseModel):
    items: list[DeadLetterRead]


class ReplayResult(BaseModel):
    id: int
    ok: bool
    reason: str | None
    stored: int
    duplicates: int
    unmatched: int


class UnmatchedRead(BaseModel):
    id: int
    provider: str
    tracking_number: str
    courier: str | None
    received_at: datetime
    events: int


class UnmatchedPage(BaseModel):
    items: list[UnmatchedRead]


def _provider(slug: str) -> Provider:
    plugin = registry.get(slug)
    if plugin is None:
        metrics.WEBHOOKS.labels("unknown", "unknown_provider").inc()
        raise NotFound(Msg("No tracking provider {provider}; known: {known}.",
                           {"provider": slug, "known": sorted(registry.providers())}),
                       code="unknown_provider")
    return plugin


class _Push:
    """One push as received, and what became of it (a Response or the error to raise)."""

    __slots__ = ("outcome", "plugin", "request", "state", "updates")

    def __init__(self, state: AppState, plugin: Provider, request: InboundRequest) -> None:
        self.state, self.plugin, self.request = state, plugin, request
        self.updates: list[TrackingUpdate] | None = None
        self.outcome: Response | Exception | None = None


class _Pushes:
    """Group commit of pushes: those that arrive while groups are stored share the next one."""

    # One worker-thread hop per group instead of one per push: the group verifies each push's
    # signature (credentials read once per provider), parses it, and stores every readable
    # push in one transaction. Ingestion is batched, idempotent and order-independent, so a
    # group stores what its pushes would have stored one by one (a shipment pushed twice in
    # one group gets one status-change event for both). Each push is answered only after the
    # commit that holds it; nothing waits for a group to fill: a push is taken at once while
    # fewer than ``limit`` groups are being stored (1 on SQLite, whose writers queue anyway;
    # 2 on PostgreSQL, where a group's commit waits about 4 ms for the disk; more groups in
    # flight made smaller groups and cost more CPU per push than they saved). If a group's
    # transaction fails, each of its pushes is retried in its own, so one bad push never fails
    # the others. One batcher per event loop and database engine.

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._waiting: list[tuple[_Push, asyncio.Future[Response]]] = []
        self._running: set[asyncio.Task[None]] = set()
        # Own threads, one per group in flight: lighter than a hop through the shared
        # thread pool (no capacity limiter, no cancel scope).
        self._threads = ThreadPoolExecutor(max_workers=limit,
                                           thread_name_prefix="ordertrail-hooks")

    async def submit(self, push: _Push) -> Response:
        """Queue a push and wait for its answer (raises the push's error)."""
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting.append((push, future))
        self._start()
        return await future

    def _start(self) -> None:
        if self._waiting and len(self._running) < self._limit:
            group, self._waiting = self._waiting, []
            task = asyncio.get_running_loop().create_task(self._store(group))
            self._running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _store(self, group: list[tuple[_Push, asyncio.Future[Response]]]) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._threads, _handle, [push for push, _ in group])
        finally:
            for push, future in group:
                if future.done():  # the client went away
                    continue
                if isinstance(push.outcome, Response):
                    future.set_result(push.outcome)
                else:
                    future.set_exception(push.outcome or RuntimeError("the push was not stored"))


_BATCHERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Engine, _Pushes]] = (
    weakref.WeakKeyDictionary())


def _batcher(engine: Engine) -> _Pushes:
    per_engine = _BATCHERS.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    batcher = per_engine.get(engine)
    if batcher is None:
        batcher = per_engine[engine] = _Pushes(1 if engine.dialect.name == "sqlite" else 2)
    return batcher


def _handle(group: list[_Push]) -> None:
    """Verify, parse and store a group of pushes (in a worker thread); sets each outcome."""
    sessions: dict[tuple[int, str], Session] = {}  # one per provider, for creds then writes
    creds: dict[tuple[int, str], Credentials] = {}
    ready: dict[tuple[int, str], list[_Push]] = {}
    try:
        for push in group:
            try:
                key = (id(push.state), push.plugin.slug)
                if key not in creds:
                    session = sessions[key] = push.state.factory()
                    creds[key] = creds_for(session, push.state.settings, push.plugin)
                    session.close()  # a credentials read must not open the write transaction
                push.updates = _verified(push.state, push.plugin, push.request, creds[key])
                ready.setdefault(key, []).append(push)
            except Exception as exc:  # noqa: BLE001 - raised again for this push alone
                push.outcome = exc
        for key, pushes in ready.items():
            _store_group(sessions[key], pushes)
    finally:
        for session in sessions.values():
            session.close()


def _store_group(session: Session, pushes: list[_Push]) -> None:
    """One transaction for the group; if it fails, one per push."""
    state, slug = pushes[0].state, pushes[0].plugin.slug
    stored: list[_Push] = []
    try:
        _store(state, session, slug, [u for p in pushes for u in p.updates or ()])
        stored = pushes
    except Exception:  # noqa: BLE001 - each push is retried on its own, below
        pass
    if not stored:  # (outside the except block: a push's own error is not chained to it)
        for push in pushes:
            try:
                with state.factory() as alone:
                    _store(state, alone, slug, push.updates or [])
                stored.append(push)
            except Exception as exc:  # noqa: BLE001 - raised again for this push alone
                push.outcome = exc
    if stored:
        metrics.WEBHOOKS.labels(slug, "accepted").inc(len(stored))
    for push in stored:
        ack = push.plugin.ack(True)
        push.outcome = Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)


def _verified(state: AppState, plugin: Provider, request: InboundRequest,
              creds: Credentials) -> list[TrackingUpdate]:
    """The push's updates: 401 unless signed, 400 (and a dead letter) unless readable."""
    try:
        plugin.verify(request, creds)
    except BadSignature as exc:
        metrics.WEBHOOKS.labels(plugin.slug, "bad_signature").inc()
        raise Unauthorized(Msg("The {provider} signature does not verify: {reason}",
                               {"provider": plugin.slug, "reason": exc.reason}),
                           code="bad_signature") from None
    try:
        return plugin.parse_push(request)
    except MalformedPayload as exc:
        metrics.WEBHOOKS.labels(plugin.slug, "malformed").inc()
        dead_id = _dead_letter(state, plugin.slug, request, exc.reason)
        raise BadPayload(Msg("The {provider} payload cannot be read: {reason}",
                             {"provider": plugin.slug, "reason": exc.reason}),
                         dead_letter_id=dead_id) from None


def _store(state: AppState, session: Session, slug: str,
           updates: list[TrackingUpdate]) -> None:
    """Ingest in one write transaction of ``session``."""
    with write_lock(state.engine):
        begin_write(session)
        try:
            ingest(Ctx(session, SYSTEM_ACTOR, state.clock, state.settings), slug, updates,
                   "push")
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _dead_letter(state: AppState, slug: str, request: InboundRequest, reason: str) -> int:
    with write_lock(state.engine), state.factory() as session:
        begin_write(session)
        dead_id = session.execute(insert(WebhookDeadLetter.__table__).returning(
            WebhookDeadLetter.__table__.c.id), {
            "provider": slug, "received_at": state.clock.now(),
            "content_type": request.content_type or None,
            "headers": {k: v for k, v in request.headers.items()},
            "query": dict(request.query), "body": request.body, "reason": reason[:2000],
            "replayed_at": None, "replay_result": None, "replay_count": 0}).scalar_one()
        session.commit()
    return int(dead_id)


@router.post("/{provider}", responses={
    200: {"description": "Accepted; the body is the provider's documented acknowledgement"},
    400: {"description": "Malformed payload; kept as a dead letter"},
    401: {"description": "Missing or wrong signature; nothing stored"},
    404: {"description": "Unknown provider"}})
async def receive(provider: Annotated[str, Path(max_length=32)], request: Request) -> Response:
    """A carrier push. Authenticated by the provider's signature, not by an API key."""
    plugin = _provider(provider)
    state = await get_state(request)  # called, not a Depends: no dependency solving per push
    body = await request.body()
    inbound = InboundRequest(headers={k.lower(): v for k, v in request.headers.items()},
                             body=body, query=dict(request.query_params),
                             content_type=request.headers.get("content-type", ""))
    return await _batcher(state.engine).submit(_Push(state, plugin, inbound))


def _dead_read(row: WebhookDeadLetter) -> DeadLetterRead:
    return DeadLetterRead(id=row.id, provider=row.provider, received_at=row.received_at,
                          content_type=row.content_type, reason=row.reason,
                          body=row.body.decode("utf-8", "replace"),
                          replayed_at=row.replayed_at, replay_result=row.replay_result,
                          replay_count=row.replay_count)


def list_dead_letters(ctx: Ctx, include_replayed: bool = False) -> DeadLetterPage:
    """Pushes that could not be read, newest first."""
    orders.require_role(ctx, ADMIN_ROLES, Msg("read carrier dead letters"))
    stmt = select(WebhookDeadLetter).order_by(WebhookDeadLetter.id.desc()).limit(200)
    if not include_replayed:
        stmt = stmt.where(WebhookDeadLetter.replayed_at.is_(None))
    return DeadLetterPage(items=[_dead_read(r) for r in ctx.session.scalars(stmt)])


def replay(ctx: Ctx, dead_id: int) -> ReplayResult:
    """Parse a dead letter again (its signature was checked on arrival) and ingest it."""
    orders.require_role(ctx, ADMIN_ROLES, Msg("replay carrier dead letters"))
    row = ctx.session.get(WebhookDeadLetter, dead_id)
    if row is None:
        raise NotFound(Msg("No dead letter {id}.", {"id": dead_id}), code="unknown_dead_letter")
    if row.replayed_at is not None:
        raise Conflict(Msg("Dead letter {id} was replayed already.", {"id": dead_id}),
                       code="already_replayed")
    plugin = _provider(row.provider)
    request = InboundRequest(headers=row.headers, body=row.body, query=row.query,
                             content_type=row.content_type or "")
    row.replay_count += 1
    try:
        updates = plugin.parse_push(request)
    except MalformedPayload as exc:
        row.replay_result = exc.reason[:2000]
        return ReplayResult(id=row.id, ok=False, reason=exc.reason, stored=0, duplicates=0,
                            unmatched=0)
    report: IngestReport = ingest(ctx, plugin.slug, updates, "push")
    row.replayed_at = ctx.clock.now()
    row.replay_result = f"stored {report.stored}, duplicates {report.duplicates}"
    return ReplayResult(id=row.id, ok=True, reason=None, stored=report.stored,
                        duplicates=report.duplicates, unmatched=report.unmatched)


def list_unmatched(ctx: Ctx) -> UnmatchedPage:
    """Updates for numbers no shipment has yet, newest first."""
    stmt = (select(UnmatchedUpdate).where(UnmatchedUpdate.attached_at.is_(None))
            .order_by(UnmatchedUpdate.id.desc()).limit(200))
    return UnmatchedPage(items=[
        UnmatchedRead(id=r.id, provider=r.provider, tracking_number=r.tracking_number,
                      courier=r.courier, received_at=r.received_at,
                      events=len(r.payload.get("events") or ()))
        for r in ctx.session.scalars(stmt)])


@router.get("/dead-letters", response_model=DeadLetterPage)
async def dead_letters(include_replayed: bool = False,
                       r: Reader = Depends(reader)) -> Response:
    """Signed pushes that could not be read, kept raw."""
    return await r.run(lambda ctx: list_dead_letters(ctx, include_replayed))


@router.post("/dead-letters/{dead_id}/replay", response_model=ReplayResult)
async def replay_dead_letter(dead_id: Annotated[int, Path(ge=1)],
                             w: Writer = Depends(writer)) -> Response:
    """Read a dead letter again, e.g. after a fix; ingestion is idempotent."""
    return await w.arun(lambda ctx: replay(ctx, dead_id))


@router.get("/unmatched", response_model=UnmatchedPage)
async def unmatched(r: Reader = Depends(reader)) -> Response:
    """Pushes for tracking numbers no shipment has yet; attached when one is created."""
    return await r.run(list_unmatched)
