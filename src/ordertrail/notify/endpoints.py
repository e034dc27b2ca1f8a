"""HTTP API: notification channels, templates, the delivery log, the recording channel."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ordertrail.api.deps import AppState, Reader, Writer, get_state, reader, writer
from ordertrail.context import Ctx
from ordertrail.models.notify import Notification, NotificationChannel, RecordedMessage
from ordertrail.notify import channels, sender, service
from ordertrail.notify.schemas import (
    ChannelCreate,
    ChannelList,
    ChannelRead,
    ChannelUpdate,
    NotificationPage,
    NotificationRead,
    RecordedList,
    RecordedRead,
    TemplateList,
    TemplatePut,
    TemplateRead,
)

router = APIRouter(prefix="/api/v1", tags=["notifications"])
PROBLEMS = {
    401: {"description": "Missing or unknown API key"},
    403: {"description": "Your role may not do this"},
    404: {"description": "Unknown channel or template"},
    422: {"description": "Invalid field, channel URL or template (the reason is given)"},
}
ChannelId = Annotated[int, Path(ge=1)]
Kind = Annotated[str, Path(max_length=40)]
Locale = Annotated[str, Path(max_length=8)]


def channel_read(row: NotificationChannel) -> ChannelRead:
    return ChannelRead(id=row.id, owner_type=row.owner_type, owner=row.owner, kind=row.kind,
                       url=channels.mask_url(row.url), locale=row.locale,
                       quiet_calendar=row.quiet_calendar, digest=row.digest,
                       enabled=row.enabled, created_at=row.created_at)


def notification_read(row: Notification) -> NotificationRead:
    return NotificationRead.model_validate(row, from_attributes=True)


def template_read(info: service.TemplateInfo) -> TemplateRead:
    return TemplateRead(kind=info.kind, locale=info.locale, source=info.source,
                        overridden=info.overridden, updated_at=info.updated_at,
                        preview_subject=info.preview.subject, preview_body=info.preview.body)


def recorded_read(row: RecordedMessage) -> RecordedRead:
    return RecordedRead.model_validate(row, from_attributes=True)


class Deleted(BaseModel):
    id: int
    deleted: bool = True


class TestResult(BaseModel):
    notification_id: int
    state: str
    last_error: str | None


# -- channels --------------------------------------------------------------------------------


@router.post("/notification-channels", status_code=201, response_model=ChannelRead,
             responses=PROBLEMS)
async def create_channel(body: ChannelCreate, w: Writer = Depends(writer)) -> Response:
    """Add a channel (an Apprise URL) for a user or a role; the URL is validated."""
    return await w.arun(lambda ctx: channel_read(service.create_channel(ctx, body)),
                        status_code=201)


@router.get("/notification-channels", response_model=ChannelList, responses=PROBLEMS)
async def list_channels(
    owner_type: Annotated[Literal["user", "role"] | None, Query()] = None,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    r: Reader = Depends(reader),
) -> Response:
    """Channels you may see (yours; all for admin and manager). URLs are masked."""
    return await r.run(lambda ctx: ChannelList(channels=[
        channel_read(c) for c in service.list_channels(ctx, owner_type, owner)]))


@router.get("/notification-channels/{channel_id}", response_model=ChannelRead,
            responses=PROBLEMS)
async def get_channel(channel_id: ChannelId, r: Reader = Depends(reader)) -> Response:
    """One channel."""
    return await r.run(lambda ctx: channel_read(service.get_channel(ctx, channel_id)))


@router.patch("/notification-channels/{channel_id}", response_model=ChannelRead,
              responses=PROBLEMS)
async def update_channel(channel_id: ChannelId, body: ChannelUpdate,
                         w: Writer = Depends(writer)) -> Response:
    """Change a channel's URL, locale, quiet hours, digest or enabled flag."""
    return await w.arun(lambda ctx: channel_read(service.update_channel(ctx, channel_id, body)))


@router.delete("/notification-channels/{channel_id}", response_model=Deleted,
               responses=PROBLEMS)
async def delete_channel(channel_id: ChannelId, w: Writer = Depends(writer)) -> Response:
    """Remove a channel (its past deliveries stay in the log)."""

    def run(ctx: Ctx) -> Deleted:
        service.delete_channel(ctx, channel_id)
        return Deleted(id=channel_id)

    return await w.arun(run)


@router.post("/notification-channels/{channel_id}/test", response_model=TestResult,
             responses=PROBLEMS)
async def test_channel(channel_id: ChannelId, w: Writer = Depends(writer),
                       state: AppState = Depends(get_state),
                       r: Reader = Depends(reader)) -> Response:
    """Send a test message now; the answer says whether it went out (and why not)."""
    queued: dict[str, int] = {}

    def run(ctx: Ctx) -> TestResult:
        note = service.queue_test(ctx, channel_id)
        queued["id"] = note.id
        return TestResult(notification_id=note.id, state=note.state, last_error=None)

    first = await w.arun(run)
    if first.status_code != 200 or "id" not in queued:
        return first
    await run_in_threadpool(sender.send_due, state.factory, state.clock, state.settings,
                            "api-test", 1, [queued["id"]])

    def outcome(ctx: Ctx) -> TestResult:
        row = ctx.session.get(Notification, queued["id"])
        assert row is not None
        return TestResult(notification_id=row.id, state=row.state, last_error=row.last_error)

    return await r.run(outcome)


# -- templates -------------------------------------------------------------------------------


@router.get("/notification-templates", response_model=TemplateList, responses=PROBLEMS)
async def list_templates(r: Reader = Depends(reader)) -> Response:
    """Every message kind in zh-CN and en, with a preview rendered from sample data."""
    return await r.run(lambda ctx: TemplateList(templates=[
        template_read(t) for t in service.list_templates(ctx)]))


@router.get("/notification-templates/{kind}/{locale}", response_model=TemplateRead,
            responses=PROBLEMS)
async def get_template(kind: Kind, locale: Locale, r: Reader = Depends(reader)) -> Response:
    """The template in use for one kind and locale."""
    return await r.run(lambda ctx: template_read(service.get_template(ctx, kind, locale)))


@router.put("/notification-templates/{kind}/{locale}", response_model=TemplateRead,
            responses=PROBLEMS)
async def put_template(kind: Kind, locale: Locale, body: TemplatePut,
                       w: Writer = Depends(writer)) -> Response:
    """Override a template; a syntax error or unknown variable is refused with the reason."""
    return await w.arun(lambda ctx: template_read(
        service.put_template(ctx, kind, locale, body.source)))


@router.delete("/notification-templates/{kind}/{locale}", response_model=TemplateRead,
               responses=PROBLEMS)
async def reset_template(kind: Kind, locale: Locale, w: Writer = Depends(writer)) -> Response:
    """Drop the override: the built-in template applies again."""
    return await w.arun(lambda ctx: template_read(service.reset_template(ctx, kind, locale)))


# -- the delivery log and the recording channel ---------------------------------------------


@router.get("/notifications", response_model=NotificationPage, responses=PROBLEMS)
async def notifications(
    order_no: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(max_length=16, description="in_app, email, sms, "
                                         "wecom, …")] = None,
    state: Annotated[str | None, Query(max_length=10)] = None,
    alert_id: Annotated[int | None, Query(ge=1)] = None,
    recipient: Annotated[str | None, Query(max_length=128)] = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    r: Reader = Depends(reader),
) -> Response:
    """The delivery log, newest first (managers see all; others their own)."""

    def run(ctx: Ctx) -> NotificationPage:
        rows = service.log(ctx, order_no=order_no, channel=channel, state=state,
                           alert_id=alert_id, recipient=recipient, limit=limit,
                           before_id=before_id)
        return NotificationPage(notifications=[notification_read(n) for n in rows],
                                next_before_id=rows[-1].id if len(rows) == limit else None)

    return await r.run(run)


@router.get("/recorded-messages", response_model=RecordedList, responses=PROBLEMS)
async def recorded_messages(
    target: Annotated[str | None, Query(max_length=255, description="e.g. record://ops")] = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    r: Reader = Depends(reader),
) -> Response:
    """What the recording channel received (admin and manager)."""
    return await r.run(lambda ctx: RecordedList(messages=[
        recorded_read(m) for m in service.recorded(ctx, target, limit, after_id)]))
