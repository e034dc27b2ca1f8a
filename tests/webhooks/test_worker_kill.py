"""The worker is killed (SIGKILL) in the middle of a webhook backlog and restarted: no message
is lost, none is marked delivered twice, and the receiver sees a message twice only if it was
in flight when the worker died (with the same webhook-id)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from ordertrail.db import write_session
from ordertrail.models import OutboxEvent
from ordertrail.models.webhook import WebhookAttempt, WebhookEndpoint, WebhookMessage
from ordertrail.webhooks import deliver
from ordertrail.webhooks.receiver import Receiver
from tests.webhooks.conftest import Hooks

SCRIPT = str(Path(sys.executable).with_name("ordertrail"))
ROOT = Path(__file__).resolve().parents[2]
PER_ENDPOINT = 300
COMMANDS = {
    # The real worker: outbox → fan-out consumer jobs → messages → the delivery pump.
    "worker": ["worker", "--lease", "2", "--import", "tests.webhooks.short_lease"],
    # The pump alone, on messages queued beforehand.
    "webhooks deliver": ["webhooks", "deliver", "--lease", "2"],
}


def _start(command: str, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ORDERTRAIL_DATABASE_URL": database_url,
           "ORDERTRAIL_WEBHOOKS_ALLOW_PRIVATE": "1", "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen([SCRIPT, *COMMANDS[command]], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_killed_worker_loses_nothing_and_completes_nothing_twice(
        hooks: Hooks, database_url: str, tmp_path: Path, command: str) -> None:
    receiver = Receiver(delay=0.003).start()
    try:
        first, secret = hooks.subscribe(receiver.url + "/a", ["order.created"])
        second, _ = hooks.subscribe(receiver.url + "/b", ["order.*"])
        with write_session(hooks.factory) as session:  # one secret: the receiver checks all
            session.execute(update(WebhookEndpoint).values(secret=secret))
        receiver.secret = secret
        hooks.emit("order.created", PER_ENDPOINT, fan_out=command != "worker")
        log = tmp_path / "worker.log"

        proc = _start(command, database_url, log)
        _wait(lambda: len(receiver.deliveries) >= 150 or proc.poll() is not None, 120,
              "the first deliveries")
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        seen_before_kill = Counter(receiver.ids())
        assert sum(seen_before_kill.values()) >= 150
        with hooks.factory() as session:
            delivered = session.scalar(select(func.count()).where(
                WebhookMessage.state == "delivered"))
        assert delivered is not None and delivered < 2 * PER_ENDPOINT, \
            "the worker finished before it was killed"

        proc = _start(command, database_url, log)
        try:
            def drained() -> bool:
                with hooks.factory() as session:
                    return session.scalar(select(func.count()).where(
                        WebhookMessage.state == "delivered")) == 2 * PER_ENDPOINT

            _wait(drained, 180, "the backlog to drain after the restart")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    finally:
        receiver.stop()

    with hooks.factory() as session:
        msgs = list(session.scalars(select(WebhookMessage).order_by(WebhookMessage.id)))
        successes = Counter(session.scalars(select(WebhookAttempt.message_id).where(
            WebhookAttempt.status_code == 204)))
        unprocessed = session.scalar(select(func.count()).where(
            OutboxEvent.processed_at.is_(None)))
    if command == "worker":
        assert unprocessed == 0  # every event went through the fan-out consumer
    assert len(msgs) == 2 * PER_ENDPOINT  # one message per endpoint and event, no more
    assert {m.state for m in msgs} == {"delivered"}
    # Marked delivered exactly once: one successful attempt row per message.
    assert all(successes[m.id] == 1 for m in msgs), "a message was completed twice"
    # Nothing lost: the receiver saw every message, each signature verified.
    seen = Counter(receiver.ids())
    assert set(seen) == {m.msg_id for m in msgs}
    assert all(d.verified for d in receiver.deliveries)
    # Duplicates only for messages in flight at the kill: seen before it, at most a batch
    # per endpoint, and sent again with the same webhook-id.
    twice = {i for i, n in seen.items() if n > 1}
    assert twice <= set(seen_before_kill)
    assert len(twice) <= 2 * deliver.BATCH
    assert all(n <= 2 for n in seen.values())
    # Order per endpoint: first sightings follow the queue order.
    order = list(dict.fromkeys(receiver.ids()))
    for endpoint_id in (first, second):
        ids = [m.msg_id for m in msgs if m.endpoint_id == endpoint_id]
        wanted = set(ids)
        assert [i for i in order if i in wanted] == ids
    assert "Traceback" not in log.read_text()
