"""From domain events to planned notifications: who hears what, where, in which language."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertrail.context import Ctx
from ordertrail.models import Order, Shipment, User
from ordertrail.models.notify import NotificationChannel
from ordertrail.notify import channels, links, quiet
from ordertrail.notify.service import Planned, staff_delivery, write

CUSTOMER_EVENTS = ("shipped", "out_for_delivery", "delivered", "delayed")
CUSTOMER_CHANNELS = ("email", "sms")
_SEVERITY = {"critical": "严重", "high": "严重", "warning": "警告", "medium": "警告",
             "info": "提示", "low": "提示"}
_DELAY_REASON = {
    "stage_overdue": ("在处理环节耽搁了", "was held up in processing"),
    "late_risk": ("的处理进度慢于预期", "is taking longer than planned"),
    "shipment_exception": ("在运输途中出现异常", "ran into a problem in transit"),
    "delivery_failed": ("派送未能成功", "could not be delivered"),
}


def _zh(locale: str) -> bool:
    return locale.startswith("zh")


def local_time(value: Any, tz: str) -> str:
    """An ISO time (or datetime) shown as local 'YYYY-MM-DD HH:MM'; '' if none."""
    if not value:
        return ""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        return at.strftime("%Y-%m-%d %H:%M")
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _text(value: Any, locale: str) -> str:
    if isinstance(value, dict):
        return str(value.get("zh" if _zh(locale) else "en") or value.get("en") or "")
    return "" if value is None else str(value)


def _order(session: Session, order_no: str | None) -> Order | None:
    if not order_no:
        return None
    return session.scalars(select(Order).where(Order.order_no == order_no)).first()


def _flow(session: Session, order: Order | None) -> Any:
    if order is None:
        return None
    from ordertrail.flow.service import definition_by_id

    try:
        return definition_by_id(session, order.flow_version_id)[1]
    except Exception:  # noqa: BLE001 - a message without the stage's name beats none
        return None


def _stage_name(flow: Any, stage: str | None, locale: str) -> str:
    if not stage:
        return ""
    if flow is not None and flow.has_stage(stage):
        return flow.stage(stage).name.get("zh" if _zh(locale) else "en")
    return stage


# -- alerts --------------------------------------------------------------------------------


def _active_users(session: Session, ids: list[int], roles: list[str],
                  ) -> tuple[list[User], dict[str, list[User]]]:
    users = list(session.scalars(select(User).where(User.id.in_(ids), User.active))) if ids \
        else []
    by_role: dict[str, list[User]] = {r: [] for r in roles}
    if roles:
        for user in session.scalars(select(User).where(User.active).order_by(User.id)):
            for r in roles:
                if r in (user.roles or []):
                    by_role[r].append(user)
    return users, by_role


def _channels_of(session: Session, owner_type: str, owners: set[str],
                 ) -> dict[str, list[NotificationChannel]]:
    out: dict[str, list[NotificationChannel]] = {o: [] for o in owners}
    if not owners:
        return out
    for ch in session.scalars(select(NotificationChannel).where(
            NotificationChannel.owner_type == owner_type, NotificationChannel.owner.in_(owners),
            NotificationChannel.enabled).order_by(NotificationChannel.id)):
        out[ch.owner].append(ch)
    return out


def alert_plans(ctx: Ctx, event_name: str, payload: dict[str, Any]) -> list[Planned]:
    """In-app rows for every recipient and a row per enabled channel of theirs."""
    session, settings, now = ctx.session, ctx.settings, ctx.clock.now()
    alert_id = int(payload["alert_id"])
    level = int(payload.get("level") or 1)
    kind = str(payload.get("kind") or "alert")
    rec = payload.get("recipients") or {}
    user_ids = [int(u) for u in rec.get("users") or []]
    roles = [str(r) for r in rec.get("roles") or []]
    order = _order(session, payload.get("order_no"))
    flow = _flow(session, order)
    shipment = (session.get(Shipment, int(payload["shipment_id"]))
                if payload.get("shipment_id") else None)

    def context(locale: str, recipient: str) -> dict[str, Any]:
        severity = str(payload.get("severity") or "warning")
        return {
            "alert_id": alert_id, "kind": kind, "level": level, "escalated": level > 1,
            "order_no": payload.get("order_no") or "",
            "stage": _stage_name(flow, payload.get("stage"), locale),
            "severity": _SEVERITY.get(severity, severity) if _zh(locale) else severity,
            "title": _text(payload.get("title"), locale),
            "detail": _text(payload.get("detail"), locale),
            "due_at": local_time(payload.get("due_at"), settings.timezone),
            "promised_at": local_time(order.promised_at if order else None, settings.timezone),
            "carrier": shipment.carrier if shipment else "",
            "tracking_number": shipment.tracking_number if shipment else "",
            "recipient": recipient,
        }

    base = {"event": event_name, "kind": kind, "alert_id": alert_id,
            "order_no": payload.get("order_no"),
            "shipment_id": int(payload["shipment_id"]) if payload.get("shipment_id") else None}
    prefix = f"alert:{alert_id}:{level}"
    plans: list[Planned] = []

    def in_app(rtype: str, name: str) -> None:
        locale = settings.default_locale
        plans.append(Planned(dedupe_key=f"{prefix}:{rtype}:{name}:in_app", recipient_type=rtype,
                             recipient=name, channel="in_app", locale=locale,
                             context=context(locale, name), state="sent", **base))

    def on_channel(rtype: str, name: str, ch: NotificationChannel) -> None:
        state, at = staff_delivery(session, ch, now)
        plans.append(Planned(
            dedupe_key=f"{prefix}:{rtype}:{name}:ch{ch.id}", recipient_type=rtype,
            recipient=name, channel=ch.kind, channel_id=ch.id, url=ch.url,
            address=channels.mask_url(ch.url), locale=ch.locale,
            context=context(ch.locale, name), state=state, send_after=at, **base))

    users, by_role = _active_users(session, user_ids, roles)
    role_users = [u for members in by_role.values() for u in members]
    user_channels = _channels_of(session, "user", {u.name for u in users + role_users})
    role_channels = _channels_of(session, "role", set(roles))
    for r in roles:
        in_app("role", r)  # the role's alert inbox
        for ch in role_channels[r]:
            on_channel("role", r, ch)
    for u in users:
        in_app("user", u.name)  # the person's alert inbox
    for u in users + role_users:
        for ch in user_channels[u.name]:
            on_channel("user", u.name, ch)
    if not roles and not users:
        in_app("role", "unassigned")  # still visible in the inbox of nobody's alerts
    return plans


def on_alert(ctx: Ctx, event_name: str, payload: dict[str, Any]) -> int:
    return len(write(ctx, alert_plans(ctx, event_name, payload)))


NOTICE_ROLES = ("admin", "manager")  # who hears that an outbound webhook was disabled


def notice_plans(ctx: Ctx, event_name: str, payload: dict[str, Any]) -> list[Planned]:
    """A disabled webhook endpoint: in-app rows and channel rows for admins and managers."""
    session, settings, now = ctx.session, ctx.settings, ctx.clock.now()
    endpoint_id = int(payload["endpoint_id"])
    prefix = f"webhook_disabled:{endpoint_id}:{payload.get('at') or ''}"

    def context(recipient: str) -> dict[str, Any]:
        return {"endpoint_id": endpoint_id, "url": payload.get("url") or "",
                "failure_streak": payload.get("failure_streak") or 0,
                "reason": payload.get("reason") or "",
                "first_failure_at": local_time(payload.get("first_failure_at"),
                                               settings.timezone),
                "recipient": recipient}

    plans: list[Planned] = []
    roles = list(NOTICE_ROLES)
    _users, by_role = _active_users(session, [], roles)
    role_channels = _channels_of(session, "role", set(roles))
    members = {u.name for group in by_role.values() for u in group}
    user_channels = _channels_of(session, "user", members)
    targets = [("role", r, role_channels[r]) for r in roles] + [
        ("user", name, user_channels[name]) for name in sorted(members)]
    for rtype, name, chans in targets:
        if rtype == "role":
            plans.append(Planned(dedupe_key=f"{prefix}:role:{name}:in_app", event=event_name,
                                 kind="webhook_disabled", recipient_type="role", recipient=name,
                                 channel="in_app", locale=settings.default_locale,
                                 context=context(name), state="sent"))
        for ch in chans:
            state, at = staff_delivery(session, ch, now)
            plans.append(Planned(
                dedupe_key=f"{prefix}:{rtype}:{name}:ch{ch.id}", event=event_name,
                kind="webhook_disabled", recipient_type=rtype, recipient=name,
                channel=ch.kind, channel_id=ch.id, url=ch.url,
                address=channels.mask_url(ch.url), locale=ch.locale, context=context(name),
                state=state, send_after=at))
    return plans


def on_notice(ctx: Ctx, event_name: str, payload: dict[str, Any]) -> int:
    return len(write(ctx, notice_plans(ctx, event_name, payload)))


# -- customers -----------------------------------------------------------------------------


def customer_config(flow: Any) -> tuple[set[str], list[str]]:
    """(events, channels) of a flow's ``notify.customer``; absent: all four on email+sms."""
    raw = getattr(flow, "notify", None) if flow is not None else None
    cust = raw.get("customer") if isinstance(raw, dict) else None
    if not isinstance(cust, dict):
        return set(CUSTOMER_EVENTS), list(CUSTOMER_CHANNELS)
    events = cust.get("events", list(CUSTOMER_EVENTS))
    chans = cust.get("channels", list(CUSTOMER_CHANNELS))
    return ({str(e) for e in events or []},
            [str(c) for c in chans or [] if str(c) in CUSTOMER_CHANNELS])


def customer_kind(event_name: str, payload: dict[str, Any]) -> str | None:
    """Which customer message an event means, if any."""
    if event_name == "shipment.created":
        return "shipped"
    if event_name == "shipment.status_changed" and payload.get("to") == "out_for_delivery":
        return "out_for_delivery"
    if event_name == "shipment.delivered":
        return "delivered"
    if event_name == "order.delayed":
        return "delayed"
    return None


def customer_plans(ctx: Ctx, event_name: str, payload: dict[str, Any]) -> list[Planned]:
    kind = customer_kind(event_name, payload)
    if kind is None:
        return []
    session, settings, now = ctx.session, ctx.settings, ctx.clock.now()
    order = _order(session, payload.get("order_no"))
    if order is None:
        return []
    events, chans = customer_config(_flow(session, order))
    if kind not in events:
        return []
    shipment_id = int(payload["shipment_id"]) if payload.get("shipment_id") else None
    locale = settings.default_locale
    zh = _zh(locale)
    reason = payload.get("reason") or ""
    reason_text = _DELAY_REASON.get(reason, ("出现了延误", "is delayed"))[0 if zh else 1]
    tracking = payload.get("tracking_number")
    carrier = payload.get("carrier")
    if shipment_id and not (tracking and carrier):
        row = session.get(Shipment, shipment_id)
        if row is not None:
            tracking, carrier = tracking or row.tracking_number, carrier or row.carrier
    context = {
        "order_no": order.order_no, "customer_name": order.customer_name,
        "carrier": carrier or "", "tracking_number": tracking or "",
        "tracking_url": links.tracking_url(session, settings, order.order_no, now),
        "expected_at": local_time(payload.get("expected_at"), settings.timezone),
        "promised_at": local_time(payload.get("promised_at") or order.promised_at,
                                  settings.timezone),
        "reason": reason_text, "status": payload.get("to") or kind,
    }
    # Apologies: one a day for the order's own delay (an overdue stage and the late risk
    # found by the same sweep are one delay to the customer), and one for each parcel that
    # goes wrong (lost, a failed delivery), each news of its own.
    day = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    cause = ((f"day:{day}:parcel:{shipment_id}" if shipment_id else f"day:{day}:order")
             if kind == "delayed" else str(shipment_id or "-"))
    send_at = quiet.window_end(now, settings.customer_quiet_hours, settings.timezone)
    plans = []
    for chan in chans:
        address = order.customer_email if chan == "email" else order.customer_phone
        template = settings.customer_email_url if chan == "email" \
            else settings.customer_sms_url
        placeholder = "{email}" if chan == "email" else "{phone}"
        state, error, url = ("deferred" if send_at > now else "queued"), None, None
        if not template:
            state, error = "skipped", "skipped: not configured"
        elif not address:
            state, error = "skipped", f"skipped: the order has no {chan} address"
        else:
            url = template.replace(placeholder, address.strip())
        plans.append(Planned(
            dedupe_key=f"customer:{order.order_no}:{kind}:{cause}:{chan}",
            event=f"customer.{kind}", kind=kind, recipient_type="customer",
            recipient=order.customer_name[:128], channel=chan, url=url,
            address=channels.mask_address(address) if address else None, locale=locale,
            context=context, state=state, send_after=send_at, last_error=error,
            order_no=order.order_no, shipment_id=shipment_id))
    return plans


def on_customer_event(ctx: Ctx, event_name: str, payload: dict[str, Any]) -> int:
    return len(write(ctx, customer_plans(ctx, event_name, payload)))
