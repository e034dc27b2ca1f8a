"""Delivering queued notifications, and folding digest rows into one message per period.

``send_due`` is one round of the ``notify.send`` pump: claim due rows with a conditional
update (a lease under a token unique to this round; FOR UPDATE SKIP LOCKED on PostgreSQL),
send them through Apprise outside any transaction, in parallel and each with a timeout, then
record each outcome only if the lease is still ours. A failure backs off exponentially; after
``settings.notify_max_attempts`` the row is dead. A crash after sending and before recording
lets the lease expire and the row is sent again: delivery is at least once.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import write_session
from ordertrail.kit.clock import Clock
from ordertrail.models.notify import Notification, NotificationChannel, RecordedMessage
from ordertrail.notify import channels, quiet, render
from ordertrail.notify.service import PENDING

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
BATCH = 50
PARALLEL = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


@dataclass(frozen=True)
class _Item:
    id: int
    url: str | None
    subject: str
    body: str
    attempts: int


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failures: 30 s, 1 min, 2 min, … ≤ 1 h."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _due(now: datetime) -> object:
    return or_(and_(Notification.state.in_(PENDING), Notification.send_after <= now),
               and_(Notification.state == "sending", Notification.lease_until < now))


def claim(factory: sessionmaker[Session], clock: Clock, worker_id: str,
          limit: int = BATCH, ids: list[int] | None = None) -> tuple[str, list[_Item]]:
    """Lease up to ``limit`` due rows (of ``ids`` if given) to this round; returns (lease
    token, items)."""
    now = clock.now()
    token = f"{worker_id[:40]}:{uuid.uuid4().hex[:16]}"
    with write_session(factory) as session:
        stmt = (select(Notification.id).where(_due(now))
                .order_by(Notification.send_after, Notification.id).limit(limit))
        if ids is not None:
            stmt = stmt.where(Notification.id.in_(ids))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.scalars(stmt))
        if not ids:
            return token, []
        # Conditional: a row another worker leased meanwhile no longer matches.
        session.execute(update(Notification).where(Notification.id.in_(ids), _due(now))
                        .values(state="sending", lease_owner=token, lease_until=now + LEASE),
                        execution_options={"synchronize_session": False})
        rows = session.execute(select(Notification.id, Notification.url, Notification.subject,
                                      Notification.body, Notification.attempts)
                               .where(Notification.lease_owner == token)
                               .order_by(Notification.id)).all()
        return token, [_Item(*r) for r in rows]


def _deliver(item: _Item) -> channels.SendResult:
    if not item.url:
        return channels.SendResult(False, "no address to send to")
    try:
        return channels.send(item.url, item.subject, item.body)
    except Exception as exc:  # noqa: BLE001 - one broken channel must not stop the round
        return channels.SendResult(False, f"{type(exc).__name__}: {exc}")


def _record(factory: sessionmaker[Session], clock: Clock, settings: Settings, token: str,
            item: _Item, result: channels.SendResult) -> None:
    now = clock.now()
    mine = and_(Notification.id == item.id, Notification.lease_owner == token,
                Notification.state == "sending")
    with write_session(factory) as session:
        if result.ok:
            done = session.execute(update(Notification).where(mine).values(
                state="sent", sent_at=now, attempts=item.attempts + 1, last_error=None,
                lease_owner=None, lease_until=None),
                execution_options={"synchronize_session": False})
            if done.rowcount:  # type: ignore[attr-defined]
                for msg in result.recorded:
                    session.add(RecordedMessage(at=now, target=msg["target"][:255],
                                                title=msg["title"], body=msg["body"],
                                                meta=msg["meta"], notification_id=item.id))
            return
        attempts = item.attempts + 1
        dead = attempts >= settings.notify_max_attempts
        retry_at = now if dead else _quiet_retry(session, settings, item.id,
                                                 now + backoff(attempts))
        session.execute(update(Notification).where(mine).values(
            state="dead" if dead else "failed", attempts=attempts,
            last_error=(result.error or "failed")[:2000],
            send_after=retry_at,
            lease_owner=None, lease_until=None),
            execution_options={"synchronize_session": False})
        log.info("notification %s %s: %s", item.id, "dead" if dead else "failed",
                    result.error)


def _quiet_retry(session: Session, settings: Settings, notification_id: int,
                 at: datetime) -> datetime:
    """A retry time that respects the row's quiet hours (a retry must not wake anyone)."""
    row = session.execute(select(Notification.recipient_type, Notification.channel_id)
                          .where(Notification.id == notification_id)).first()
    if row is None:
        return at
    if row.recipient_type == "customer":
        return quiet.window_end(at, settings.customer_quiet_hours, settings.timezone)
    channel = session.get(NotificationChannel, row.channel_id) if row.channel_id else None
    if channel is None or not channel.quiet_calendar:
        return at
    try:
        return quiet.next_allowed(session, channel.quiet_calendar, at)
    except Exception:  # noqa: BLE001 - a calendar removed meanwhile: retry on the backoff
        return at


def send_due(factory: sessionmaker[Session], clock: Clock, settings: Settings,
             worker_id: str = "sender", limit: int = BATCH, ids: list[int] | None = None,
             ) -> int:
    """One round: claim, send in parallel outside transactions, record. Returns rows handled."""
    token, items = claim(factory, clock, worker_id, limit, ids)
    if not items:
        return 0
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items)),
                            thread_name_prefix="ot-notify") as pool:
        results = list(pool.map(_deliver, items))
    for item, result in zip(items, results, strict=True):
        try:
            _record(factory, clock, settings, token, item, result)
        except Exception:  # the lease expires and the row is tried again
            log.exception("recording notification %s failed", item.id)
    return len(items)


# -- digests -------------------------------------------------------------------------------

_PERIOD = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def period_start(at: datetime, digest: str, tz: str) -> datetime:
    """Start of the hour or local day that contains ``at`` (UTC)."""
    local = at.astimezone(ZoneInfo(tz))
    if digest == "daily":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        local = local.replace(minute=0, second=0, microsecond=0)
    return local.astimezone(at.tzinfo)


def collect_digests(ctx: Ctx) -> int:
    """Fold each digest channel's held rows of every finished period into one message."""
    session, settings, now = ctx.session, ctx.settings, ctx.clock.now()
    held = list(session.scalars(select(Notification).where(Notification.state == "held")
                                .order_by(Notification.channel_id, Notification.id)))
    groups: dict[tuple[int, datetime], list[Notification]] = {}
    chans: dict[int, NotificationChannel | None] = {}
    for row in held:
        cid = row.channel_id or 0
        if cid not in chans:
            chans[cid] = session.get(NotificationChannel, cid) if cid else None
        ch = chans[cid]
        digest = ch.digest if ch is not None and ch.digest in _PERIOD else "hourly"
        start = period_start(row.created_at, digest, settings.timezone)
        if start + _PERIOD[digest] <= now:
            groups.setdefault((cid, start), []).append(row)
    made = 0
    for (cid, start), rows in groups.items():
        ch = chans[cid]
        if ch is None:
            for row in rows:  # the channel was removed: nothing to send it through
                row.state, row.last_error = "skipped", "skipped: channel removed"
            continue
        locale = ch.locale if ch.locale in render.LOCALES else "en"
        text = render.render(session, "digest", locale, {
            "count": len(rows), "period": start.astimezone(ZoneInfo(settings.timezone))
            .strftime("%Y-%m-%d %H:%M" if ch.digest == "hourly" else "%Y-%m-%d"),
            "items": [{"subject": r.subject, "body": r.body, "order_no": r.order_no or ""}
                      for r in rows]})
        at = quiet.next_allowed(session, ch.quiet_calendar, now)
        digest_row = Notification(
            created_at=now, event="digest", kind="digest", alert_id=None, order_no=None,
            shipment_id=None, recipient_type=ch.owner_type, recipient=ch.owner,
            channel=ch.kind, channel_id=ch.id, address=channels.mask_url(ch.url), url=ch.url,
            locale=locale, subject=text.subject, body=text.body,
            state="deferred" if at > now else "queued", send_after=at, attempts=0,
            dedupe_key=f"digest:{ch.id}:{start.isoformat()}")
        session.add(digest_row)
        session.flush()
        for row in rows:
            row.state, row.digest_id = "digested", digest_row.id
        made += 1
    session.flush()
    return made
