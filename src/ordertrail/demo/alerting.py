"""The demo's deadlines, alerts, notifications and outbound webhooks.

- Every staff role gets a ``record://`` channel: what the alerts
  would send to WeCom, DingTalk or e-mail lands in the recording channel instead
  (``ordertrail notify recorded``, ``GET /api/v1/recorded-messages``); customer e-mail and SMS
  go to ``record://customer-mail`` and ``record://customer-sms``.
- One retail order has waited in review since 09:40 two working days ago (cn calendar): its
  2-hour target passed long ago, so the first sweep opens its ``stage_overdue`` alert for the
  service role and, unacknowledged for two more business hours, escalates it to the manager.
- A local receiver (in this process) subscribes to order, shipment and alert events and
  verifies every signed delivery, appending them to a JSON-lines file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.calendar.service import get_calendar
from ordertrail.config import Settings
from ordertrail.context import Ctx
from ordertrail.db import write_session
from ordertrail.demo import data
from ordertrail.flow.planner import Actor
from ordertrail.kit.clock import FrozenClock, SystemClock
from ordertrail.models import Order, StageVisit
from ordertrail.notify.service import ensure_recording_channels
from ordertrail.order import service as orders
from ordertrail.order.schemas import OrderCreate

STAFF_ROLES = ("sales", "service", "warehouse", "production", "procurement", "finance",
               "manager", "admin")
LATE_SOURCE, LATE_REF = "demo", "late-review"
RECEIVER_NOTE = "ordertrail demo: local receiver"
RECEIVER_EVENTS = ["order.*", "shipment.*", "alert.*"]


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: customer messages to the recording channel unless configured,
    and webhooks to the local receiver allowed."""
    update: dict[str, object] = {"webhooks_allow_private": True}
    if not settings.customer_email_url:
        update["customer_email_url"] = "record://customer-mail?to={email}"
    if not settings.customer_sms_url:
        update["customer_sms_url"] = "record://customer-sms/{phone}"
    return settings.model_copy(update=update)


def recording_channels(session: Session, settings: Settings) -> None:
    """A ``record://<role>`` channel per staff role (alerts reach roles; a role's channel
    stands for its group chat)."""
    ensure_recording_channels(session, SystemClock(), settings, roles=STAFF_ROLES)


def late_review_order(session: Session, actor: Actor, settings: Settings,
                      now: datetime) -> str:
    """A retail order that entered review at 09:40 two working days ago (made once)."""
    found = session.scalars(select(Order.order_no).where(
        Order.external_source == LATE_SOURCE, Order.external_ref == LATE_REF)).first()
    if found is not None:
        return found
    cal = get_calendar(session, "cn")
    day = now.astimezone(cal.tz).date()
    working: list = []
    while len(working) < 2:
        day -= timedelta(days=1)
        if cal.day_kind(day) in ("working", "makeup"):
            working.append(day)
    created = datetime.combine(working[-1], time(9, 40), cal.tz)
    earbuds, bottle = data.RETAIL_PRODUCTS[0], data.RETAIL_PRODUCTS[1]
    body = OrderCreate.model_validate({
        "flow": "retail", "channel": "web", "priority": "normal",
        "external_source": LATE_SOURCE, "external_ref": LATE_REF,
        "customer": {"name": "林晓雯", "phone": "13816620457", "email": "lin.xw@example.cn",
                     "country": "CN", "province": "上海", "city": "上海",
                     "address": "浦东新区张杨路 1588 号 12 楼"},
        "lines": [{"sku": earbuds.sku, "name": earbuds.zh, "qty": 1,
                   "unit_price": earbuds.price},
                  {"sku": bottle.sku, "name": bottle.zh, "qty": 2, "unit_price": bottle.price}],
        "promised_at": (created + timedelta(days=3)).isoformat(),
        "note": "演示：审核环节超时（2 小时工作时间）",
    })
    ctx = Ctx(session=session, actor=actor, clock=FrozenClock(created), settings=settings)
    return orders.create_order(ctx, body).order_no


@dataclass(frozen=True)
class LateReview:
    order_no: str
    entered_at: datetime
    due_at: datetime | None


def late_review(session: Session) -> LateReview | None:
    """The late review order and its deadline, if it is still in review."""
    row = session.execute(select(Order.order_no, StageVisit.entered_at, StageVisit.due_at)
                          .join(StageVisit, StageVisit.order_id == Order.id)
                          .where(Order.external_source == LATE_SOURCE,
                                 Order.external_ref == LATE_REF, Order.stage == "review",
                                 StageVisit.exited_at.is_(None))).first()
    return LateReview(row[0], row[1], row[2]) if row is not None else None


@dataclass
class DemoReceiver:
    url: str
    log: Path
    stop: Callable[[], None]


def start_receiver(factory: sessionmaker[Session], settings: Settings,
                   manager: str) -> DemoReceiver:
    """Subscribe a fresh local receiver (earlier demo subscriptions are removed), as the
    demo user ``manager``."""
    from ordertrail.auth import service as auth
    from ordertrail.models import User
    from ordertrail.models.webhook import WebhookEndpoint
    from ordertrail.webhooks import service as webhooks
    from ordertrail.webhooks.receiver import Receiver
    from ordertrail.webhooks.schemas import WebhookCreate

    log = Path(tempfile.mkstemp(prefix="ordertrail-webhooks-", suffix=".jsonl")[1])
    receiver = Receiver(secret=None, port=0, record=log, keep=1000)
    with write_session(factory) as session:
        user = session.scalars(select(User).where(User.name == manager)).one()
        ctx = Ctx(session=session, actor=auth.actor_of(user, "web"), clock=SystemClock(),
                  settings=settings)
        for old in session.scalars(select(WebhookEndpoint.id).where(
                WebhookEndpoint.description == RECEIVER_NOTE)).all():
            webhooks.delete_endpoint(ctx, old)
        # The secret exists once the subscription does; the receiver listens before the
        # subscription commits, so no delivery can come before it can verify.
        receiver.start()
        _row, secret = webhooks.create_endpoint(ctx, WebhookCreate(
            url=receiver.url, events=RECEIVER_EVENTS, description=RECEIVER_NOTE))
        receiver.secret = secret
    return DemoReceiver(receiver.url, log, receiver.stop)
