"""Webhook tests: real HTTP to a local receiver (in a thread), real commits, a frozen clock
for stored times (signatures carry the wall clock, which receivers compare with theirs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.config import Settings
from ordertrail.context import SYSTEM_ACTOR, Ctx
from ordertrail.db import write_session
from ordertrail.jobs.outbox import emit
from ordertrail.jobs.registry import Event
from ordertrail.kit.clock import FrozenClock
from ordertrail.models import OutboxEvent
from ordertrail.models.webhook import WebhookAttempt, WebhookEndpoint, WebhookMessage
from ordertrail.webhooks import consumers, service
from ordertrail.webhooks.deliver import Deliverer
from ordertrail.webhooks.receiver import Receiver
from ordertrail.webhooks.schemas import WebhookCreate


@pytest.fixture
def wh_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, webhooks_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@dataclass
class Hooks:
    """Helpers over committed data: subscribe, emit events and fan them out, deliver."""

    factory: sessionmaker[Session]
    clock: FrozenClock
    settings: Settings

    def ctx(self, session: Session) -> Ctx:
        return Ctx(session, SYSTEM_ACTOR, self.clock, self.settings)

    def subscribe(self, url: str, events: list[str]) -> tuple[int, str]:
        with write_session(self.factory) as session:
            row, secret = service.create_endpoint(
                self.ctx(session), WebhookCreate(url=url, events=events))
            return row.id, secret

    def emit(self, name: str, count: int = 1, *, fan_out: bool = True,
             **payload: object) -> list[Event]:
        """Outbox events, committed, then (``fan_out``) handed to the fan-out consumer as
        the worker would (one transaction per event)."""
        with write_session(self.factory) as session:
            for i in range(count):
                emit(session, name, "order", f"SO-{i}", {"order_no": f"SO-{i}", "n": i,
                                                          **payload}, self.clock.now())
        with self.factory() as session:
            rows = list(session.scalars(select(OutboxEvent).where(OutboxEvent.name == name)
                                        .order_by(OutboxEvent.id.desc()).limit(count)))
        events = [Event(r.id, r.name, r.aggregate, r.aggregate_id, r.payload, r.created_at)
                  for r in reversed(rows)]
        for event in events if fan_out else ():
            with write_session(self.factory) as session:
                consumers.fan_out(self.ctx(session), event)
        return events

    def deliverer(self, settings: Settings | None = None) -> Deliverer:
        return Deliverer(self.factory, self.clock, settings or self.settings, "test-worker")

    def deliver(self, settings: Settings | None = None) -> int:
        d = self.deliverer(settings)
        try:
            return d.run_until_idle()
        finally:
            d.close()

    def endpoint(self, endpoint_id: int) -> WebhookEndpoint:
        with self.factory() as session:
            row = session.get(WebhookEndpoint, endpoint_id)
            assert row is not None
            return row

    def messages(self, endpoint_id: int) -> list[WebhookMessage]:
        with self.factory() as session:
            return list(session.scalars(select(WebhookMessage).where(
                WebhookMessage.endpoint_id == endpoint_id).order_by(WebhookMessage.id)))

    def attempts(self, endpoint_id: int) -> list[WebhookAttempt]:
        with self.factory() as session:
            return list(session.scalars(select(WebhookAttempt).where(
                WebhookAttempt.endpoint_id == endpoint_id).order_by(WebhookAttempt.id)))

    def until_due(self, endpoint_id: int) -> None:
        """Move the clock to when the endpoint may be tried again."""
        due = self.endpoint(endpoint_id).next_attempt_at
        if due is not None and due > self.clock.now():
            self.clock.set(due)
        self.clock.advance(timedelta(milliseconds=1))


@pytest.fixture
def hooks(committing: sessionmaker[Session], clock: FrozenClock,
          wh_settings: Settings) -> Hooks:
    return Hooks(committing, clock, wh_settings)


Respond = Callable[..., object]
