"""Outbox consumers, jobs and pumps of this domain (registered with ordertrail.jobs.registry).

- ``webhooks.fanout``: every domain event becomes one message per subscribed, enabled
  endpoint, in the consumer job's transaction (idempotent per endpoint and event).
- ``webhooks.deliver`` (pump, ``deliver.py``): sends due messages, ordered per endpoint.
"""

from __future__ import annotations

from ordertrail.context import Ctx
from ordertrail.jobs.registry import Event, consumer, pump
from ordertrail.webhooks import deliver, service


@consumer("webhooks.fanout", *service.CONSUMED)
def fan_out(ctx: Ctx, event: Event) -> None:
    """Queue the event for the endpoints that subscribed to it."""
    service.fan_out(ctx.session, event, ctx.clock.now())


pump("webhooks.deliver", idle=0.5)(deliver.pump_step)
