"""Outbox consumers, jobs and pumps of this domain (registered with ordertrail.jobs.registry).

- ``notify.alerts``: alert.opened / alert.escalated → in-app rows and channel rows for the
  level's recipients.
- ``notify.notices``: webhook.endpoint_disabled → admins and managers (in-app, channels).
- ``notify.customers``: shipment.created, shipment.status_changed (out for delivery),
  shipment.delivered, order.delayed → customer e-mail / SMS rows per the flow's config.
- pump ``notify.send``: delivers due rows; periodic ``notify.digest``: builds digests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ordertrail.context import Ctx
from ordertrail.jobs.registry import Event, PumpCtx, consumer, periodic, pump
from ordertrail.notify import events, sender


@consumer("notify.alerts", "alert.opened", "alert.escalated")
def alerts(ctx: Ctx, event: Event) -> None:
    """Tell the recipients of this alert level (in-app and their channels)."""
    events.on_alert(ctx, event.name, event.payload)


@consumer("notify.notices", "webhook.endpoint_disabled")
def notices(ctx: Ctx, event: Event) -> None:
    """Tell admins and managers that an outbound webhook endpoint was disabled."""
    events.on_notice(ctx, event.name, event.payload)


@consumer("notify.customers", "shipment.created", "shipment.status_changed",
          "shipment.delivered", "order.delayed")
def customers(ctx: Ctx, event: Event) -> None:
    """Tell the order's customer: shipped, out for delivery, delivered, delayed."""
    events.on_customer_event(ctx, event.name, event.payload)


@pump("notify.send", idle=1.0)
def send(pctx: PumpCtx) -> int:
    """Deliver due notifications through Apprise."""
    return sender.send_due(pctx.factory, pctx.clock, pctx.settings, pctx.worker_id)


@periodic("notify.digest", every=timedelta(minutes=5))
def digest(ctx: Ctx, payload: dict[str, Any]) -> None:
    """Fold the held rows of finished periods into one message per digest channel."""
    sender.collect_digests(ctx)
