"""Carrier pushes over HTTP: signature first, dead letters, unmatched numbers, metrics."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from ordertrail.carrier.generic.signing import sign
from ordertrail.models import TrackingEvent, UnmatchedUpdate, WebhookDeadLetter
from tests.conftest import row_counts
from tests.shipment.test_api import packed, ship, stage

SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy0xMjM0NTY3ODkw"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"generic_webhook_secret": SECRET})


def push(client, updates, secret=SECRET, msg="msg_1", body=None):
    raw = body if body is not None else json.dumps({"updates": updates}).encode()
    headers = {"content-type": "application/json",
               **sign(raw, secret, msg, int(time.time()))}
    return client.post("/api/v1/hooks/generic", content=raw, headers=headers)


def journey(number, *steps):
    return {"tracking_number": number, "courier": "sf", "events": [
        {"occurred_at": at, "status": st, "substatus": sub, "description": text,
         "location": loc} for at, st, sub, text, loc in steps]}


STEPS = [
    ("2026-11-20T09:00:00+08:00", "in_transit", "in_transit.picked_up", "顺丰速运 已收取快件",
     "深圳市"),
    ("2026-11-20T21:00:00+08:00", "in_transit", "in_transit.arrived",
     "快件到达【上海转运中心】", "上海市"),
    ("2026-11-21T08:00:00+08:00", "out_for_delivery", "out_for_delivery.other",
     "快件交给张师傅，正在派送途中", "上海市"),
    ("2026-11-21T11:00:00+08:00", "delivered", "delivered.signed", "已签收，本人签收", "上海市"),
]


def metric(client, outcome) -> float:
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("ordertrail_webhooks_total{") and f'outcome="{outcome}"' in line \
                and 'provider="generic"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_signed_pushes_move_the_order_to_delivered_and_replays_change_nothing(client, people,
                                                                              db):
    no = packed(client, people)
    ship(client, people, no, carrier="sf", tracking_number="SF2000000000001",
         provider="generic")
    assert stage(client, people, no) == "shipped"
    r = push(client, [journey("SF2000000000001", *STEPS[:2])])
    assert r.status_code == 200, r.text
    r = push(client, [journey("SF2000000000001", *STEPS[2:])])
    assert r.status_code == 200
    assert stage(client, people, no) == "delivered"
    before = row_counts(db)
    for _ in range(2):
        assert push(client, [journey("SF2000000000001", *reversed(STEPS))]).status_code == 200
    assert row_counts(db) == before


def test_a_bad_signature_is_401_stores_nothing_and_is_counted(client, people, db):
    no = packed(client, people)
    ship(client, people, no, carrier="sf", tracking_number="SF2000000000002",
         provider="generic")
    before, counted = row_counts(db), metric(client, "bad_signature")
    r = push(client, [journey("SF2000000000002", *STEPS)], secret="whsec_d3JvbmctKmtleQ==")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    # Garbage with a bad signature is a 401 too: nothing is parsed before the signature.
    r = client.post("/api/v1/hooks/generic", content=b"{not json",
                    headers={"webhook-id": "x", "webhook-timestamp": str(int(time.time())),
                             "webhook-signature": "v1,AAAA"})
    assert r.status_code == 401
    r = client.post("/api/v1/hooks/generic", content=b"{}")
    assert r.status_code == 401 and "missing header" in r.json()["detail"]
    assert row_counts(db) == before
    assert metric(client, "bad_signature") == counted + 3


def test_unknown_provider_is_404(client):
    assert client.post("/api/v1/hooks/nope", content=b"{}").status_code == 404


def test_a_malformed_push_is_400_and_kept_for_replay(client, people, db):
    no = packed(client, people)
    ship(client, people, no, carrier="sf", tracking_number="SF2000000000003",
         provider="generic")
    bad = {"updates": [journey("SF2000000000003", *STEPS)]}
    bad["updates"][0]["events"][1]["status"] = "teleported"
    r = push(client, None, body=json.dumps(bad).encode())
    assert r.status_code == 400, r.text
    problem = r.json()
    assert "status" in problem["detail"] and problem["dead_letter_id"]
    assert db.scalar(select(func.count()).select_from(TrackingEvent)) == 0
    dead = client.get("/api/v1/hooks/dead-letters", headers=people.headers("sam")).json()
    assert [d["id"] for d in dead["items"]] == [problem["dead_letter_id"]]
    assert "teleported" in dead["items"][0]["body"]
    # Replaying it as it is fails again and keeps it; after the sender's fix it would pass.
    again = client.post(f"/api/v1/hooks/dead-letters/{problem['dead_letter_id']}/replay",
                        headers=people.headers("sam")).json()
    assert again["ok"] is False
    row = db.get(WebhookDeadLetter, problem["dead_letter_id"])
    row.body = row.body.replace(b"teleported", b"in_transit")
    db.flush()
    fixed = client.post(f"/api/v1/hooks/dead-letters/{problem['dead_letter_id']}/replay",
                        headers=people.headers("sam")).json()
    assert fixed["ok"] is True and fixed["stored"] == 4
    assert stage(client, people, no) == "delivered"
    assert client.get("/api/v1/hooks/dead-letters",
                      headers=people.headers("vera")).status_code == 403


def test_pushes_for_unknown_numbers_wait_for_their_shipment(client, people, db):
    r = push(client, [journey("SF2000000000004", *STEPS[:3])])
    assert r.status_code == 200
    waiting = client.get("/api/v1/hooks/unmatched", headers=people.headers("sam")).json()
    assert [(w["tracking_number"], w["events"]) for w in waiting["items"]] == [
        ("SF2000000000004", 3)]
    no = packed(client, people)
    created = ship(client, people, no, carrier="sf", tracking_number="SF2000000000004",
                   provider="generic")
    assert created.status_code == 201
    shipment = client.get(f"/api/v1/shipments/{created.json()['id']}",
                          headers=people.headers("sam")).json()
    assert (shipment["status"], shipment["event_count"]) == ("out_for_delivery", 3)
    assert db.scalar(select(UnmatchedUpdate.attached_at)) is not None


def test_a_groups_pushes_share_one_ingest_and_a_failing_push_fails_alone(
        committing, engine, clock, settings, monkeypatch):
    from ordertrail.api.commits import GroupCommitter, Job
    from ordertrail.api.deps import AppState
    from ordertrail.carrier.base import CarrierEvent, TrackingUpdate
    from ordertrail.shipment import hooks
    from tests.shipment.conftest import bare_shipment

    with committing() as session:
        for number in ("SF2000000000011", "SF2000000000012"):
            bare_shipment(session, clock, number)
        session.commit()
    calls: list[list[str]] = []
    real = hooks.ingest

    def ingest(ctx, provider, updates, source):
        calls.append([u.tracking_number for u in updates])
        if any(u.tracking_number == "BROKEN" for u in updates):
            raise RuntimeError("cannot store this one")
        return real(ctx, provider, updates, source)

    monkeypatch.setattr(hooks, "ingest", ingest)
    state = AppState(engine=engine, factory=committing, clock=clock, settings=settings)
    at = clock.now()
    jobs = [Job(None, key=("push", "generic"), merge=hooks._Pushes(state, "generic"),
                item=[TrackingUpdate(number, (CarrierEvent(at, "in_transit",
                                                           "in_transit.picked_up", "收件"),))])
            for number in ("SF2000000000011", "BROKEN", "SF2000000000012")]
    retries: list[Job] = []
    GroupCommitter(committing)._run_group(jobs, retries)
    for job in retries:
        GroupCommitter(committing)._run_group([job], [])
    assert jobs[0].future.result() is None and jobs[2].future.result() is None
    with pytest.raises(RuntimeError, match="cannot store"):
        jobs[1].future.result()
    everyone = ["SF2000000000011", "BROKEN", "SF2000000000012"]
    assert calls[:2] == [everyone, everyone]  # one call for the group (again carefully)
    assert sorted(map(tuple, calls[2:])) == [("BROKEN",), ("BROKEN",), ("SF2000000000011",),
                                             ("SF2000000000012",)]
    with committing() as session:
        assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 2
