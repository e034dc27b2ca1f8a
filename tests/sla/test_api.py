"""The alert inbox over HTTP: list with filters, acknowledge, resolve, assign, deadlines."""

from __future__ import annotations

from ordertrail.sla.sweep import sweep
from tests.sla.conftest import retail_order, utc


def _overdue_order(sam, clock, factory, settings):
    no = retail_order(sam)
    clock.set(utc(2026, 11, 20, 4, 1))
    sweep(factory, clock, settings)
    return no


def test_list_filter_and_read_alerts(client, people, sam, clock, factory, settings):
    no = _overdue_order(sam, clock, factory, settings)
    h = people.headers("sam")
    page = client.get(f"/api/v1/alerts?order_no={no}", headers=h).json()
    assert [a["kind"] for a in page["items"]] == ["stage_overdue", "stage_at_risk"]
    only = client.get("/api/v1/alerts?kind=stage_overdue&state=open&mine=true", headers=h)
    assert [a["kind"] for a in only.json()["items"]] == ["stage_overdue"]
    assert client.get("/api/v1/alerts?mine=true", headers=people.headers("wang")
                      ).json()["items"] == []
    first = client.get("/api/v1/alerts?limit=1", headers=h).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = client.get(f"/api/v1/alerts?limit=1&cursor={first['next_cursor']}", headers=h)
    assert rest.json()["items"][0]["id"] < first["items"][0]["id"]
    alert_id = first["items"][0]["id"]
    one = client.get(f"/api/v1/alerts/{alert_id}", headers=h).json()
    assert one["title"]["zh"].startswith("订单") and one["responsible_role"] == "service"


def test_bad_filters_and_ids_are_problems(client, people):
    h = people.headers("sam")
    r = client.get("/api/v1/alerts?state=sleeping", headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith(
        "application/problem+json")
    assert client.get("/api/v1/alerts?kind=nope", headers=h).status_code == 422
    assert client.get("/api/v1/alerts?order_no=SO-NONE", headers=h).status_code == 404
    assert client.get("/api/v1/alerts/999999", headers=h).status_code == 404
    assert client.post("/api/v1/alerts/999999/ack", headers=h).status_code == 404
    assert client.get("/api/v1/alerts/0", headers=h).status_code == 422
    assert client.get("/api/v1/alerts").status_code == 401


def test_ack_resolve_assign_with_roles_and_states(client, people, sam, clock, factory,
                                                   settings):
    no = _overdue_order(sam, clock, factory, settings)
    items = client.get(f"/api/v1/alerts?order_no={no}", headers=people.headers("sam")).json()
    overdue, at_risk = items["items"]
    url = f"/api/v1/alerts/{overdue['id']}"
    assert client.post(f"{url}/ack", headers=people.headers("wang")).status_code == 403
    acked = client.post(f"{url}/ack", headers=people.headers("sam"), json={"note": "on it"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged" and acked.json()["acked_by"] == "sam"
    assert acked.json()["escalate_at"] is None
    assigned = client.post(f"{url}/assign", headers=people.headers("grace"),
                           json={"user": "sam"})
    assert assigned.json()["assignee"] == "sam"
    assert client.post(f"{url}/assign", headers=people.headers("grace"),
                       json={"user": "nobody"}).status_code == 404
    resolved = client.post(f"{url}/resolve", headers=people.headers("sam"),
                           json={"note": "customer called back"})
    assert resolved.json()["state"] == "resolved" and resolved.json()["note"] == (
        "customer called back")
    again = client.post(f"{url}/ack", headers=people.headers("sam"))
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert client.post(f"{url}/resolve", headers=people.headers("sam")).status_code == 409
    assert client.post(f"/api/v1/alerts/{at_risk['id']}/assign", headers=people.headers("sam"),
                       json={"extra": 1}).status_code == 422


def test_order_deadlines(client, people, sam):
    no = retail_order(sam)
    body = client.get(f"/api/v1/orders/{no}/deadlines", headers=people.headers("sam")).json()
    (visit,) = body["visits"]
    assert visit["stage"] == "review" and visit["due_at"] == "2026-11-20T04:00:00Z"
    assert visit["calendar"] == "cn" and visit["target_seconds"] == 7200
    assert client.get("/api/v1/orders/NOPE/deadlines",
                      headers=people.headers("sam")).status_code == 404
