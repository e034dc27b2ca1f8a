"""HTTP API: outbound webhook subscriptions, their deliveries, replay and test (admin or
manager)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from ordertrail.api.deps import Reader, Writer, reader, writer
from ordertrail.context import Ctx
from ordertrail.webhooks import service, ssrf
from ordertrail.webhooks.schemas import (
    DeliveryPage,
    MessageRead,
    ReplayResult,
    ReplaySince,
    SecretRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Only admins and managers manage webhooks"},
    404: {"description": "Unknown webhook or message"},
    409: {"description": "The webhook is disabled"},
    422: {"description": "Invalid field, unknown event type, or a URL refused (SSRF rule)"},
}
WebhookId = Annotated[int, Path(ge=1)]


async def _check_url(w: Writer, url: str | None) -> None:
    """The SSRF rule, before the write transaction (name resolution can take a while)."""
    if url is not None:
        await run_in_threadpool(ssrf.check_url, url.strip(),
                                allow_private=w.state.settings.webhooks_allow_private)


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, responses=PROBLEMS)
async def create_webhook(body: WebhookCreate, w: Writer = Depends(writer)) -> Response:
    """Subscribe a URL to event types; the answer carries the signing secret, once."""
    service.check_events(body.events)
    await _check_url(w, body.url)

    def run(ctx: Ctx) -> WebhookCreated:
        row, secret = service.create_endpoint(ctx, body, check_address=False)
        return WebhookCreated(**service.read(row).model_dump(), secret=secret)

    return await w.arun(run, status_code=201)


@router.get("/webhooks", response_model=WebhookList, responses=PROBLEMS)
async def list_webhooks(r: Reader = Depends(reader)) -> Response:
    """Every subscription with its state and pending messages (never the secret)."""
    return await r.run(lambda ctx: WebhookList(items=service.list_endpoints(ctx)))


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead, responses=PROBLEMS)
async def get_webhook(webhook_id: WebhookId, r: Reader = Depends(reader)) -> Response:
    """One subscription."""
    return await r.run(lambda ctx: service.read_one(ctx, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookRead, responses=PROBLEMS)
async def update_webhook(webhook_id: WebhookId, body: WebhookUpdate,
                         w: Writer = Depends(writer)) -> Response:
    """Change URL, events, description, or enable/disable (enabling resets the streak)."""
    if body.events is not None:
        service.check_events(body.events)
    await _check_url(w, body.url)

    def run(ctx: Ctx) -> WebhookRead:
        service.update_endpoint(ctx, webhook_id, body, check_address=False)
        return service.read_one(ctx, webhook_id)

    return await w.arun(run)


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=PROBLEMS)
async def delete_webhook(webhook_id: WebhookId, w: Writer = Depends(writer)) -> Response:
    """Remove a subscription with its delivery log."""

    def run(ctx: Ctx) -> WebhookRead:
        row = service.read_one(ctx, webhook_id)
        service.delete_endpoint(ctx, webhook_id)
        return row

    await w.arun(run)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=SecretRead,
             responses=PROBLEMS)
async def rotate_secret(webhook_id: WebhookId, w: Writer = Depends(writer)) -> Response:
    """A new signing secret, used from the next delivery on; shown once."""
    return await w.arun(lambda ctx: SecretRead(id=webhook_id,
                                               secret=service.rotate_secret(ctx, webhook_id)))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage,
            responses=PROBLEMS)
async def deliveries(webhook_id: WebhookId,
                     state: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")]
                     = None,
                     event_type: Annotated[str | None, Query(max_length=64)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     before: Annotated[int | None, Query(ge=1)] = None,
                     r: Reader = Depends(reader)) -> Response:
    """The subscription's messages, newest first, each with its delivery attempts."""
    return await r.run(lambda ctx: service.deliveries(ctx, webhook_id, state=state,
                                                      event_type=event_type, limit=limit,
                                                      before=before))


@router.post("/webhooks/{webhook_id}/messages/{msg_id}/replay", status_code=202,
             response_model=MessageRead, responses=PROBLEMS)
async def replay_message(webhook_id: WebhookId,
                         msg_id: Annotated[str, Path(max_length=64)],
                         w: Writer = Depends(writer)) -> Response:
    """Send a message again, with the same webhook-id."""

    def run(ctx: Ctx) -> MessageRead:
        msg = service.replay(ctx, webhook_id, msg_id)
        return service.message_with_tries(ctx, msg)

    return await w.arun(run, status_code=202)


@router.post("/webhooks/{webhook_id}/replay", status_code=202, response_model=ReplayResult,
             responses=PROBLEMS)
async def replay_since(webhook_id: WebhookId, body: ReplaySince,
                       w: Writer = Depends(writer)) -> Response:
    """Send again every failed (or delivered) message created since a time."""

    def run(ctx: Ctx) -> ReplayResult:
        msgs = service.replay_since(ctx, webhook_id, body.since, body.state)
        return ReplayResult(replayed=len(msgs), msg_ids=[m.msg_id for m in msgs])

    return await w.arun(run, status_code=202)


@router.post("/webhooks/{webhook_id}/test", status_code=202, response_model=MessageRead,
             responses=PROBLEMS)
async def test_webhook(webhook_id: WebhookId, w: Writer = Depends(writer)) -> Response:
    """Queue a ``webhook.test`` message for this subscription."""

    def run(ctx: Ctx) -> MessageRead:
        msg = service.send_test(ctx, webhook_id)
        return service.message_read(msg, [])

    return await w.arun(run, status_code=202)
