"""The webhook API: subscribe (secret once), list, change, rotate, deliveries, replay, test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ordertrail.api.deps import AppState
from ordertrail.app import create_app
from ordertrail.config import Settings
from ordertrail.kit.clock import FrozenClock
from ordertrail.webhooks import service
from ordertrail.webhooks.receiver import Receiver
from tests.conftest import People, make_people
from tests.webhooks.conftest import Hooks


@pytest.fixture
def api(committing: sessionmaker[Session], engine: Engine, clock: FrozenClock,
        wh_settings: Settings) -> Iterator[TestClient]:
    app = create_app(wh_settings, state=AppState(engine=engine, factory=committing,
                                                 clock=clock, settings=wh_settings))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def folks(committing: sessionmaker[Session], clock: FrozenClock) -> People:
    return make_people(committing, clock)


def _create(api: TestClient, folks: People, url: str, events: list[str],
            who: str = "grace") -> dict:
    resp = api.post("/api/v1/webhooks", headers=folks.headers(who),
                    json={"url": url, "events": events, "description": "ERP"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_creating_a_subscription_returns_its_secret_once(api: TestClient, folks: People,
                                                         receiver: Receiver) -> None:
    created = _create(api, folks, receiver.url, ["order.created", "shipment.*"])
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["order.created", "shipment.*"] and created["enabled"]
    got = api.get(f"/api/v1/webhooks/{created['id']}", headers=folks.headers("grace"))
    assert got.status_code == 200 and "secret" not in got.json()
    listed = api.get("/api/v1/webhooks", headers=folks.headers("root")).json()["items"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]


def test_unknown_event_types_are_refused_listing_the_known_ones(api: TestClient,
                                                                folks: People) -> None:
    resp = api.post("/api/v1/webhooks", headers=folks.headers("grace"),
                    json={"url": "http://127.0.0.1:1/x", "events": ["order.shipped", "foo.*"]})
    assert resp.status_code == 422
    problem = resp.json()
    assert problem["code"] == "unknown_event_type"
    assert "order.shipped" in problem["detail"] and "foo.*" in problem["detail"]
    assert "order.created" in problem["known"] and "alert.opened" in problem["known"]
    empty = api.post("/api/v1/webhooks", headers=folks.headers("grace"),
                     json={"url": "http://127.0.0.1:1/x", "events": []})
    assert empty.status_code == 422


def test_only_admins_and_managers_manage_webhooks(api: TestClient, folks: People) -> None:
    resp = api.post("/api/v1/webhooks", headers=folks.headers("alice"),
                    json={"url": "http://127.0.0.1:1/x", "events": ["order.*"]})
    assert resp.status_code == 403 and resp.json()["code"] == "role_not_allowed"
    assert api.get("/api/v1/webhooks", headers=folks.headers("vera")).status_code == 403
    assert api.get("/api/v1/webhooks").status_code == 401


def test_patch_rotate_delete_and_not_found(api: TestClient, folks: People,
                                           receiver: Receiver) -> None:
    created = _create(api, folks, receiver.url, ["order.*"])
    path = f"/api/v1/webhooks/{created['id']}"
    h = folks.headers("grace")
    off = api.patch(path, headers=h, json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert off.json()["disabled_reason"] == "disabled by grace"
    on = api.patch(path, headers=h, json={"enabled": True, "events": ["alert.*", "*"]})
    assert on.json()["enabled"] is True and on.json()["failure_streak"] == 0
    assert on.json()["events"] == ["alert.*", "*"]
    bad = api.patch(path, headers=h, json={"url": "gopher://x"})
    assert bad.status_code == 422
    rotated = api.post(f"{path}/rotate-secret", headers=h).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert api.delete(path, headers=h).status_code == 204
    missing = api.get(path, headers=h)
    assert missing.status_code == 404 and missing.json()["code"] == "webhook_not_found"


def test_deliveries_replay_and_test_message(api: TestClient, folks: People, hooks: Hooks,
                                           receiver: Receiver) -> None:
    created = _create(api, folks, receiver.url, ["order.*"])
    receiver.secret = created["secret"]
    path = f"/api/v1/webhooks/{created['id']}"
    h = folks.headers("grace")
    hooks.emit("order.created", 2)
    hooks.emit("order.stage_changed")
    queued = api.post(f"{path}/test", headers=h)
    assert queued.status_code == 202 and queued.json()["event_type"] == "webhook.test"
    assert api.get(path, headers=h).json()["pending"] == 4
    hooks.deliver()
    assert all(d.verified for d in receiver.deliveries) and len(receiver.deliveries) == 4

    page = api.get(f"{path}/deliveries", headers=h).json()
    assert [m["state"] for m in page["items"]] == ["delivered"] * 4
    assert page["items"][0]["event_type"] == "webhook.test"  # newest first
    assert page["items"][0]["tries"][0]["status_code"] == 204
    only = api.get(f"{path}/deliveries", headers=h,
                   params={"event_type": "order.created", "limit": 1}).json()
    assert len(only["items"]) == 1 and only["next_before"] is not None
    rest = api.get(f"{path}/deliveries", headers=h,
                   params={"event_type": "order.created", "before": only["next_before"]})
    assert len(rest.json()["items"]) == 1
    assert api.get(f"{path}/deliveries", headers=h,
                   params={"state": "nope"}).status_code == 422

    msg_id = only["items"][0]["msg_id"]
    replayed = api.post(f"{path}/messages/{msg_id}/replay", headers=h)
    assert replayed.status_code == 202 and replayed.json()["state"] == "pending"
    hooks.deliver()
    assert receiver.ids().count(msg_id) == 2
    tries = api.get(f"{path}/deliveries", headers=h,
                    params={"event_type": "order.created", "limit": 1}).json()["items"][0]
    assert [t["trigger"] for t in tries["tries"]] == ["auto", "replay"]
    unknown = api.post(f"{path}/messages/msg_nope/replay", headers=h)
    assert unknown.status_code == 404

    bulk = api.post(f"{path}/replay", headers=h,
                    json={"since": "2026-01-01T00:00:00Z", "state": "delivered"})
    assert bulk.status_code == 202 and bulk.json()["replayed"] == 4


def test_the_test_message_needs_an_enabled_webhook(api: TestClient, folks: People,
                                                   receiver: Receiver) -> None:
    created = _create(api, folks, receiver.url, [service.TEST_EVENT])
    path = f"/api/v1/webhooks/{created['id']}"
    api.patch(path, headers=folks.headers("grace"), json={"enabled": False})
    resp = api.post(f"{path}/test", headers=folks.headers("grace"))
    assert resp.status_code == 409 and resp.json()["code"] == "webhook_disabled"
