"""Idempotency-Key: a retried POST has the effect of one, and answers like the first did."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import order_body, row_counts, run_together

ORDERS = "/api/v1/orders"


def test_a_retried_create_returns_the_first_response_and_creates_one_order(client, people, db):
    headers = people.headers("alice", **{"Idempotency-Key": "import-2026-11-20-0001"})
    before = row_counts(db)
    first = client.post(ORDERS, json=order_body(), headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    after_first = row_counts(db)
    assert after_first["orders"] == before["orders"] + 1

    for _retry in range(2):
        again = client.post(ORDERS, json=order_body(), headers=headers)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
        assert again.json() == first.json()
    assert row_counts(db) == after_first  # no order, timeline row or event more
    listed = client.get(ORDERS, headers=people.headers("vera")).json()["items"]
    assert [o["order_no"] for o in listed] == [first.json()["order_no"]]


def test_a_reused_key_with_a_different_body_is_refused(client, people, db):
    headers = people.headers("alice", **{"Idempotency-Key": "k-1"})
    assert client.post(ORDERS, json=order_body(), headers=headers).status_code == 201
    before = row_counts(db)
    for body in (order_body(priority="high"), order_body(flow="retail")):
        r = client.post(ORDERS, json=body, headers=headers)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["code"] == "idempotency_key_reused"
        assert "Idempotency-Key" in problem["detail"] and "new key" in problem["detail"]
    # The same key on another endpoint is a different request too.
    no = client.get(ORDERS, headers=people.headers("vera")).json()["items"][0]["order_no"]
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "material_check"},
                    headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert row_counts(db) == before


def test_keys_belong_to_their_user(client, people):
    key = {"Idempotency-Key": "same-key"}
    a = client.post(ORDERS, json=order_body(), headers=people.headers("alice", **key))
    g = client.post(ORDERS, json=order_body(), headers=people.headers("grace", **key))
    assert a.status_code == g.status_code == 201
    assert "idempotent-replayed" not in g.headers
    assert a.json()["order_no"] != g.json()["order_no"]
    tl = client.get(f"{ORDERS}/{g.json()['order_no']}/timeline",
                    headers=people.headers("vera")).json()["items"]
    assert tl[0]["actor"] == "grace"


def test_requests_without_a_key_are_not_deduplicated(client, people):
    a = client.post(ORDERS, json=order_body(), headers=people.headers("alice"))
    b = client.post(ORDERS, json=order_body(), headers=people.headers("alice"))
    assert a.json()["order_no"] != b.json()["order_no"]


def test_a_retried_transition_moves_the_order_once(client, people, db):
    no = client.post(ORDERS, json=order_body(), headers=people.headers("alice")).json()[
        "order_no"]
    headers = people.headers("alice", **{"Idempotency-Key": f"advance-{no}"})
    first = client.post(f"{ORDERS}/{no}/transitions", json={"to": "material_check"},
                        headers=headers)
    assert first.status_code == 200 and first.json()["stage"] == "material_check"
    before = row_counts(db)
    again = client.post(f"{ORDERS}/{no}/transitions", json={"to": "material_check"},
                        headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert row_counts(db) == before

    # Even after the order moved on, the retry answers as the first time and changes nothing.
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "production"},
                    headers=people.headers("wang"))
    assert r.status_code == 200
    before = row_counts(db)
    late = client.post(f"{ORDERS}/{no}/transitions", json={"to": "material_check"},
                       headers=headers)
    assert late.status_code == 200 and late.json()["stage"] == "material_check"
    assert row_counts(db) == before
    order = client.get(f"{ORDERS}/{no}", headers=people.headers("vera")).json()
    assert order["stage"] == "production"
    kinds = [i["kind"] for i in client.get(f"{ORDERS}/{no}/timeline",
                                           headers=people.headers("vera")).json()["items"]]
    assert kinds == ["created", "transition", "transition"]

    # Without the key, the same request is refused rather than applied twice.
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "qc"},
                    headers=people.headers("pete"))
    assert r.status_code == 200
    r = client.post(f"{ORDERS}/{no}/transitions", json={"to": "qc"},
                    headers=people.headers("pete"))
    assert r.status_code == 409 and r.json()["code"] == "already_there"


def test_a_refused_request_is_not_remembered(client, people):
    """A 4xx is not stored: after fixing the cause, the same key works."""
    no = client.post(ORDERS, json=order_body(), headers=people.headers("alice")).json()[
        "order_no"]
    headers = people.headers("alice", **{"Idempotency-Key": "hold-1"})
    r = client.post(f"{ORDERS}/{no}/resume", json={}, headers=headers)
    assert r.status_code == 409
    r = client.post(f"{ORDERS}/{no}/hold", json={"note": "wait"}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "on_hold"


def test_approvals_and_edits_are_idempotent_too(client, people, db):
    r = client.post(ORDERS, headers=people.headers("alice"), json=order_body(
        flow="b2b_credit", lines=[{"sku": "X", "name": "X", "qty": 1, "unit_price": "9000"}]))
    no = r.json()["order_no"]
    assert client.post(f"{ORDERS}/{no}/transitions", json={"to": "credit_approval"},
                       headers=people.headers("alice")).status_code == 200
    headers = people.headers("fiona", **{"Idempotency-Key": "approve-once"})
    first = client.post(f"{ORDERS}/{no}/approvals", json={"decision": "approve"},
                        headers=headers)
    assert first.status_code == 200 and first.json()["stage"] == "picking"
    again = client.post(f"{ORDERS}/{no}/approvals", json={"decision": "approve"},
                        headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"

    headers = people.headers("alice", **{"Idempotency-Key": "edit-once"})
    before = row_counts(db)
    replies = [client.patch(f"{ORDERS}/{no}", json={"shipping_fee": "50"}, headers=headers)
               for _ in range(2)]
    assert [r.status_code for r in replies] == [200, 200]
    assert replies[0].json() == replies[1].json() and replies[1].json()["total"] == "9050.00"
    assert replies[1].headers["idempotent-replayed"] == "true"
    assert row_counts(db)["timeline_entries"] == before["timeline_entries"] + 1


def test_duplicates_sent_at_the_same_moment_create_one_order(live_app, live_people,
                                                             committing):
    for attempt in range(4):
        key = f"burst-{attempt}"

        def send(_i, key=key):
            return TestClient(live_app).post(
                ORDERS, json=order_body(), headers=live_people.headers(
                    "alice", **{"Idempotency-Key": key}))

        results = run_together(3, send)
        assert [r.status_code for r in results] == [201] * 3, [r.text for r in results]
        assert len({r.json()["order_no"] for r in results}) == 1
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in results) == 2
    with committing() as session:
        counts = row_counts(session)
    assert counts["orders"] == 4 and counts["idempotency_records"] == 4
    assert counts["timeline_entries"] == 4 and counts["outbox_events"] == 4
