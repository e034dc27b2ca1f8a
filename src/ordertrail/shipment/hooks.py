"""Carrier pushes: ``POST /api/v1/hooks/{provider}``, signed by the provider, no API key.

Order of work: find the provider, verify the signature on the raw bytes (401, nothing
stored, counted), parse (400 with the reason; the raw body goes to the dead-letter table),
then ingest and answer with the provider's documented acknowledgement, once committed.
Storing goes through the API's group commit (``api/commits.py``: the same writer threads as
the API's writes, so SQLite's write lock has one taker): the pushes that arrive together
share one transaction and one ``ingest()`` call, and a failed group is retried push by push.
Dead letters can be listed and replayed once the cause is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ordertrail import metrics
from ordertrail.api.deps import AppState, Reader, Writer, committer, get_state, reader, writer
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
from ordertrail.errors import Conflict, NotFound, OrdertrailError, Unauthorized
from ordertrail.i18n import Msg
from ordertrail.models import UnmatchedUpdate, WebhookDeadLetter
from ordertrail.order import service as orders
from ordertrail.shipment.accounts import cached_creds, creds_for
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


INLINE_BYTES = 64 * 1024  # larger bodies are verified and parsed in a worker thread


async def _creds(state: AppState, plugin: Provider) -> Credentials:
    """The provider's credentials; read in a worker thread only when not cached."""
    creds = cached_creds(state.factory, state.settings, plugin)
    if creds is None:
        creds = await run_in_threadpool(_read_creds, state, plugin)
    return creds


def _read_creds(state: AppState, plugin: Provider) -> Credentials:
    with state.factory() as session:
        return creds_for(session, state.settings, plugin)


def _verified(plugin: Provider, request: InboundRequest,
              creds: Credentials) -> list[TrackingUpdate]:
    """The push's updates: 401 unless signed; MalformedPayload (counted) unless readable."""
    try:
        plugin.verify(request, creds)
    except BadSignature as exc:
        metrics.WEBHOOKS.labels(plugin.slug, "bad_signature").inc()
        raise Unauthorized(Msg("The {provider} signature does not verify: {reason}",
                               {"provider": plugin.slug, "reason": exc.reason}),
                           code="bad_signature") from None
    try:
        return plugin.parse_push(request)
    except MalformedPayload:
        metrics.WEBHOOKS.labels(plugin.slug, "malformed").inc()
        raise


class _Pushes:
    """Stores a group's pushes for one provider with one ``ingest()`` call (a merge function
    of the group commit: one item per push, its updates)."""

    __slots__ = ("slug", "state")

    def __init__(self, state: AppState, slug: str) -> None:
        self.state, self.slug = state, slug

    def __call__(self, session: Session, items: list[list[TrackingUpdate]]) -> list[None]:
        # Ingestion is batched, idempotent and order-independent, so a group stores what its
        # pushes would have stored one by one (a shipment pushed twice in one group gets one
        # status-change event for both).
        state = self.state
        ingest(Ctx(session, SYSTEM_ACTOR, state.clock, state.settings), self.slug,
               [u for updates in items for u in updates], "push")
        return [None] * len(items)


def _dead_letter(slug: str, request: InboundRequest, reason: str, at: datetime,
                 ) -> Callable[[Session], int]:
    """The group-commit job that keeps an unreadable push; returns its id."""
    def job(session: Session) -> int:
        return int(session.execute(insert(WebhookDeadLetter.__table__).returning(
            WebhookDeadLetter.__table__.c.id), {
            "provider": slug, "received_at": at,
            "content_type": request.content_type or None,
            "headers": {k: v for k, v in request.headers.items()},
            "query": dict(request.query), "body": request.body, "reason": reason[:2000],
            "replayed_at": None, "replay_result": None, "replay_count": 0}).scalar_one())

    return job


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
    creds = await _creds(state, plugin)
    commits = committer(state)
    try:
        # A small push is verified and parsed here: cheaper than a hop to a worker thread.
        if len(body) <= INLINE_BYTES:
            updates = _verified(plugin, inbound, creds)
        else:
            updates = await run_in_threadpool(_verified, plugin, inbound, creds)
    except MalformedPayload as exc:
        dead_id = await commits.run(
            _dead_letter(plugin.slug, inbound, exc.reason, state.clock.now()))
        raise BadPayload(Msg("The {provider} payload cannot be read: {reason}",
                             {"provider": plugin.slug, "reason": exc.reason}),
                         dead_letter_id=dead_id) from None
    # The pushes of a group share one ingest() call; answered once that group committed.
    await commits.run_batched(("push", plugin.slug), updates, _Pushes(state, plugin.slug))
    metrics.WEBHOOKS.labels(plugin.slug, "accepted").inc()
    ack = plugin.ack(True)
    return Response(ack.body, status_code=ack.status_code, media_type=ack.media_type)


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
