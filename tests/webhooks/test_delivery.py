"""Signed delivery over real HTTP, ordering, retries, 4xx, Retry-After, disabling, replay."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from ordertrail.db import write_session
from ordertrail.models import OutboxEvent
from ordertrail.webhooks import deliver, service
from ordertrail.webhooks.receiver import Delivery, Receiver
from ordertrail.webhooks.schemas import WebhookUpdate
from tests.webhooks.conftest import Hooks


def test_a_local_receiver_gets_signed_webhooks_it_can_verify(hooks: Hooks,
                                                             receiver: Receiver) -> None:
    endpoint_id, secret = hooks.subscribe(receiver.url, ["order.*"])
    receiver.secret = secret
    (event,) = hooks.emit("order.created", total="99.50")
    assert hooks.deliver() == 1

    (got,) = receiver.deliveries
    assert got.verified is True
    payload = Webhook(secret).verify(got.body, got.headers)  # the library's own check
    assert payload["type"] == "order.created"
    assert payload["data"]["order_no"] == "SO-0" and payload["data"]["total"] == "99.50"
    assert payload["timestamp"].endswith("Z")
    assert got.headers["content-type"] == "application/json"
    assert got.webhook_id == f"msg_{event.id}_{endpoint_id}"
    (msg,) = hooks.messages(endpoint_id)
    assert (msg.state, msg.attempts, msg.delivered_at) == ("delivered", 1, hooks.clock.now())
    (attempt,) = hooks.attempts(endpoint_id)
    assert (attempt.status_code, attempt.trigger, attempt.error) == (204, "auto", None)
    assert attempt.latency_ms >= 0


def test_a_wrong_secret_fails_verification(hooks: Hooks, receiver: Receiver) -> None:
    hooks.subscribe(receiver.url, ["order.created"])
    receiver.secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    hooks.emit("order.created")
    hooks.deliver()
    (got,) = receiver.deliveries
    assert got.verified is False and got.status == 401


def test_each_endpoint_gets_only_the_events_it_subscribed_to(hooks: Hooks,
                                                             receiver: Receiver) -> None:
    exact, _ = hooks.subscribe(receiver.url + "/exact", ["order.created"])
    prefix, _ = hooks.subscribe(receiver.url + "/prefix", ["shipment.*"])
    everything, _ = hooks.subscribe(receiver.url + "/all", ["*"])
    hooks.emit("order.created")
    hooks.emit("order.stage_changed")
    hooks.emit("shipment.status_changed")
    hooks.deliver()
    types = {eid: [m.event_type for m in hooks.messages(eid)]
             for eid in (exact, prefix, everything)}
    assert types == {exact: ["order.created"], prefix: ["shipment.status_changed"],
                     everything: ["order.created", "order.stage_changed",
                                  "shipment.status_changed"]}
    assert sorted(d.path for d in receiver.deliveries) == sorted(
        ["/hooks/exact", "/hooks/prefix", "/hooks/all", "/hooks/all", "/hooks/all"])


def test_fanning_out_the_same_event_twice_queues_it_once(hooks: Hooks,
                                                         receiver: Receiver) -> None:
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.created"])
    (event,) = hooks.emit("order.created")
    with write_session(hooks.factory) as session:
        assert service.fan_out(session, event, hooks.clock.now()) == 1  # a retried job
    assert len(hooks.messages(endpoint_id)) == 1


def test_a_4xx_fails_the_message_without_retry_and_the_next_ones_go_on(
        hooks: Hooks, receiver: Receiver) -> None:
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.created"])
    first = []

    def respond(d: Delivery) -> tuple[int, dict[str, str], bytes] | None:
        if not first:
            first.append(d.webhook_id)
            return 410, {}, b"gone for this one"
        return None

    receiver.respond = respond
    hooks.emit("order.created", 3)
    hooks.deliver()
    msgs = hooks.messages(endpoint_id)
    assert [m.state for m in msgs] == ["failed", "delivered", "delivered"]
    assert msgs[0].next_attempt_at is None and msgs[0].last_error == "HTTP 410"
    attempts = hooks.attempts(endpoint_id)
    assert [a.status_code for a in attempts] == [410, 204, 204]
    assert attempts[0].response_excerpt == "gone for this one"
    hooks.clock.advance(timedelta(days=1))
    assert hooks.deliver() == 0  # never tried again
    assert hooks.endpoint(endpoint_id).failure_streak == 0


@pytest.mark.parametrize("status", [408, 429, 500, 503, None])
def test_retryable_failures_back_off_and_keep_the_order(hooks: Hooks, receiver: Receiver,
                                                        status: int | None) -> None:
    """408, 429, 5xx and no answer at all are retried; later messages wait behind."""
    calls = []

    def respond(d: Delivery) -> tuple[int, dict[str, str], bytes] | None:
        calls.append(d.webhook_id)
        if len(calls) <= 2 and status is not None:
            return status, {}, b"busy"
        return None

    receiver.respond = respond
    url = receiver.url
    if status is None:  # nothing listens there
        dead = Receiver().start()
        url = dead.url
        dead.stop()
    endpoint_id, _ = hooks.subscribe(url, ["order.created"])
    hooks.emit("order.created", 3)

    assert hooks.deliver() == 1  # the head message failed; the others wait
    first, second, third = hooks.messages(endpoint_id)
    assert first.state == "pending" and first.attempts == 1
    assert first.next_attempt_at == hooks.clock.now() + timedelta(seconds=5)
    assert (second.attempts, third.attempts) == (0, 0)
    assert hooks.endpoint(endpoint_id).next_attempt_at == first.next_attempt_at
    assert hooks.deliver() == 0  # not due yet

    hooks.until_due(endpoint_id)
    hooks.deliver()
    first, *_ = hooks.messages(endpoint_id)
    assert first.attempts == 2
    assert first.next_attempt_at == hooks.clock.now() + timedelta(seconds=10)  # doubled

    if status is None:
        with write_session(hooks.factory) as session:  # the receiver comes up
            ep = session.get(service.WebhookEndpoint, endpoint_id)
            ep.url = receiver.url
    hooks.until_due(endpoint_id)
    hooks.deliver()
    assert [m.state for m in hooks.messages(endpoint_id)] == ["delivered"] * 3
    ids = [m.msg_id for m in hooks.messages(endpoint_id)]
    seen = receiver.ids()
    assert seen[-3:] == ids  # in order, the first after its retries
    assert hooks.endpoint(endpoint_id).failure_streak == 0
    errors = [a.error for a in hooks.attempts(endpoint_id)][:2]
    if status is None:
        assert all(e and "Connect" in e for e in errors)
    else:
        assert errors == [f"HTTP {status}"] * 2


def test_retry_after_is_respected(hooks: Hooks, receiver: Receiver) -> None:
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.created"])
    receiver.respond = lambda d: (429, {"Retry-After": "120"}, b"slow down")
    hooks.emit("order.created")
    hooks.deliver()
    (msg,) = hooks.messages(endpoint_id)
    assert msg.next_attempt_at == hooks.clock.now() + timedelta(seconds=120)
    hooks.clock.advance(timedelta(seconds=119))
    assert hooks.deliver() == 0
    hooks.clock.advance(timedelta(seconds=2))
    receiver.respond = None
    assert hooks.deliver() == 1
    assert hooks.messages(endpoint_id)[0].state == "delivered"


def test_backoff_is_capped() -> None:
    assert deliver.backoff(1) == timedelta(seconds=5)
    assert deliver.backoff(4) == timedelta(seconds=40)
    assert deliver.backoff(30) == deliver.BACKOFF_CAP
    assert deliver.backoff(3, retry_after=7) == timedelta(seconds=7)
    assert deliver.backoff(1, retry_after=10**9) == deliver.RETRY_AFTER_MAX


def test_a_run_of_failures_disables_the_endpoint_with_a_notice(hooks: Hooks,
                                                               receiver: Receiver) -> None:
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.*"])
    receiver.respond = lambda d: (500, {}, b"down")
    start = hooks.clock.now()
    hooks.emit("order.created", 2)
    for _ in range(40):
        hooks.deliver()
        if not hooks.endpoint(endpoint_id).enabled:
            break
        hooks.until_due(endpoint_id)
    ep = hooks.endpoint(endpoint_id)
    assert not ep.enabled
    assert ep.failure_streak >= deliver.DISABLE_AFTER_FAILURES
    assert ep.disabled_at is not None and ep.disabled_at - start >= deliver.DISABLE_AFTER
    assert ep.disabled_reason and "failed deliveries in a row" in ep.disabled_reason
    assert len(hooks.attempts(endpoint_id)) == ep.failure_streak
    with hooks.factory() as session:
        (notice,) = session.scalars(select(OutboxEvent).where(
            OutboxEvent.name == "webhook.endpoint_disabled")).all()
    assert notice.payload["endpoint_id"] == endpoint_id
    assert notice.payload["reason"] == ep.disabled_reason

    # Disabled: no delivery, and new events are not queued for it.
    hooks.emit("order.stage_changed")
    hooks.clock.advance(timedelta(days=1))
    assert hooks.deliver() == 0
    assert [m.state for m in hooks.messages(endpoint_id)] == ["pending", "pending"]

    # Enabled again: the streak starts over and the waiting messages go out, in order.
    receiver.respond = None
    with write_session(hooks.factory) as session:
        service.update_endpoint(hooks.ctx(session), endpoint_id,
                                WebhookUpdate(enabled=True), check_address=False)
    assert hooks.endpoint(endpoint_id).failure_streak == 0
    assert hooks.deliver() == 2
    assert [m.state for m in hooks.messages(endpoint_id)] == ["delivered", "delivered"]


def test_the_disabled_notice_reaches_other_subscribers(hooks: Hooks,
                                                       receiver: Receiver) -> None:
    watcher, _ = hooks.subscribe(receiver.url + "/ops", ["webhook.endpoint_disabled"])
    with write_session(hooks.factory) as session:
        assert service.fan_out(session, _event("webhook.endpoint_disabled"),
                               hooks.clock.now()) == 1
    hooks.deliver()
    (d,) = receiver.deliveries
    assert json.loads(d.body)["type"] == "webhook.endpoint_disabled"
    assert hooks.messages(watcher)[0].state == "delivered"


def _event(name: str) -> service.Event:
    from datetime import UTC, datetime

    return service.Event(10**9, name, "webhook_endpoint", "1", {"endpoint_id": 1},
                         datetime(2026, 11, 20, tzinfo=UTC))


def test_replay_sends_again_with_the_same_webhook_id(hooks: Hooks,
                                                     receiver: Receiver) -> None:
    endpoint_id, secret = hooks.subscribe(receiver.url, ["order.created"])
    receiver.secret = secret
    hooks.emit("order.created")
    hooks.deliver()
    (msg,) = hooks.messages(endpoint_id)
    with write_session(hooks.factory) as session:
        service.replay(hooks.ctx(session), endpoint_id, msg.msg_id)
    assert hooks.deliver() == 1
    first, again = receiver.deliveries
    assert first.webhook_id == again.webhook_id == msg.msg_id
    assert again.verified is True
    assert [a.trigger for a in hooks.attempts(endpoint_id)] == ["auto", "replay"]
    (msg,) = hooks.messages(endpoint_id)
    assert (msg.state, msg.attempts) == ("delivered", 2)


def test_replay_of_failed_messages_since_a_time(hooks: Hooks, receiver: Receiver) -> None:
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.created"])
    receiver.respond = lambda d: (400, {}, b"bad")
    hooks.emit("order.created", 3)
    hooks.deliver()
    assert [m.state for m in hooks.messages(endpoint_id)] == ["failed"] * 3
    receiver.respond = None
    with write_session(hooks.factory) as session:
        msgs = service.replay_since(hooks.ctx(session), endpoint_id,
                                    hooks.clock.now() - timedelta(minutes=1))
    assert len(msgs) == 3
    hooks.deliver()
    assert [m.state for m in hooks.messages(endpoint_id)] == ["delivered"] * 3
    assert receiver.ids()[:3] == receiver.ids()[3:]


def test_an_unreachable_endpoint_does_not_hold_up_the_others(hooks: Hooks,
                                                            receiver: Receiver) -> None:
    dead = Receiver().start()
    dead_url = dead.url
    dead.stop()
    broken, _ = hooks.subscribe(dead_url, ["order.created"])
    healthy, _ = hooks.subscribe(receiver.url, ["order.created"])
    hooks.emit("order.created", 5)
    hooks.deliver()
    assert [m.state for m in hooks.messages(healthy)] == ["delivered"] * 5
    assert [m.state for m in hooks.messages(broken)] == ["pending"] * 5
    assert len(hooks.attempts(broken)) == 1


def test_the_worker_fans_out_and_delivers_through_the_outbox(hooks: Hooks,
                                                             receiver: Receiver) -> None:
    """Registered with the job registry: outbox → fan-out consumer → delivery pump."""
    from ordertrail.jobs import registry
    from ordertrail.jobs.worker import drain

    reg = registry.load_all()
    assert "webhooks.deliver" in reg.pumps
    assert {c.name for c in reg.consumers_of("shipment.status_changed")} >= {"webhooks.fanout"}
    endpoint_id, secret = hooks.subscribe(receiver.url, ["order.created", "shipment.*"])
    receiver.secret = secret
    hooks.emit("order.created", 3, fan_out=False)
    hooks.emit("shipment.status_changed", fan_out=False)
    hooks.emit("order.cancelled", fan_out=False)  # not subscribed
    drain(hooks.factory, hooks.clock, hooks.settings)
    msgs = hooks.messages(endpoint_id)
    assert [m.event_type for m in msgs] == ["order.created"] * 3 + ["shipment.status_changed"]
    assert {m.state for m in msgs} == {"delivered"}
    assert receiver.ids() == [m.msg_id for m in msgs]
    assert all(d.verified for d in receiver.deliveries)


def test_a_long_answer_is_cut_to_an_excerpt_and_the_next_delivery_still_goes(
        hooks: Hooks, receiver: Receiver) -> None:
    endpoint_id, _ = hooks.subscribe(receiver.url, ["order.created"])
    long_answer = ("好" * 50_000).encode()
    receiver.respond = lambda d: (200, {"content-type": "text/plain"}, long_answer)
    hooks.emit("order.created", 3)
    assert hooks.deliver() == 3
    assert [m.state for m in hooks.messages(endpoint_id)] == ["delivered"] * 3
    excerpts = [a.response_excerpt or "" for a in hooks.attempts(endpoint_id)]
    assert all(len(e) == deliver.EXCERPT_CHARS and set(e) == {"好"} for e in excerpts)
