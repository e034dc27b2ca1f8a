"""Notification rules: channels, templates, and the rows of the delivery log.

Nothing here does network I/O: consumers turn events into ``Notification`` rows (rendered at
once in the recipient's language) in the event's transaction; ``sender`` delivers them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.errors import Forbidden, Invalid, NotFound
from ordertrail.models import User
from ordertrail.models.notify import (
    Notification,
    NotificationChannel,
    NotificationTemplate,
    RecordedMessage,
)
from ordertrail.notify import channels, quiet, render
from ordertrail.notify.schemas import ChannelCreate, ChannelUpdate

MANAGERS = frozenset({"admin", "manager"})
DIGESTS = ("none", "hourly", "daily")
# States of a row the sender will still pick up.
PENDING = ("queued", "deferred", "failed")


def _is_manager(ctx: Ctx) -> bool:
    return bool(ctx.actor.roles & MANAGERS) or ctx.actor.source == "automation"


def _require_manager(ctx: Ctx, what: str) -> None:
    if not _is_manager(ctx):
        raise Forbidden(f"only admin or manager may {what}", code="forbidden_role")


# -- channels --------------------------------------------------------------------------------


def create_channel(ctx: Ctx, data: ChannelCreate) -> NotificationChannel:
    """Add a channel for a user or a role after Apprise accepts its URL."""
    session = ctx.session
    if data.owner_type == "user":
        user = session.scalars(select(User).where(User.name == data.owner)).first()
        if user is None:
            raise Invalid(f"owner: no user named {data.owner!r}", code="unknown_user")
        if user.id != ctx.actor.user_id:
            _require_manager(ctx, "add channels for other users")
    else:
        _require_manager(ctx, "add role channels")
    url = data.url.strip()
    channels.check_url(url)
    if data.quiet_calendar:
        quiet.check_calendar(session, data.quiet_calendar)
    kind = data.kind or channels.kind_for(url)
    row = NotificationChannel(
        owner_type=data.owner_type, owner=data.owner, kind=kind, url=url,
        locale=data.locale or ctx.settings.default_locale, quiet_calendar=data.quiet_calendar,
        digest=data.digest, enabled=data.enabled, created_at=ctx.clock.now())
    session.add(row)
    session.flush()
    return row


def get_channel(ctx: Ctx, channel_id: int) -> NotificationChannel:
    row = ctx.session.get(NotificationChannel, channel_id)
    if row is None or not _may_see(ctx, row):
        raise NotFound(f"notification channel {channel_id} does not exist",
                       code="unknown_channel")
    return row


def _may_see(ctx: Ctx, row: NotificationChannel) -> bool:
    return _is_manager(ctx) or (row.owner_type == "user" and row.owner == ctx.actor.name)


def list_channels(ctx: Ctx, owner_type: str | None = None, owner: str | None = None,
                  ) -> list[NotificationChannel]:
    stmt = select(NotificationChannel).order_by(NotificationChannel.id)
    if owner_type:
        stmt = stmt.where(NotificationChannel.owner_type == owner_type)
    if owner:
        stmt = stmt.where(NotificationChannel.owner == owner)
    return [r for r in ctx.session.scalars(stmt) if _may_see(ctx, r)]


def update_channel(ctx: Ctx, channel_id: int, data: ChannelUpdate) -> NotificationChannel:
    row = get_channel(ctx, channel_id)
    fields = data.model_dump(exclude_unset=True)
    if fields.get("url") is not None:
        channels.check_url(fields["url"])
        row.url = fields["url"].strip()
    if "quiet_calendar" in fields:
        if fields["quiet_calendar"]:
            quiet.check_calendar(ctx.session, fields["quiet_calendar"])
        row.quiet_calendar = fields["quiet_calendar"] or None
    for name in ("kind", "locale", "digest", "enabled"):
        if fields.get(name) is not None:
            setattr(row, name, fields[name])
    ctx.session.flush()
    return row


def delete_channel(ctx: Ctx, channel_id: int) -> None:
    row = get_channel(ctx, channel_id)
    ctx.session.delete(row)
    ctx.session.flush()


def queue_test(ctx: Ctx, channel_id: int) -> Notification:
    """Queue a test message on a channel (sent by the sender like any other)."""
    row = get_channel(ctx, channel_id)
    now = ctx.clock.now()
    zh = row.locale.startswith("zh")
    note = Notification(
        created_at=now, event="channel.test", kind="test", alert_id=None, order_no=None,
        shipment_id=None, recipient_type=row.owner_type, recipient=row.owner,
        channel=row.kind, channel_id=row.id, address=channels.mask_url(row.url), url=row.url,
        locale=row.locale,
        subject="【测试】ordertrail 通知渠道测试" if zh else "[Test] ordertrail channel test",
        body=("这是一条测试消息：如果您收到了它，说明该通知渠道配置正确。" if zh else
              "This is a test message: if you can read it, this channel works."),
        state="queued", send_after=now, attempts=0,
        dedupe_key=f"test:{row.id}:{now.isoformat()}:{ctx.actor.name}")
    ctx.session.add(note)
    ctx.session.flush()
    return note


# -- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateInfo:
    kind: str
    locale: str
    source: str
    overridden: bool
    updated_at: datetime | None
    preview: render.Rendered


def _template_info(session: Session, kind: str, locale: str) -> TemplateInfo:
    row = session.scalars(select(NotificationTemplate).where(
        NotificationTemplate.kind == kind, NotificationTemplate.locale == locale)).first()
    source = row.source if row else render.source_for(session, kind, locale)
    try:
        preview = render.render_source(source, render.sample_for(kind))
    except Exception as exc:  # noqa: BLE001 - show the problem instead of failing the list
        preview = render.Rendered("", f"(does not render: {exc})")
    return TemplateInfo(kind, locale, source, row is not None,
                        row.updated_at if row else None, preview)


def list_templates(ctx: Ctx) -> list[TemplateInfo]:
    return [_template_info(ctx.session, k, loc) for k in render.KINDS for loc in render.LOCALES]


def get_template(ctx: Ctx, kind: str, locale: str) -> TemplateInfo:
    render.check_kind(kind, locale)
    return _template_info(ctx.session, kind, locale)


def put_template(ctx: Ctx, kind: str, locale: str, source: str) -> TemplateInfo:
    """Override a template after it compiles and renders against its sample context."""
    _require_manager(ctx, "change message templates")
    render.validate(kind, locale, source)
    row = ctx.session.scalars(select(NotificationTemplate).where(
        NotificationTemplate.kind == kind, NotificationTemplate.locale == locale)).first()
    now = ctx.clock.now()
    if row is None:
        row = NotificationTemplate(kind=kind, locale=locale, source=source, updated_at=now,
                                   updated_by=ctx.actor.name)
        ctx.session.add(row)
    else:
        row.source, row.updated_at, row.updated_by = source, now, ctx.actor.name
    ctx.session.flush()
    return _template_info(ctx.session, kind, locale)


def reset_template(ctx: Ctx, kind: str, locale: str) -> TemplateInfo:
    """Drop an override: the built-in file applies again."""
    _require_manager(ctx, "change message templates")
    render.check_kind(kind, locale)
    row = ctx.session.scalars(select(NotificationTemplate).where(
        NotificationTemplate.kind == kind, NotificationTemplate.locale == locale)).first()
    if row is None:
        raise NotFound(f"no override for {kind} in {locale}", code="no_template_override")
    ctx.session.delete(row)
    ctx.session.flush()
    return _template_info(ctx.session, kind, locale)


# -- the delivery log --------------------------------------------------------------------


def log(ctx: Ctx, *, order_no: str | None = None, channel: str | None = None,
        state: str | None = None, alert_id: int | None = None, recipient: str | None = None,
        limit: int = 100, before_id: int | None = None) -> list[Notification]:
    """The delivery log, newest first."""
    stmt = select(Notification).order_by(Notification.id.desc()).limit(min(max(limit, 1), 500))
    if order_no:
        stmt = stmt.where(Notification.order_no == order_no)
    if channel:
        stmt = stmt.where(Notification.channel == channel)
    if state:
        stmt = stmt.where(Notification.state == state)
    if alert_id is not None:
        stmt = stmt.where(Notification.alert_id == alert_id)
    if recipient:
        stmt = stmt.where(Notification.recipient == recipient)
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    if not _is_manager(ctx):
        stmt = stmt.where(Notification.recipient_type.in_(("user", "role")),
                          Notification.recipient.in_({ctx.actor.name, *ctx.actor.roles}))
    return list(ctx.session.scalars(stmt))


def recorded(ctx: Ctx, target: str | None = None, limit: int = 100,
             after_id: int | None = None) -> list[RecordedMessage]:
    """What the recording channel received, oldest first (admin and manager)."""
    _require_manager(ctx, "read recorded messages")
    stmt = select(RecordedMessage).order_by(RecordedMessage.id).limit(min(max(limit, 1), 1000))
    if target:
        wanted = target if target.startswith("record://") else f"record://{target}"
        stmt = stmt.where(RecordedMessage.target == wanted)
    if after_id is not None:
        stmt = stmt.where(RecordedMessage.id > after_id)
    return list(ctx.session.scalars(stmt))


# -- writing rows ------------------------------------------------------------------------


@dataclass
class Planned:
    """One notification to write (the consumer's plan for an event)."""

    dedupe_key: str
    event: str
    kind: str
    recipient_type: str
    recipient: str
    channel: str
    locale: str
    context: dict[str, Any]
    channel_id: int | None = None
    url: str | None = None
    address: str | None = None
    send_after: datetime | None = None
    state: str = "queued"
    last_error: str | None = None
    alert_id: int | None = None
    order_no: str | None = None
    shipment_id: int | None = None


def write(ctx: Ctx, plans: Iterable[Planned]) -> list[Notification]:
    """Insert the planned rows whose dedupe key is new; returns the rows written."""
    plans = list({p.dedupe_key: p for p in plans}.values())
    if not plans:
        return []
    session, now = ctx.session, ctx.clock.now()
    keys = [p.dedupe_key for p in plans]
    seen = set(session.scalars(select(Notification.dedupe_key)
                               .where(Notification.dedupe_key.in_(keys))))
    rows = []
    for p in plans:
        if p.dedupe_key in seen:
            continue
        text = render.render(session, p.kind, p.locale, p.context)
        rows.append(Notification(
            created_at=now, event=p.event, kind=p.kind, alert_id=p.alert_id,
            order_no=p.order_no, shipment_id=p.shipment_id, recipient_type=p.recipient_type,
            recipient=p.recipient, channel=p.channel, channel_id=p.channel_id,
            address=p.address, url=p.url, locale=p.locale, subject=text.subject,
            body=text.body, state=p.state, send_after=p.send_after or now, attempts=0,
            last_error=p.last_error, sent_at=now if p.state == "sent" else None,
            dedupe_key=p.dedupe_key))
    session.add_all(rows)
    session.flush()
    return rows


def staff_delivery(session: Session, channel: NotificationChannel, now: datetime,
                   ) -> tuple[str, datetime]:
    """(state, send_after) for a staff channel: held for a digest, deferred out of quiet
    hours, or queued now."""
    at = quiet.next_allowed(session, channel.quiet_calendar, now)
    if channel.digest != "none":
        return "held", at
    return ("deferred", at) if at > now else ("queued", now)


def ensure_recording_channels(session: Session, clock: Any, settings: Any,
                              roles: Iterable[str] = (), users: Iterable[str] = (),
                              ) -> list[NotificationChannel]:
    """Give each role and user a ``record://<name>`` channel unless it has one (the demo and
    local development: alerts then show up in ``GET /api/v1/recorded-messages``)."""
    made = []
    wanted = [("role", r) for r in roles] + [("user", u) for u in users]
    for owner_type, owner in wanted:
        url = f"record://{owner}"
        exists = session.scalars(select(NotificationChannel.id).where(
            NotificationChannel.owner_type == owner_type, NotificationChannel.owner == owner,
            NotificationChannel.url == url)).first()
        if exists is None:
            row = NotificationChannel(owner_type=owner_type, owner=owner, kind="record",
                                      url=url, locale=settings.default_locale,
                                      quiet_calendar=None, digest="none", enabled=True,
                                      created_at=clock.now())
            session.add(row)
            made.append(row)
    session.flush()
    return made
